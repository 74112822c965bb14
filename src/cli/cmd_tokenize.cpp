// `hark tokenize --vocab FILE.gguf (--inp X.inp | --text STR)`: token ids of Gemma 4 text. With --inp the
// output has llama.cpp's tokenizer-golden `.out` format (one line of ids per input, no BOS), so it can be
// compared byte for byte with `<vocab>.gguf.out`.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "text/tokenizer.h"
#include "text/vocab_tests.h"

namespace hark::cli {
namespace {

struct TokenizeArgs {
  std::string vocab;
  std::string inp;
  std::string text;
  bool parse_special = false;
  bool bos = false;
  bool pieces = false;
};

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(Errc::kNotFound, "cannot open '" + path + "'");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw Error(Errc::kIo, "cannot read '" + path + "'");
  return s;
}

void print_line(const text::Tokenizer& tok, const std::vector<int32_t>& ids, bool pieces) {
  std::string line = text::format_vocab_test_ids(ids);
  if (pieces) {
    line.clear();
    for (int32_t id : ids) line += std::to_string(id) + " '" + tok.token_text(id) + "'\n";
  } else {
    line += '\n';
  }
  std::fwrite(line.data(), 1, line.size(), stdout);
}

int run_tokenize(const TokenizeArgs& a) {
  if (a.inp.empty() == a.text.empty())
    throw Error(Errc::kInvalidArgument, "give exactly one of --inp and --text");
  const gguf::File f = gguf::File::open(a.vocab);
  const text::Tokenizer tok = text::Tokenizer::from_gguf(f);
  const std::vector<std::string> inputs =
      a.inp.empty() ? std::vector<std::string>{a.text} : text::split_vocab_test_inputs(read_all(a.inp));
  for (const std::string& s : inputs) {
    std::vector<int32_t> ids;
    if (a.bos) ids.push_back(tok.bos());
    const auto body = tok.encode(s, a.parse_special);
    ids.insert(ids.end(), body.begin(), body.end());
    print_line(tok, ids, a.pieces);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

const Command kTokenize(
    "tokenize", "Print the Gemma 4 token ids of text (llama.cpp .inp/.out format)", [](CLI::App& sub) {
      auto a = std::make_shared<TokenizeArgs>();
      sub.add_option("--vocab", a->vocab, "GGUF file with a tokenizer (model or vocab-only)")->required();
      sub.add_option("--inp", a->inp, "Inputs separated by '__ggml_vocab_test__' lines");
      sub.add_option("--text", a->text, "One input given on the command line");
      sub.add_flag("--parse-special", a->parse_special,
                   "Turn special-token texts such as <|turn> into their tokens");
      sub.add_flag("--bos", a->bos, "Start every line with BOS");
      sub.add_flag("--pieces", a->pieces, "Print one 'id 'text'' line per token instead");
      return [a] { return run_tokenize(*a); };
    });

}  // namespace
}  // namespace hark::cli
