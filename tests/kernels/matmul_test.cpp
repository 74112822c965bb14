// matmul against a double-precision reference built from the reference conversions: dequantized weights
// times the activations converted exactly as the kernel must convert them. The only legitimate difference
// is float summation order, so the limit is n * eps * sum|w * x| per output.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/quant.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace hark::kernels {
namespace {

struct Problem {
  GgmlType type;
  int64_t n_in, n_out, n_tok;
  std::vector<uint8_t> w;  // [n_out][row bytes]
  std::vector<float> x;    // [n_tok][n_in]
};

Problem make_problem(GgmlType t, int64_t n_in, int64_t n_out, int64_t n_tok, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Problem p{t, n_in, n_out, n_tok, {}, {}};
  std::vector<float> wf(n_in * n_out);  // [n_out][n_in]
  for (auto& f : wf) f = dist(rng);
  p.x.resize(n_in * n_tok);
  for (auto& f : p.x) f = dist(rng);
  const size_t rb = ggml_row_size(t, n_in);
  p.w.resize(rb * n_out);
  for (int64_t o = 0; o < n_out; ++o) quantize_row_ref(t, wf.data() + o * n_in, p.w.data() + o * rb, n_in);
  return p;
}

// Q4_1/Q5_1 dots add m * s per block, where the Q8_1 block's s = d * sum(q) is stored as f16 with the
// unrounded d: ggml uses that s instead of sum(d * q), and so must the reference. Both weight blocks start
// with f16 d, m; the block stride is the row size over the block count.
double q8_1_offset_rounding(GgmlType wt, const uint8_t* w_row, const uint8_t* xq, int64_t n) {
  const BlockQ8_1* b = reinterpret_cast<const BlockQ8_1*>(xq);
  const size_t stride = ggml_type_info(wt).type_size;
  double c = 0;
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    fp16_t m;
    std::memcpy(&m, w_row + i * stride + 2, 2);
    int sum = 0;
    for (int j = 0; j < kQK8_1; ++j) sum += b[i].qs[j];
    c += static_cast<double>(fp16_to_f32(m)) *
         (static_cast<double>(fp16_to_f32(b[i].s)) - static_cast<double>(fp16_to_f32(b[i].d)) * sum);
  }
  return c;
}

// Reference y and the per-output bound n * eps * sum|w * x| (float accumulation of n products).
void reference(const Problem& p, std::vector<float>* y, std::vector<double>* bound) {
  const GgmlType at = activation_type(p.type);
  const size_t rb = ggml_row_size(p.type, p.n_in);
  std::vector<float> wd(p.n_in);            // one dequantized weight row
  std::vector<float> xd(p.n_in * p.n_tok);  // [n_tok][n_in] activations as the kernel sees them
  std::vector<uint8_t> xq(ggml_row_size(at, p.n_in));
  std::vector<std::vector<uint8_t>> xq_all;  // [n_tok] converted activation rows
  for (int64_t t = 0; t < p.n_tok; ++t) {
    quantize_row_ref(at, p.x.data() + t * p.n_in, xq.data(), p.n_in);
    dequantize_row_ref(at, xq.data(), xd.data() + t * p.n_in, p.n_in);
    xq_all.push_back(xq);
  }
  y->assign(p.n_out * p.n_tok, 0.0f);
  bound->assign(p.n_out * p.n_tok, 0.0);
  for (int64_t o = 0; o < p.n_out; ++o) {
    dequantize_row_ref(p.type, p.w.data() + o * rb, wd.data(), p.n_in);
    for (int64_t t = 0; t < p.n_tok; ++t) {
      double s = 0, sa = 0;
      for (int64_t i = 0; i < p.n_in; ++i) {
        const double v = static_cast<double>(wd[i]) * xd[t * p.n_in + i];
        s += v;
        sa += std::fabs(v);
      }
      if (at == GgmlType::Q8_1)
        s += q8_1_offset_rounding(p.type, p.w.data() + o * rb, xq_all[t].data(), p.n_in);
      (*y)[t * p.n_out + o] = static_cast<float>(s);
      // Dequantized values are exact products of f16 scales and small integers only up to one rounding,
      // hence the extra 2 eps per term on top of the summation's n eps.
      (*bound)[t * p.n_out + o] = (static_cast<double>(p.n_in) + 2.0) * FLT_EPSILON * sa;
    }
  }
}

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                           GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K,
                           GgmlType::Q6_K, GgmlType::Q2_K, GgmlType::Q3_K};

