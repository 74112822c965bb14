#include "text/tokenizer.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace hark::text
