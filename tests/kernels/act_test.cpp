// The SIMD silu, GLU gate and soft-cap against their scalar twins (std::exp, std::tanh), on every ISA this
// CPU runs: random values over the range where exp matters, values past the clamp (+-87) and +-0, with
// lengths that leave SIMD tails. Limit: 4 ulp of the result (the Taylor truncation is 1.2e-7 relative, the
// reduction, the polynomial and the division round a few times; 2 ulp is exceeded, e.g. silu(-5.2) is off by
// 2.6 ulp), or 1e-35 absolute where the exact result is below float's normal range (past the +-87 clamp).
// The GELU gate looks up the same F16 table on every ISA, so it must match bit for bit. RMS-norm: below.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace hark::kernels {
namespace {

bool close(float got, float want) {
  return std::fabs(static_cast<double>(got) - want) <= 4.0 * FLT_EPSILON * std::fabs(want) + 1e-35;
}

std::vector<float> inputs(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> wide(-100.0f, 100.0f), narrow(-8.0f, 8.0f);
  const float edges[] = {0.0f, -0.0f, 87.0f, -87.0f, 88.5f, -88.5f, 1e-30f, -1e-30f, 200.0f, -200.0f};
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = i % 3 == 0 ? wide(rng) : narrow(rng);
  for (int64_t i = 0; i < n && i < 10; ++i) x[i * 7 % n] = edges[i];
  return x;
}

class Act : public ::testing::TestWithParam<Isa> {};

TEST_P(Act, SiluAndGluMatchScalar) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& simd = kernel_table(isa);
  const KernelTable& ref = kernel_table(Isa::kScalar);
  std::mt19937 rng(8);
  for (int64_t n : {1, 15, 16, 17, 1000, 4099}) {
    const std::vector<float> a = inputs(n, rng), b = inputs(n, rng);
    std::vector<float> got(a.size()), want(a.size());
    simd.silu(a.data(), got.data(), n);
    ref.silu(a.data(), want.data(), n);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_TRUE(close(got[i], want[i])) << "silu(" << a[i] << ") = " << got[i] << " want " << want[i];
    simd.glu(a.data(), b.data(), got.data(), n);
    ref.glu(a.data(), b.data(), want.data(), n);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_TRUE(close(got[i], want[i]))
          << "glu(" << a[i] << ", " << b[i] << ") = " << got[i] << " want " << want[i];
    // In place, as the encoder calls it.
    std::vector<float> inplace = a;
    simd.silu(inplace.data(), inplace.data(), n);
    simd.silu(a.data(), got.data(), n);
    ASSERT_EQ(inplace, got);
  }
}

TEST_P(Act, GeluMulIsBitExact) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  // Every F16 value (NaNs aside), the clamps at +-10 and their neighbours, and random floats between
  // F16 values (rounding), with a multiplier that is not 1.
  std::vector<float> g;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float x = fp16_to_f32(static_cast<fp16_t>(h));
    if (!std::isnan(x)) g.push_back(x);
  }
  const size_t edges = g.size();
  for (float x : {10.0f, -10.0f, 9.999999f, -9.999999f, 10.000001f, -10.000001f}) g.push_back(x);
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> d(-12.0f, 12.0f);
  for (int i = 0; i < 5001; ++i) g.push_back(d(rng));
  std::vector<float> u(g.size());
  for (auto& v : u) v = d(rng);
  std::vector<float> got(g.size()), want(g.size());
  kernel_table(isa).gelu_mul(g.data(), u.data(), got.data(), static_cast<int64_t>(g.size()));
  kernel_table(Isa::kScalar).gelu_mul(g.data(), u.data(), want.data(), static_cast<int64_t>(g.size()));
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
        << "gelu(" << g[i] << ") * " << u[i] << " = " << got[i] << " want " << want[i];
  EXPECT_EQ(want[edges], 10.0f * u[edges]);  // the clamps, not the table: gelu(10) = 10, gelu(-10) = 0
  EXPECT_EQ(want[edges + 1], 0.0f);
}

TEST_P(Act, SoftcapMatchesScalar) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  std::mt19937 rng(10);
  for (int64_t n : {1, 15, 16, 17, 4099}) {
    std::vector<float> x = inputs(n, rng);
    for (int64_t i = 0; i < n; i += 5) x[i] *= 1e-3f;  // where tanh is its Taylor series
    for (int64_t i = 1; i < n; i += 7) x[i] = 7.5f * (i % 2 ? 1.0f : -1.0f);  // tanh's two branches meet
    std::vector<float> got = x, want = x;
    kernel_table(isa).softcap(got.data(), n, 30.0f);
    kernel_table(Isa::kScalar).softcap(want.data(), n, 30.0f);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_TRUE(close(got[i], want[i])) << "softcap(" << x[i] << ") = " << got[i] << " want " << want[i];
  }
}

