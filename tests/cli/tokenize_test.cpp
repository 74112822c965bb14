// Black-box: `hark tokenize` reproduces the tokenizer goldens byte for byte.
#include <gtest/gtest.h>

#include "testutil/testutil.h"

namespace hark {
namespace {

std::string read_text(const std::string& path) {
  const auto bytes = test::read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

void expect_matches_out(const std::string& inp, const std::string& out) {
  const std::string dir = test::temp_dir();
  const std::string got_path = dir + "/got.out";
  const auto r = test::run_command(test::hark_binary() + " tokenize --vocab '" +
                                   test::fixture("tokenizer/ggml-vocab-gemma-4.gguf") + "' --inp '" +
                                   test::fixture(inp) + "' > '" + got_path + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string got = read_text(got_path);
  const std::string want = read_text(test::fixture(out));
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "hark tokenize output differs from " << out;
}

TEST(CliTokenize, LlamaCppGoldenByteForByte) {
  expect_matches_out("tokenizer/ggml-vocab-gemma-4.gguf.inp", "tokenizer/ggml-vocab-gemma-4.gguf.out");
}

TEST(CliTokenize, HuggingFaceGoldenByteForByte) {
  expect_matches_out("tokenizer/gemma4-extra.inp", "tokenizer/gemma4-extra.out");
}

TEST(CliTokenize, TextWithSpecialTokens) {
  const auto r = test::run_command(test::hark_binary() + " tokenize --vocab '" +
                                   test::fixture("tokenizer/ggml-vocab-gemma-4.gguf") +
                                   "' --bos --parse-special --text '<|turn>user\nHi<turn|>' 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "2 105 2364 107 10979 106\n");
}

TEST(CliTokenize, MissingFileIsAClearError) {
  const auto r = test::run_command(test::hark_binary() + " tokenize --vocab /nonexistent.gguf --text hi");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("nonexistent"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hark
