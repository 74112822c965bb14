// local_attend (one query of the audio encoder's local attention) on every ISA this CPU runs, the scalar
// twin included, against the same attention in double: head sizes with SIMD tails (1, 17, 128, 40), 1 to 64
// keys (a partial and several 16-key blocks), a soft-cap that rarely binds (50) and one that saturates
// most scores (2), and rows ld floats apart with the keys walking backwards from the query.
// Limit: each score is a float sum of 2d products plus one add, within 2 (d + 4) eps (sum|q k_j| +
// sum|q rel_j|) of the exact one; the soft-cap adds 4 ulp of cap (tanh' <= 1). A score error delta moves
// every softmax weight by at most 2 delta (relative) besides the exp's 4 ulp and the normalising sum's
// (n + 4) eps, so each output is within (2 delta_max + (n + 12) eps) sum_j w_j |v_j| plus the d-term
// float sums' 2 (n + 4) eps sum_j w_j |v_j|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace hark::kernels {
namespace {

struct Case {
  int64_t d, ld;
  int n_keys;
  float cap, scale;
};

class LocalAttend : public ::testing::TestWithParam<Isa> {};

TEST_P(LocalAttend, MatchesDoubleAttention) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& table = kernel_table(isa);
  std::mt19937 rng(31);
  const Case cases[] = {{128, 1024, 12, 50.0f, 1.0f}, {128, 1024, 12, 50.0f, 0.1f},
                        {128, 1024, 1, 50.0f, 1.0f},  {17, 40, 16, 50.0f, 2.0f},
                        {17, 40, 17, 2.0f, 1.0f},     {1, 3, 64, 50.0f, 5.0f},
                        {40, 40, 33, 2.0f, 0.5f},     {128, 1024, 64, 50.0f, 3.0f}};
  for (const Case& c : cases) {
    std::normal_distribution<float> dist(0.0f, c.scale);
    // Rows 0 .. n_keys - 1; the query is the last row, key j is row n_keys - 1 - j; rel row j is row j.
    const int64_t rows = c.n_keys;
    std::vector<float> q(static_cast<size_t>(rows * c.ld)), k(q.size()), v(q.size()), rel(q.size());
    for (auto* a : {&q, &k, &v, &rel})
      for (float& x : *a) x = dist(rng);
    const int64_t last = (rows - 1) * c.ld;
    std::vector<float> got(static_cast<size_t>(c.d), NAN);
    table.local_attend(q.data() + last, k.data() + last, v.data() + last, rel.data(), c.ld, c.n_keys, c.d,
                       c.cap, got.data());

    std::vector<double> s(static_cast<size_t>(c.n_keys)), w(s.size());
    double delta = 0.0;
    for (int j = 0; j < c.n_keys; ++j) {
      const float* kj = k.data() + last - j * c.ld;
      const float* rj = rel.data() + j * c.ld;
      double x = 0.0, mag = 0.0;
      for (int64_t i = 0; i < c.d; ++i) {
        const double qi = q[static_cast<size_t>(last + i)];
        x += qi * kj[i] + qi * rj[i];
        mag += std::fabs(qi * kj[i]) + std::fabs(qi * rj[i]);
      }
      s[j] = c.cap * std::tanh(x / c.cap);
      delta = std::max(delta, 2.0 * (c.d + 4) * FLT_EPSILON * mag + 4.0 * FLT_EPSILON * c.cap);
    }
    const double mx = *std::max_element(s.begin(), s.end());
    double sum = 0.0;
    for (int j = 0; j < c.n_keys; ++j) sum += (w[j] = std::exp(s[j] - mx));
    for (double& x : w) x /= sum;
    const double rel_err = 2.0 * delta + (c.n_keys + 12) * FLT_EPSILON + 2.0 * (c.n_keys + 4) * FLT_EPSILON;
    for (int64_t i = 0; i < c.d; ++i) {
      double want = 0.0, mag = 0.0;
      for (int j = 0; j < c.n_keys; ++j) {
        const double vj = v[static_cast<size_t>(last - j * c.ld + i)];
        want += w[j] * vj;
        mag += w[j] * std::fabs(vj);
      }
      ASSERT_LE(std::fabs(got[i] - want), rel_err * mag)
          << isa_name(isa) << " d=" << c.d << " keys=" << c.n_keys << " cap=" << c.cap << " i=" << i;
    }
  }
}

TEST(LocalAttendErrors, KeyCountsOutsideOneTo64AndEmptyRowsAreInvalidArgument) {
  std::vector<float> rows(static_cast<size_t>(65 * 8), 0.5f), out(8);
  const float* last = rows.data() + 64 * 8;
  auto call = [&](int n_keys, int64_t d) {
    local_attend(last, last, last, rows.data(), 8, n_keys, d, 50.0f, out.data());
  };
  EXPECT_THROW(call(0, 8), Error);
  EXPECT_THROW(call(kMaxLocalKeys + 1, 8), Error);
  EXPECT_THROW(call(12, 0), Error);
  EXPECT_NO_THROW(call(kMaxLocalKeys, 8));
  // Equal keys and values: every weight is 1/64, so the output is the value row.
  for (float x : out) EXPECT_FLOAT_EQ(x, 0.5f);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, LocalAttend,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           return std::string(isa_name(p.param));
                         });

}  // namespace
}  // namespace hark::kernels
