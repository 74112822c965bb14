// Black-box tests of `hark inspect` on llama.cpp's files and on corrupt input.
#include <gtest/gtest.h>

#include <regex>

#include "gguf/gguf.h"
#include "testutil/testutil.h"

namespace hark {
namespace {

std::string inspect(const std::string& path, int* status) {
  auto r = test::run_command(test::hark_binary() + " inspect '" + path + "'");
  *status = r.status;
  return r.output;
}

TEST(Inspect, ListsEveryTensorOfEveryFixture) {
  for (const char* rel :
       {"gemma4-tiny/model.gguf", "gemma4-tiny/model-q4_k_m.gguf", "gemma4-tiny/mmproj.gguf",
        "tokenizer/ggml-vocab-gemma-4.gguf", "gemma4-tiny/golden-jfk_x3.gguf"}) {
    int status = -1;
    const std::string out = inspect(test::fixture(rel), &status);
    ASSERT_EQ(status, 0) << rel << "\n" << out;
    const gguf::File f = gguf::File::open(test::fixture(rel));
    EXPECT_NE(out.find(std::to_string(f.tensors().size()) + " tensors"), std::string::npos) << rel;
    for (const auto& t : f.tensors()) {
      std::string shape;
      for (size_t i = 0; i < t.ne.size(); ++i) shape += (i ? " x " : "") + std::to_string(t.ne[i]);
      const std::regex row("\\s" + t.name + "\\s+" + std::string(ggml_type_name(t.type)) + "\\s+" + shape +
                           "\\s+" + std::to_string(t.n_bytes) + "\\n");
      EXPECT_TRUE(std::regex_search(out, row)) << rel << ": " << t.name;
    }
  }
}

TEST(Inspect, ShowsWhatLlamaCppSees) {
  int status = -1;
  const std::string out = inspect(test::fixture("gemma4-tiny/model-q4_k_m.gguf"), &status);
  ASSERT_EQ(status, 0);
  // Types and shapes from ../shared/fixtures/README.md (llama-quantize's output).
  EXPECT_NE(out.find("general.architecture"), std::string::npos);
  EXPECT_TRUE(std::regex_search(out, std::regex("per_layer_token_embd.weight\\s+Q4_0\\s+160 x 262144")));
  EXPECT_TRUE(std::regex_search(out, std::regex("token_embd.weight\\s+Q8_0\\s+64 x 262144")));
  EXPECT_TRUE(std::regex_search(out, std::regex("blk.4.attn_output.weight\\s+Q4_K")));
  EXPECT_TRUE(std::regex_search(out, std::regex("rope_freqs.weight\\s+F32\\s+64\\s")));
  const gguf::File f = gguf::File::open(test::fixture("gemma4-tiny/model-q4_k_m.gguf"));
  std::map<GgmlType, int> counts;
  for (const auto& t : f.tensors()) counts[t.type]++;
  EXPECT_EQ(counts[GgmlType::F32], 84);
  EXPECT_EQ(counts[GgmlType::Q5_0], 63);
  EXPECT_EQ(counts[GgmlType::F16], 10);
  EXPECT_EQ(counts[GgmlType::Q4_K], 7);
  EXPECT_EQ(counts[GgmlType::Q6_K], 5);
  EXPECT_EQ(counts[GgmlType::Q8_0], 6);
  EXPECT_EQ(counts[GgmlType::Q4_0], 1);
}

TEST(Inspect, CorruptFilesGiveOneLineReasonAndNonZeroExit) {
  const std::string dir = test::temp_dir();
  const auto good = test::read_file(test::fixture("gemma4-tiny/mmproj.gguf"));
  struct Case {
    std::string name;
    std::vector<uint8_t> bytes;
  };
  std::vector<Case> cases = {
      {"empty.gguf", {}},
      {"magic.gguf", {'G', 'G', 'U', 'X', 3, 0, 0, 0}},
      {"cut.gguf", std::vector<uint8_t>(good.begin(), good.begin() + 5000)},
      {"cut_data.gguf", std::vector<uint8_t>(good.begin(), good.end() - 100)},
  };
  for (const auto& c : cases) {
    const std::string path = dir + "/" + c.name;
    test::write_file(path, c.bytes.data(), c.bytes.size());
    auto r = test::run_command(test::hark_binary() + " inspect " + path);
    EXPECT_EQ(r.status, 1) << c.name << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_EQ(r.output.rfind("hark: error: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find("offset"), std::string::npos) << r.output;
  }
  auto missing = test::run_command(test::hark_binary() + " inspect " + dir + "/nope.gguf");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("nope.gguf"), std::string::npos);
}

}  // namespace
}  // namespace hark
