// attend_f16 (a decode step's attention over F16 cache rows). The leaf on every ISA this CPU runs against
// the scalar twin, over head sizes with and without a SIMD path (multiples of 16 up to 1024; 24 and 1040
// fall back), 1, 3, 4, 8 and 9 query rows (each row-group size and remainders), windows of 1 to 300 keys
// split anywhere between the two ring pieces, and peaked and nearly flat softmaxes. Then the pool driver
// (key ranges, merged partial softmaxes) on 1 to 3 threads and several KV groups against the twin over
// the whole window. softmax_values_f16 against its twin.
// Limit: each score is within 2 (d + 4) eps sum|q k| of the twin's (float against double sums), which moves
// each exponential by that much (relative) plus the exp's 4 ulp; the sums over keys add 2 (n + 4) eps.
// Outputs and l: times sum_j e_j |v_j| (or sum_j e_j); m: the score error itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace hark::kernels {
namespace {

struct Problem {
  int64_t n_q, hd, n_keys, n0;
  std::vector<float> q;
  std::vector<fp16_t> k,
      v;  // n_keys rows, as in a ring: keys 0..n0-1 are rows n_keys-n0.., the rest rows 0..
  KvWindow window(int64_t group = 0) const {
    const int64_t off = group * n_keys * hd;
    return {k.data() + off + (n_keys - n0) * hd,
            v.data() + off + (n_keys - n0) * hd,
            n0,
            k.data() + off,
            v.data() + off,
            n_keys};
  }
};

Problem make(int64_t n_q, int64_t hd, int64_t n_keys, int64_t n0, float spread, std::mt19937& rng,
             int64_t groups = 1) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Problem p{n_q, hd, n_keys, n0, {}, {}, {}};
  p.q.resize(static_cast<size_t>(groups * n_q * hd));
  for (auto& x : p.q) x = dist(rng) * spread;
  for (int64_t i = 0; i < groups * n_keys * hd; ++i) {
    p.k.push_back(f32_to_fp16(dist(rng)));
    p.v.push_back(f32_to_fp16(dist(rng) * 4.0f));
  }
  return p;
}

struct Partial {
  std::vector<float> out, m, l;
};

Partial run_leaf(const KernelTable& t, const Problem& p, float scale) {
  Partial r{std::vector<float>(p.n_q * p.hd), std::vector<float>(p.n_q), std::vector<float>(p.n_q)};
  std::vector<float> scores(p.n_q * p.n_keys);
  t.attend_f16(p.q.data(), p.n_q, p.hd, p.window(), scale, scores.data(), r.out.data(), r.m.data(),
               r.l.data());
  return r;
}

// The limit above for row r, given the twin's m.
struct Limit {
  double score, sum_e, sum_ev;
};
Limit limit(const Problem& p, int64_t r, float scale, float m) {
  Limit lim{0, 0, 0};
  for (int64_t j = 0; j < p.n_keys; ++j) {
    double s = 0, abs = 0;
    for (int64_t i = 0; i < p.hd; ++i) {
      const double prod = fp16_to_f32(f32_to_fp16(p.q[r * p.hd + i])) * fp16_to_f32(p.k[j * p.hd + i]);
      s += prod;
      abs += std::fabs(prod);
    }
    lim.score = std::max(lim.score, 2.0 * (p.hd + 4) * FLT_EPSILON * abs * scale);
    const double e = std::exp(s * scale - m);
    double vmax = 0;
    for (int64_t i = 0; i < p.hd; ++i)
      vmax = std::max(vmax, std::fabs(double{fp16_to_f32(p.v[j * p.hd + i])}));
    lim.sum_e += e;
    lim.sum_ev += e * vmax;
  }
  return lim;
}

void expect_twin(const KernelTable& simd, const Problem& p, float scale) {
  const Partial got = run_leaf(simd, p, scale), want = run_leaf(kernel_table(Isa::kScalar), p, scale);
  for (int64_t r = 0; r < p.n_q; ++r) {
    const Limit lim = limit(p, r, scale, want.m[r]);
    const double rel = 2.0 * lim.score + 8.0 * FLT_EPSILON + 2.0 * (p.n_keys + 4) * FLT_EPSILON;
    const auto where = [&] {
      return "hd " + std::to_string(p.hd) + " rows " + std::to_string(p.n_q) + " keys " +
             std::to_string(p.n_keys) + " n0 " + std::to_string(p.n0) + " row " + std::to_string(r);
    };
    ASSERT_NEAR(got.m[r], want.m[r], lim.score) << where();
    ASSERT_NEAR(got.l[r], want.l[r], rel * lim.sum_e) << where();
    for (int64_t i = 0; i < p.hd; ++i)
      ASSERT_NEAR(got.out[r * p.hd + i], want.out[r * p.hd + i], rel * lim.sum_ev)
          << where() << " elem " << i;
  }
}

class Attend : public ::testing::TestWithParam<Isa> {};

