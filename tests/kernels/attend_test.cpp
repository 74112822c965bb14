// attend_f16 (a decode step's attention over F16 cache rows) on every ISA this CPU runs against the scalar
// twin, over head sizes with and without a SIMD path (multiples of 16 up to 1024; 24 and 1040 fall back),
// 1, 3, 4 and 9 query rows (groups of four and remainders), windows of 1 to 300 keys split anywhere between
// the two ring pieces, and large and tiny score ranges. Limit: each score is within 2 (d + 4) eps sum|q k| of
// the twin's (float against double sums), which moves each softmax weight by at most twice the largest such
// error (relative) plus the exp's 4 ulp; the value sums add 2 (n + 4) eps. All of it times the largest |v|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace hark::kernels {
namespace {

struct Problem {
  int64_t n_q, hd, n_keys, n0;
  std::vector<float> q;
  std::vector<fp16_t> k,
      v;  // n_keys rows, as in a ring: keys 0..n0-1 are rows n_keys-n0.., the rest rows 0..
  KvWindow window() const {
    return {k.data() + (n_keys - n0) * hd, v.data() + (n_keys - n0) * hd, n0, k.data(), v.data(), n_keys};
  }
};

Problem make(int64_t n_q, int64_t hd, int64_t n_keys, int64_t n0, float spread, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Problem p{n_q, hd, n_keys, n0, {}, {}, {}};
  p.q.resize(static_cast<size_t>(n_q * hd));
  for (auto& x : p.q) x = dist(rng) * spread;
  for (int64_t i = 0; i < n_keys * hd; ++i) {
    p.k.push_back(f32_to_fp16(dist(rng)));
    p.v.push_back(f32_to_fp16(dist(rng) * 4.0f));
  }
  return p;
}

// The largest error the limit above allows for query row r.
double limit(const Problem& p, int64_t r, float scale) {
  double score_err = 0, max_v = 0;
  for (int64_t j = 0; j < p.n_keys; ++j) {
    double s = 0;
    for (int64_t i = 0; i < p.hd; ++i)
      s += std::fabs(fp16_to_f32(f32_to_fp16(p.q[r * p.hd + i])) * fp16_to_f32(p.k[j * p.hd + i]));
    score_err = std::max(score_err, 2.0 * (p.hd + 4) * FLT_EPSILON * s * scale);
  }
  for (fp16_t x : p.v) max_v = std::max(max_v, static_cast<double>(std::fabs(fp16_to_f32(x))));
  return (4.0 * score_err + 8.0 * FLT_EPSILON + 2.0 * (p.n_keys + 4) * FLT_EPSILON) * max_v;
}

void expect_twin(const KernelTable& simd, const Problem& p, float scale) {
  const KernelTable& ref = kernel_table(Isa::kScalar);
  std::vector<float> got(p.q.size()), want(p.q.size()), s1(p.n_q * p.n_keys), s2(s1.size());
  const KvWindow w = p.window();
  simd.attend_f16(p.q.data(), p.n_q, p.hd, w, scale, s1.data(), got.data());
  ref.attend_f16(p.q.data(), p.n_q, p.hd, w, scale, s2.data(), want.data());
  for (int64_t r = 0; r < p.n_q; ++r) {
    const double lim = limit(p, r, scale);
    for (int64_t i = 0; i < p.hd; ++i) {
      ASSERT_NEAR(got[r * p.hd + i], want[r * p.hd + i], lim)
          << "hd " << p.hd << " rows " << p.n_q << " keys " << p.n_keys << " n0 " << p.n0 << " row " << r
          << " elem " << i;
    }
  }
}

class Attend : public ::testing::TestWithParam<Isa> {};

TEST_P(Attend, MatchesScalar) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& simd = kernel_table(isa);
  std::mt19937 rng(11);
  for (int64_t hd : {16, 24, 256, 1024, 1040}) {
    for (int64_t n_q : {1, 3, 4, 9}) {
      for (int64_t n_keys : {1, 7, 8, 9, 300}) {
        for (int64_t n0 : {int64_t{0}, n_keys / 3, n_keys}) {
          const float spread = (n_q + n_keys) % 2 == 0 ? 1.0f : 0.01f;  // peaked and nearly flat softmax
          expect_twin(simd, make(n_q, hd, n_keys, n0, spread, rng), 1.0f);
        }
      }
    }
  }
  expect_twin(simd, make(8, 256, 77, 30, 1.0f, rng), 0.0625f);  // a scale other than 1
}

// Properties any correct attention has, exactly representable here: one key gives its value row; keys
// that are all equal give the mean of the values.
TEST_P(Attend, OneKeyAndEqualKeys) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& t = kernel_table(isa);
  std::mt19937 rng(12);
  Problem p = make(4, 64, 1, 1, 1.0f, rng);
  std::vector<float> out(p.q.size()), s(4);
  t.attend_f16(p.q.data(), 4, 64, p.window(), 1.0f, s.data(), out.data());
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t i = 0; i < 64; ++i) EXPECT_EQ(out[r * 64 + i], fp16_to_f32(p.v[i]));

  p = make(3, 32, 4, 2, 1.0f, rng);
  for (int64_t j = 1; j < 4; ++j) std::copy(p.k.begin(), p.k.begin() + 32, p.k.begin() + j * 32);
  for (int64_t i = 0; i < 4 * 32; ++i) p.v[i] = f32_to_fp16(static_cast<float>((i / 32) * 2 + i % 32 % 3));
  std::vector<float> mean(p.q.size()), s4(12);
  t.attend_f16(p.q.data(), 3, 32, p.window(), 1.0f, s4.data(), mean.data());
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t i = 0; i < 32; ++i) EXPECT_FLOAT_EQ(mean[r * 32 + i], 3.0f + static_cast<float>(i % 3));
}

TEST(AttendF16, BadWindowsAreInvalidArgument) {
  std::vector<float> q(16), s(4), out(16);
  std::vector<fp16_t> kv(64);
  const auto call = [&](int64_t n0, int64_t n_keys, int64_t hd) {
    attend_f16(q.data(), 1, hd, {kv.data(), kv.data(), n0, kv.data(), kv.data(), n_keys}, 1.0f, s.data(),
               out.data());
  };
  EXPECT_THROW(call(0, 0, 16), Error);
  EXPECT_THROW(call(-1, 2, 16), Error);
  EXPECT_THROW(call(3, 2, 16), Error);
  EXPECT_THROW(call(0, 2, 0), Error);
  EXPECT_NO_THROW(call(1, 2, 16));
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Attend,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           return std::string(isa_name(p.param));
                         });

}  // namespace
}  // namespace hark::kernels
