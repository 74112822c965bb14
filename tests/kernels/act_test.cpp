// The SIMD silu and GLU gate against their scalar twins (std::exp), on every ISA this CPU runs: random
// values over the range where exp matters, values past the clamp (+-87) and +-0, with lengths that leave
// SIMD tails. Limit: 4 ulp of the result (the Taylor truncation is 1.2e-7 relative, the reduction, the
// polynomial and the division round a few times; 2 ulp is exceeded, e.g. silu(-5.2) is off by 2.6 ulp), or
// 1e-35 absolute where the exact result is below float's normal range (past the +-87 clamp).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"

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

INSTANTIATE_TEST_SUITE_P(AllIsas, Act, ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           return std::string(isa_name(p.param));
                         });

}  // namespace
}  // namespace hark::kernels
