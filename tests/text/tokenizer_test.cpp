#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "gguf/gguf.h"
#include "testutil/testutil.h"
#include "text/vocab_tests.h"

namespace hark::text {
namespace {

const Tokenizer& vocab() {
  static const std::unique_ptr<Tokenizer> tok = [] {
    const gguf::File f = gguf::File::open(test::fixture("tokenizer/ggml-vocab-gemma-4.gguf"));
    return std::make_unique<Tokenizer>(Tokenizer::from_gguf(f));
  }();
  return *tok;
}

std::string read_text(const std::string& path) {
  const auto bytes = test::read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Every case of a golden pair must encode to exactly its line of ids (no BOS, special texts not parsed).
void check_golden(const std::string& inp_rel, const std::string& out_rel, size_t expected_cases) {
  const auto inputs = split_vocab_test_inputs(read_text(test::fixture(inp_rel)));
  const auto expected = lines(read_text(test::fixture(out_rel)));
  ASSERT_EQ(inputs.size(), expected_cases);
  ASSERT_EQ(expected.size(), expected_cases);
  size_t failures = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string got = format_vocab_test_ids(vocab().encode(inputs[i], false));
    if (got != expected[i]) {
      ++failures;
      ADD_FAILURE() << "case " << i << " input '" << inputs[i] << "'\n  want " << expected[i] << "\n  got  "
                    << got;
    }
  }
  EXPECT_EQ(failures, 0u);
}

TEST(Tokenizer, LlamaCppGoldens) {
  check_golden("tokenizer/ggml-vocab-gemma-4.gguf.inp", "tokenizer/ggml-vocab-gemma-4.gguf.out", 46);
}

TEST(Tokenizer, HuggingFaceGoldens) {
  check_golden("tokenizer/gemma4-extra.inp", "tokenizer/gemma4-extra.out", 276);
}

TEST(Tokenizer, DecodeInvertsEncodeOnEveryGoldenInput) {
  for (const char* rel : {"tokenizer/ggml-vocab-gemma-4.gguf.inp", "tokenizer/gemma4-extra.inp"}) {
    for (const std::string& s : split_vocab_test_inputs(read_text(test::fixture(rel)))) {
      EXPECT_EQ(vocab().decode(vocab().encode(s, false)), s);
    }
  }
}

TEST(Tokenizer, SpecialTokensAreFoundByText) {
  const Tokenizer& t = vocab();
  EXPECT_EQ(t.n_vocab(), 262144);
  EXPECT_EQ(t.bos(), t.find_special("<bos>"));
  EXPECT_EQ(t.eos(), t.find_special("<eos>"));
  EXPECT_TRUE(t.add_bos());
  EXPECT_TRUE(t.is_eog(t.find_special("<eos>")));
  EXPECT_TRUE(t.is_eog(t.find_special("<turn|>")));
  EXPECT_FALSE(t.is_eog(t.find_special("<|turn>")));
  EXPECT_FALSE(t.is_eog(t.find_special("<|audio>")));
  for (const char* s : {"<|turn>", "<turn|>", "<|audio>", "<|audio|>", "<audio|>", "<|think|>", "<|channel>"})
    EXPECT_EQ(t.token_text(t.find_special(s)), s);
  EXPECT_FALSE(t.find_token("<|no such token|>").has_value());
  try {
    t.find_special("<|no such token|>");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find("<|no such token|>"), std::string::npos);
  }
}

TEST(Tokenizer, ControlTokensNeedParseSpecial) {
  const Tokenizer& t = vocab();
  const int32_t turn = t.find_special("<|turn>");
  const auto parsed = t.encode("<|turn>user", true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed[0], turn);
  EXPECT_EQ(parsed, (std::vector<int32_t>{turn, t.find_special("user")}));
  const auto plain = t.encode("<|turn>user", false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), turn), 0);
  EXPECT_EQ(t.decode(plain), "<|turn>user");
  // User-defined tokens (the channel markers) are cut out even without parse_special, as llama.cpp does.
  const int32_t open = t.find_special("<|channel>");
  EXPECT_EQ(t.encode("a<|channel>b", false)[1], open);
}

TEST(Tokenizer, DecodeHidesControlTokensUnlessAsked) {
  const Tokenizer& t = vocab();
  const auto ids = t.encode("<|turn>model\nHello<turn|>", true);
  EXPECT_EQ(t.decode(ids), "model\nHello");
  EXPECT_EQ(t.decode(ids, true), "<|turn>model\nHello<turn|>");
  EXPECT_EQ(t.token_to_piece(t.find_special("<|turn>")), "<|turn>");
  EXPECT_EQ(t.token_to_piece(t.find_special("\xE2\x96\x81")), " ");
}

TEST(Tokenizer, ByteFallbackForCharactersWithoutToken) {
  const Tokenizer& t = vocab();
  // U+A000 (Yi syllable) has no token: it becomes its three UTF-8 bytes as <0xNN> tokens.
  const std::string s = "\xEA\x80\x80";
  const auto ids = t.encode(s, false);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(t.token_text(ids[0]), "<0xEA>");
  EXPECT_EQ(t.token_text(ids[1]), "<0x80>");
  EXPECT_EQ(t.token_text(ids[2]), "<0x80>");
  EXPECT_EQ(t.token_type(ids[0]), TokenType::kByte);
  EXPECT_EQ(t.decode(ids), s);
}