TEST_P(Attend, LeafMatchesScalar) {
  const Isa isa = GetParam();
  if (isa == Isa::kScalar) GTEST_SKIP() << "the twin itself";
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& simd = kernel_table(isa);
  std::mt19937 rng(11);
  for (int64_t hd : {16, 24, 256, 1024, 1040}) {
    for (int64_t n_q : {1, 3, 4, 8, 9}) {
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

// softmax_values_f16 (the prefill half: given scores) against its twin, rows ld apart, windows split
// between the pieces. Limit: twice the exp's 4 ulp plus the sums' 2 (n + 4) eps, relative, times the
// largest |v|. Applying no scale fails it.
TEST_P(Attend, SoftmaxValuesMatchScalar) {
  const Isa isa = GetParam();
  if (isa == Isa::kScalar) GTEST_SKIP() << "the twin itself";
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  std::mt19937 rng(14);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t hd : {16, 24, 256}) {
    for (int64_t n_q : {1, 3, 8, 9}) {
      for (int64_t n_keys : {1, 9, 130}) {
        Problem p = make(n_q, hd, n_keys, n_keys / 2, 1.0f, rng);
        const int64_t ld = n_keys + 5;
        std::vector<float> scores(n_q * ld);
        for (auto& x : scores) x = dist(rng) * 4.0f;
        std::vector<float> s1 = scores, s2 = scores, got(n_q * hd), want(n_q * hd);
        kernel_table(isa).softmax_values_f16(s1.data(), ld, n_q, hd, p.window(), 0.5f, got.data());
        kernel_table(Isa::kScalar).softmax_values_f16(s2.data(), ld, n_q, hd, p.window(), 0.5f, want.data());
        double max_v = 0;
        for (fp16_t x : p.v) max_v = std::max(max_v, double{std::fabs(fp16_to_f32(x))});
        const double lim = (8.0 + 4.0 * (n_keys + 4)) * FLT_EPSILON * max_v;
        for (int64_t i = 0; i < n_q * hd; ++i)
          ASSERT_NEAR(got[i], want[i], lim)
              << "hd " << hd << " rows " << n_q << " keys " << n_keys << " at " << i;
      }
    }
  }
}

// The driver (on the active ISA): key ranges over 1-3 threads, one and several KV groups, windows that
// split inside either ring piece or across the wrap, against the twin over each group's whole window.
TEST(AttendF16, PoolSplitsMatchWholeWindow) {
  std::mt19937 rng(13);
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t groups : {1, 2}) {
      for (int64_t n_keys : {5, 64, 129, 1000}) {
        const int64_t hd = 64, rows = 4;
        Problem p = make(rows, hd, n_keys, n_keys / 3, 1.0f, rng, groups);
        std::vector<float> out(groups * rows * hd);
        attend_f16({p.q.data(), groups, rows, hd, p.window(), n_keys * hd, 1.0f, out.data()}, &pool);
        for (int64_t g = 0; g < groups; ++g) {
          Problem one = p;  // group g alone, as a one-group problem
          one.q.assign(p.q.begin() + g * rows * hd, p.q.begin() + (g + 1) * rows * hd);
          one.k.assign(p.k.begin() + g * n_keys * hd, p.k.begin() + (g + 1) * n_keys * hd);
          one.v.assign(p.v.begin() + g * n_keys * hd, p.v.begin() + (g + 1) * n_keys * hd);
          const Partial want = run_leaf(kernel_table(Isa::kScalar), one, 1.0f);
          for (int64_t r = 0; r < rows; ++r) {
            const Limit lim = limit(one, r, 1.0f, want.m[r]);
            const double rel = 2.0 * lim.score + 16.0 * FLT_EPSILON + 2.0 * (n_keys + 4) * FLT_EPSILON;
            for (int64_t i = 0; i < hd; ++i) {
              ASSERT_NEAR(out[(g * rows + r) * hd + i], want.out[r * hd + i] / want.l[r],
                          2.0 * rel * lim.sum_ev / lim.sum_e)
                  << threads << " threads, group " << g << " of " << groups << ", " << n_keys << " keys, row "
                  << r << " elem " << i;
            }
          }
        }
      }
    }
  }
}

// Properties any correct attention has, exactly representable here: one key gives its value row; keys
// that are all equal give the mean of the values.
TEST_P(Attend, OneKeyAndEqualKeys) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& t = kernel_table(isa);
  std::mt19937 rng(12);
  Problem p = make(4, 64, 1, 1, 1.0f, rng);
  Partial r = run_leaf(t, p, 1.0f);
  for (int64_t row = 0; row < 4; ++row) {
    EXPECT_EQ(r.l[row], 1.0f);
    for (int64_t i = 0; i < 64; ++i) EXPECT_EQ(r.out[row * 64 + i], fp16_to_f32(p.v[i]));
  }
  p = make(3, 32, 4, 2, 1.0f, rng);
  for (int64_t j = 1; j < 4; ++j) std::copy(p.k.begin(), p.k.begin() + 32, p.k.begin() + j * 32);
  for (int64_t i = 0; i < 4 * 32; ++i) p.v[i] = f32_to_fp16(static_cast<float>((i / 32) * 2 + i % 32 % 3));
  r = run_leaf(t, p, 1.0f);
  for (int64_t row = 0; row < 3; ++row) {
    EXPECT_EQ(r.l[row], 4.0f);
    for (int64_t i = 0; i < 32; ++i)
      EXPECT_FLOAT_EQ(r.out[row * 32 + i] / 4.0f, 3.0f + static_cast<float>(i % 3));
  }
}

TEST(AttendF16, BadWindowsAreInvalidArgument) {
  std::vector<float> q(16), out(16);
  std::vector<fp16_t> kv(64);
  const auto call = [&](int64_t n0, int64_t n_keys, int64_t hd) {
    attend_f16(
        {q.data(), 1, 1, hd, {kv.data(), kv.data(), n0, kv.data(), kv.data(), n_keys}, 0, 1.0f, out.data()},
        nullptr);
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