// log-sum-exp over logits as the LM head gives them (soft-capped to +-30), with ties for the largest,
// -inf entries and values so far below the largest that their terms vanish: within 2 ulp of the scalar
// std::exp form (each SIMD exp is within ~1e-7 relative, the sum in double, so the log moves by far less
// than an ulp of the result; equal on this data). All -inf gives -inf.
TEST_P(Act, LogSumExpMatchesScalar) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  std::mt19937 rng(12);
  std::normal_distribution<float> d(0.0f, 8.0f);
  for (int64_t n : {1, 15, 16, 17, 4099, 262144}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = std::clamp(d(rng), -30.0f, 30.0f);
    for (int64_t i = 3; i < n; i += 97) x[static_cast<size_t>(i)] = -INFINITY;
    for (int64_t i = 5; i < n; i += 211) x[static_cast<size_t>(i)] = -200.0f;
    if (n > 20) x[7] = x[19] = 31.0f;  // a tied largest
    const float want = kernel_table(Isa::kScalar).log_sum_exp(x.data(), n);
    const float got = kernel_table(isa).log_sum_exp(x.data(), n);
    ASSERT_TRUE(std::isfinite(want)) << n;
    EXPECT_NEAR(got, want, 2.0f * FLT_EPSILON * std::max(1.0f, std::fabs(want))) << "n " << n;
  }
  const std::vector<float> none(33, -INFINITY);
  EXPECT_EQ(kernel_table(isa).log_sum_exp(none.data(), 33), -INFINITY);
  const float one = 2.5f;
  EXPECT_EQ(kernel_table(isa).log_sum_exp(&one, 1), 2.5f);
}

// RMS-norm: the same double sum in another order, then the same float operations, so the results agree to
// a rounding of the mean (in practice bit for bit); with and without weights, in place, values from 1e-30 to
// 200 in one row.
TEST_P(Act, RmsNormMatchesScalar) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  std::mt19937 rng(11);
  for (int64_t n : {1, 15, 16, 17, 256, 1536, 4099}) {
    const std::vector<float> x = inputs(n, rng), w = inputs(n, rng);
    for (const float* wp : {w.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> got(x.size()), want(x.size());
      kernel_table(isa).rms_norm(x.data(), wp, got.data(), n, 1e-6f);
      kernel_table(Isa::kScalar).rms_norm(x.data(), wp, want.data(), n, 1e-6f);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_LE(std::fabs(got[i] - want[i]), 2.0f * FLT_EPSILON * std::fabs(want[i]))
            << "n " << n << " i " << i;
      std::vector<float> inplace = x;
      kernel_table(isa).rms_norm(inplace.data(), wp, inplace.data(), n, 1e-6f);
      ASSERT_EQ(inplace, got);
    }
  }
}

// The pool driver splits rows, never a row: the result is the row kernel's, whatever the split; a constant
// row c normalises to c / sqrt(c^2 + eps).
TEST(RmsNorm, RowsSplitOverThePool) {
  std::mt19937 rng(12);
  constexpr int64_t kRows = 37, kN = 640;
  std::vector<float> x(kRows * kN), w(kN);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (auto& v : x) v = dist(rng);
  for (auto& v : w) v = dist(rng);
  std::vector<float> want(x.size()), got(x.size());
  for (int64_t r = 0; r < kRows; ++r)
    active_kernels().rms_norm(x.data() + r * kN, w.data(), want.data() + r * kN, kN, 1e-6f);
  ThreadPool pool(3);
  rms_norm(x.data(), w.data(), got.data(), kRows, kN, 1e-6f, &pool);
  EXPECT_EQ(got, want);
  std::vector<float> c(kN, 2.0f);
  rms_norm(c.data(), nullptr, c.data(), 1, kN, 1e-6f, nullptr);
  for (float v : c) EXPECT_NEAR(v, 2.0f / std::sqrt(4.0f + 1e-6f), 1e-6f);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Act, ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           return std::string(isa_name(p.param));
                         });

}  // namespace
}  // namespace hark::kernels
