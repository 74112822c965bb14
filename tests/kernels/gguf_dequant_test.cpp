// hark's dequantizers on llama.cpp's own files: every tensor of model-q4_k_m.gguf (quantized by
// llama-quantize) must match the same tensor of model.gguf (its source) to within what its type can carry.
// A scale-packing or bit-order mistake shows up here as an error of tens of percent. Also checks that
// hark's quantizers are as good as llama-quantize's on the same source tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "core/quant.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "testutil/testutil.h"

namespace hark {
namespace {

std::vector<float> dequantize_tensor(const gguf::File& f, const gguf::TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements()));  // [n_elements], rows of ne[0]
  kernels::dequantize_row(t.type, f.tensor_data(t).data(), out.data(), t.n_elements());
  return out;
}

// Relative RMS error of a type against its source, for the N(0, 0.05) weights of the tiny model; the
// derivation is in quant_test.cpp (the same limits, since the error is relative and scale-free).
const std::map<GgmlType, double> kLimit = {
    {GgmlType::F32, 0.0},    {GgmlType::F16, 2.9e-4}, {GgmlType::Q8_0, 0.0062}, {GgmlType::Q6_K, 0.0195},
    {GgmlType::Q5_0, 0.048}, {GgmlType::Q4_K, 0.079}, {GgmlType::Q4_0, 0.097},
};

class LlamaQuantized : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = std::make_unique<gguf::File>(gguf::File::open(test::fixture("gemma4-tiny/model.gguf")));
    q_ = std::make_unique<gguf::File>(gguf::File::open(test::fixture("gemma4-tiny/model-q4_k_m.gguf")));
  }
  std::unique_ptr<gguf::File> src_, q_;
};

TEST_F(LlamaQuantized, EveryTensorDequantizesCloseToItsSource) {
  std::map<GgmlType, int> seen;
  for (const auto& t : q_->tensors()) {
    const gguf::TensorInfo* s = src_->find_tensor(t.name);
    ASSERT_NE(s, nullptr) << t.name;
    ASSERT_EQ(s->ne, t.ne) << t.name;
    ASSERT_TRUE(kLimit.count(t.type)) << t.name << " has unexpected type " << ggml_type_name(t.type);
    const auto a = dequantize_tensor(*src_, *s);
    const auto b = dequantize_tensor(*q_, t);
    const double err = test::rel_rms(a.data(), b.data(), a.size());
    EXPECT_LE(err, kLimit.at(t.type))
        << t.name << " " << ggml_type_name(s->type) << " -> " << ggml_type_name(t.type);
    ++seen[t.type];
  }
  // The fixture README lists these counts; a mismatch means the file is not the one described.
  EXPECT_EQ(seen[GgmlType::Q4_K], 7);
  EXPECT_EQ(seen[GgmlType::Q6_K], 5);
  EXPECT_EQ(seen[GgmlType::Q5_0], 63);
  EXPECT_EQ(seen[GgmlType::F16], 10);
}

// hark's quantizers on the same F32 sources must be as good as llama-quantize's: at most 1 % more error.
// Measured: Q8_0, Q5_0, Q6_K equal to 4 digits; Q4_K 0.3-0.6 % above (its scale search differs in detail).
TEST_F(LlamaQuantized, HarkQuantizersMatchLlamaQuantizeQuality) {
  int checked = 0;
  for (const auto& t : q_->tensors()) {
    const gguf::TensorInfo* s = src_->find_tensor(t.name);
    if (s->type != GgmlType::F32 || t.type == GgmlType::F32) continue;
    const auto a = dequantize_tensor(*src_, *s);
    const auto theirs = dequantize_tensor(*q_, t);
    std::vector<uint8_t> q(ggml_row_size(t.type, t.n_elements()));  // the whole tensor requantized by hark
    std::vector<float> ours(a.size());
    kernels::quantize_row(t.type, a.data(), q.data(), t.n_elements());
    kernels::dequantize_row(t.type, q.data(), ours.data(), t.n_elements());
    const double e_theirs = test::rel_rms(a.data(), theirs.data(), a.size());
    const double e_ours = test::rel_rms(a.data(), ours.data(), a.size());
    EXPECT_LE(e_ours, 1.01 * e_theirs) << t.name << " " << ggml_type_name(t.type);
    ++checked;
  }
  EXPECT_GT(checked, 80);
}

}  // namespace
}  // namespace hark
