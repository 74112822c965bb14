// libFuzzer target for the tokenizer and the text helpers that see user text: any bytes must encode without
// crashing, decode back to the same (sanitized) text, and stream out as valid UTF-8.
// Uses the real Gemma 4 vocabulary from $HARK_SHARED_DIR (default ../shared)/fixtures/tokenizer.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/error.h"
#include "gguf/gguf.h"
#include "text/chat_prompt.h"
#include "text/tokenizer.h"

namespace {

std::unique_ptr<hark::text::Tokenizer> g_tok;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("HARK_SHARED_DIR");
  const std::string path =
      std::string(env ? env : "../shared") + "/fixtures/tokenizer/ggml-vocab-gemma-4.gguf";
  try {
    const auto file = hark::gguf::File::open(path);
    g_tok = std::make_unique<hark::text::Tokenizer>(hark::text::Tokenizer::from_gguf(file));
  } catch (const hark::Error& e) {
    std::fprintf(stderr, "text_fuzz: cannot load the vocabulary (%s); set HARK_SHARED_DIR\n", e.what());
    std::exit(1);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hark::text;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string valid;
  append_valid_utf8(input, true, valid);
  // "▁" is the tokenizer's space, so it decodes as a space.
  const std::string expected = replace_all(valid, "\xE2\x96\x81", " ");
  for (bool parse_special : {false, true}) {
    const auto ids = g_tok->encode(input, parse_special);
    check(g_tok->decode(ids, true) == expected);
  }

  // Arbitrary id sequences stream out as valid UTF-8 that equals decode().
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 3 <= size; i += 3)
    ids.push_back(static_cast<int32_t>((data[i] | data[i + 1] << 8 | data[i + 2] << 16) % g_tok->n_vocab()));
  StreamDetokenizer stream(*g_tok);
  std::string streamed;
  for (int32_t id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  check(streamed == g_tok->decode(ids));

  ThinkingFilter filter;
  std::string filtered;
  for (size_t i = 0; i < valid.size(); i += 5) filtered += filter.push(std::string_view(valid).substr(i, 5));
  filtered += filter.flush();
  check(filtered == strip_thinking(valid));
  return 0;
}