// Invalid bytes are replaced by U+FFFD before tokenizing, so they cannot swallow the following character.
TEST(Tokenizer, InvalidUtf8InputIsReplaced) {
  const Tokenizer& t = vocab();
  const std::string bad = "ok \xFF\xC3 end \xE2\x96";
  const auto ids = t.encode(bad, false);
  EXPECT_FALSE(ids.empty());
  const std::string back = t.decode(ids);
  EXPECT_EQ(back, "ok \xEF\xBF\xBD\xEF\xBF\xBD end \xEF\xBF\xBD");
}

TEST(Tokenizer, IdsOutsideTheVocabularyAreUserErrors) {
  const Tokenizer& t = vocab();
  for (int32_t id : {-1, t.n_vocab(), 1 << 30}) {
    try {
      t.decode(std::vector<int32_t>{id});
      FAIL() << "expected an error for " << id;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kInvalidArgument);
    }
  }
}

TEST(StreamDetokenizer, NeverSplitsACharacter) {
  const Tokenizer& t = vocab();
  // "▁" (U+2581) written as three byte tokens, then a normal token.
  const std::vector<int32_t> ids = {*t.find_token("<0xE2>"), *t.find_token("<0x96>"), *t.find_token("<0x81>"),
                                    *t.find_token("Hi")};
  StreamDetokenizer d(t);
  EXPECT_EQ(d.push(ids[0]), "");
  EXPECT_EQ(d.push(ids[1]), "");
  EXPECT_EQ(d.push(ids[2]), "\xE2\x96\x81");
  EXPECT_EQ(d.push(ids[3]), "Hi");
  EXPECT_EQ(d.flush(), "");
}

TEST(StreamDetokenizer, ConcatenationEqualsDecode) {
  const Tokenizer& t = vocab();
  for (const std::string& s :
       split_vocab_test_inputs(read_text(test::fixture("tokenizer/gemma4-extra.inp")))) {
    const auto ids = t.encode(s, false);
    StreamDetokenizer d(t);
    std::string streamed;
    for (int32_t id : ids) {
      const std::string piece = d.push(id);
      std::string valid;
      EXPECT_EQ(append_valid_utf8(piece, true, valid), piece.size());
      EXPECT_EQ(valid, piece) << "a push returned invalid UTF-8";
      streamed += piece;
    }
    streamed += d.flush();
    EXPECT_EQ(streamed, t.decode(ids));
  }
}

TEST(StreamDetokenizer, UnfinishedCharacterBecomesReplacementOnFlush) {
  const Tokenizer& t = vocab();
  StreamDetokenizer d(t);
  EXPECT_EQ(d.push(*t.find_token("<0xE2>")), "");
  EXPECT_EQ(d.push(*t.find_token("<0x96>")), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");
  // A byte that can never start a character is replaced at once.
  EXPECT_EQ(d.push(*t.find_token("<0x80>")), "\xEF\xBF\xBD");
}

TEST(Utf8, AppendValidUtf8) {
  std::string out;
  EXPECT_EQ(append_valid_utf8("a\xC3\xA9", false, out), 3u);
  EXPECT_EQ(out, "a\xC3\xA9");
  out.clear();
  EXPECT_EQ(append_valid_utf8("a\xF0\x9F\x98", false, out), 1u);  // emoji missing its last byte
  EXPECT_EQ(out, "a");
  out.clear();
  // Overlong "/" (C0 AF), a surrogate (ED A0 80) and a code point above U+10FFFF (F4 90 80 80) are invalid.
  append_valid_utf8("\xC0\xAF|\xED\xA0\x80|\xF4\x90\x80\x80", true, out);
  EXPECT_EQ(out,
            "\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|"
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Tokenizer, RejectsOtherTokenizerModels) {
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "llama");
  const auto bytes = w.to_bytes();
  const gguf::File f = gguf::File::parse(bytes);
  try {
    Tokenizer::from_gguf(f);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnsupported);
  }
}

TEST(Tokenizer, RejectsMalformedVocabulary) {
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "gemma4");
  gguf::Array toks;
  toks.elem_type = gguf::ValueType::STRING;
  toks.data = std::vector<std::string>{"<pad>", "<eos>", "<bos>"};
  w.set_array("tokenizer.ggml.tokens", toks);
  gguf::Array types;
  types.elem_type = gguf::ValueType::I32;
  types.data = std::vector<int32_t>{3, 3};  // one short
  w.set_array("tokenizer.ggml.token_type", types);
  const auto bytes = w.to_bytes();
  const gguf::File f = gguf::File::parse(bytes);
  try {
    Tokenizer::from_gguf(f);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find("token_type"), std::string::npos);
  }
}

}  // namespace
}  // namespace hark::text