void check(Isa isa, GgmlType t, int64_t n_in, int64_t n_out, int64_t n_tok, ThreadPool* pool) {
  const Problem p = make_problem(t, n_in, n_out, n_tok, 42 + static_cast<uint32_t>(t));
  std::vector<float> want;
  std::vector<double> bound;
  reference(p, &want, &bound);
  std::vector<float> got(n_out * n_tok, NAN);
  matmul_with(kernel_table(isa), WeightView{t, p.w.data(), n_in, n_out}, p.x.data(), n_tok, got.data(), pool);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_LE(std::fabs(static_cast<double>(got[i]) - want[i]), bound[i])
        << isa_name(isa) << " " << ggml_type_name(t) << " out " << i % n_out << " tok " << i / n_out;
  }
}

class MatmulIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!cpu_supports(GetParam())) GTEST_SKIP() << isa_name(GetParam()) << " not supported by this CPU";
  }
};

TEST_P(MatmulIsa, MatvecEveryType) {
  for (GgmlType t : kTypes) check(GetParam(), t, 512, 37, 1, nullptr);
}

TEST_P(MatmulIsa, ManyTokensEveryTypeThreaded) {
  ThreadPool pool(3);
  for (GgmlType t : kTypes) check(GetParam(), t, 768, 53, 11, &pool);
}

// Float rows whose length leaves SIMD tails, through the multi-token tiles and their leftover rows.
TEST_P(MatmulIsa, FloatTailsManyTokens) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) check(GetParam(), t, 100, 23, 7, nullptr);
}

// Rows long enough that the tokens are walked in several L2-sized chunks (F32: 32 per chunk at 4096 inputs;
// Q4_K: 56 per chunk at 8192).
TEST_P(MatmulIsa, TokenChunks) {
  ThreadPool pool(2);
  check(GetParam(), GgmlType::F32, 4096, 20, 70, &pool);
  check(GetParam(), GgmlType::Q4_K, 8192, 20, 70, &pool);
}

// Enough tokens for the quantized GEMMs (kQGemmMinTokens), with token and output counts that leave partial
// tiles, several row groups per thread and rows of several blocks.
TEST_P(MatmulIsa, QuantGemmShapes) {
  ThreadPool pool(3);
  for (GgmlType t : kTypes) check(GetParam(), t, 768, 53, kQGemmMinTokens, &pool);
  check(GetParam(), GgmlType::Q4_K, 1024, 100, 77, &pool);
  check(GetParam(), GgmlType::Q4_K, 2048, 32, 48, nullptr);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, MatmulIsa,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           return std::string(isa_name(p.param));
                         });

TEST(Matmul, ActivationTypesFollowGgml) {
  EXPECT_EQ(activation_type(GgmlType::F16), GgmlType::F16);
  EXPECT_EQ(activation_type(GgmlType::BF16), GgmlType::BF16);
  EXPECT_EQ(activation_type(GgmlType::Q5_0), GgmlType::Q8_0);
  EXPECT_EQ(activation_type(GgmlType::Q5_1), GgmlType::Q8_1);
  EXPECT_EQ(activation_type(GgmlType::Q6_K), GgmlType::Q8_K);
}

TEST(Matmul, RejectsBadShapesAndTypes) {
  std::vector<uint8_t> w(4096);
  std::vector<float> x(512), y(512);
  EXPECT_THROW(matmul(WeightView{GgmlType::Q4_K, w.data(), 100, 2}, x.data(), 1, y.data(), nullptr), Error);
  EXPECT_THROW(matmul(WeightView{GgmlType::IQ4_NL, w.data(), 32, 2}, x.data(), 1, y.data(), nullptr), Error);
}

// The active ISA's matmul agrees with the reference too (what the model code calls).
TEST(Matmul, ActiveIsaMatchesReference) {
  ThreadPool pool(2);
  check(active_isa(), GgmlType::Q4_K, 1024, 40, 3, &pool);
}

}  // namespace
}  // namespace hark::kernels
