// The blocked F16 GEMM against its scalar twin gemm_f16_ref, on every ISA table this CPU runs (tables
// without GEMM leaves check the matmul fallback). Shapes leave partial tiles in every direction: tokens not
// a multiple of the 14-token tile, weight rows not a multiple of 32, k tails inside and across the 4096-wide
// k blocks, one weight row, one input column, and token counts below the GEMM threshold.
// Limit: the twin sums exact products in double; the GEMM sums the same products (the f16-rounded
// activation times the f16 weight is exact in f32) in f32, so each output is within (k + 4) * eps *
// sum|w * x| of the exact value; the limit is twice that, as in twin_test. The AMX GEMM sums three exact
// BF16 products per term (3k terms) and drops a fourth of at most 2^-16 |w * x| (gemm_amx.cpp), so its
// limit is 2 * (3k + 4) * eps * sum|w * x| + 2^-16 * sum|w * x|. A weight packed at load (pack_f16) must
// give gemm_f16's results bit for bit where both run the same tiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace hark::kernels {
namespace {

struct Problem {
  int64_t m, n, k;        // tokens, weight rows (outputs), inputs
  std::vector<fp16_t> w;  // [n][k]
  std::vector<float> x;   // [m][k]
};

Problem make_problem(int64_t m, int64_t n, int64_t k, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Problem p{m, n, k, std::vector<fp16_t>(static_cast<size_t>(n * k)),
            std::vector<float>(static_cast<size_t>(m * k))};
  for (auto& v : p.w) v = f32_to_fp16(dist(rng));
  for (auto& v : p.x) v = dist(rng);
  return p;
}

// sum_i |w[o][i] * f16(x[t][i])| for every (t, o): the scale of each output's rounding error.
std::vector<double> abs_sums(const Problem& p) {
  std::vector<double> s(static_cast<size_t>(p.m * p.n));  // [m][n]
  for (int64_t t = 0; t < p.m; ++t)
    for (int64_t o = 0; o < p.n; ++o)
      for (int64_t i = 0; i < p.k; ++i)
        s[t * p.n + o] += std::fabs(static_cast<double>(fp16_to_f32(p.w[o * p.k + i])) *
                                    fp16_to_f32(f32_to_fp16(p.x[t * p.k + i])));
  return s;
}

class GemmF16 : public ::testing::TestWithParam<Isa> {};

TEST_P(GemmF16, MatchesScalarTwinOnOddShapes) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& table = kernel_table(isa);
  std::mt19937 rng(21);
  ThreadPool pool1(1), pool3(3);
  const int64_t shapes[][3] = {
      {1, 40, 64},    {31, 33, 17},  {32, 1, 1},      {33, 32, 385},   {45, 17, 9},
      {47, 100, 513}, {64, 64, 257}, {100, 96, 1152}, {150, 129, 300}, {29, 5, 2},
      {40, 300, 40},  {200, 48, 1},  {35, 40, 4100},
  };
  for (const auto& s : shapes) {
    const Problem p = make_problem(s[0], s[1], s[2], rng);
    const WeightView wv{GgmlType::F16, p.w.data(), p.k, p.n};
    std::vector<float> want(static_cast<size_t>(p.m * p.n)), one(want.size()), three(want.size());
    gemm_f16_ref(wv, p.x.data(), p.m, want.data());
    gemm_f16_with(table, wv, p.x.data(), p.m, one.data(), &pool1);
    gemm_f16_with(table, wv, p.x.data(), p.m, three.data(), &pool3);
    const std::vector<double> scale = abs_sums(p);
    const bool amx = table.gemm_f16_full != nullptr && p.m >= 32;
    const double rel = amx ? 2.0 * (3 * p.k + 4) * FLT_EPSILON + 0x1p-16 : 2.0 * (p.k + 4) * FLT_EPSILON;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_LE(std::fabs(static_cast<double>(one[i]) - want[i]), rel * scale[i])
          << isa_name(isa) << " m=" << p.m << " n=" << p.n << " k=" << p.k << " token " << i / p.n << " row "
          << i % p.n;
    }
    // Every output is summed by one thread in the same order whatever the split: bit for bit equal.
    EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * sizeof(float)))
        << isa_name(isa) << " m=" << p.m << " n=" << p.n << " k=" << p.k;
  }
}

F16RowReader reader_of(const Problem& p) {
  return [&p](int64_t row0, int64_t n, fp16_t* dst) {
    std::memcpy(dst, p.w.data() + row0 * p.k, static_cast<size_t>(n * p.k) * sizeof(fp16_t));
  };
}

// A weight packed at load: strips laid out k-major with zero rows past the end, and products bit for bit
// those of gemm_f16 (same tile arithmetic, same k blocks) for >= 32 tokens, within the twin's limit below,
// and independent of the thread count. Tables without a packed GEMM leave the weight empty and refuse it.
TEST_P(GemmF16, PackedWeightMatchesUnpacked) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& table = kernel_table(isa);
  std::mt19937 rng(22);
  ThreadPool pool1(1), pool3(3);
  const int64_t shapes[][3] = {{1, 40, 64},     {31, 33, 17},  {32, 1, 1},   {33, 32, 385},  {47, 100, 513},
                               {100, 96, 1152}, {150, 300, 9}, {200, 48, 1}, {64, 257, 768}, {35, 40, 4100}};
  for (const auto& sh : shapes) {
    const Problem p = make_problem(sh[0], sh[1], sh[2], rng);
    const PackedF16 pw = pack_f16_with(table, p.k, p.n, reader_of(p));
    std::vector<float> one(static_cast<size_t>(p.m * p.n));
    if (pw.empty()) {
      EXPECT_TRUE(table.gemm_f16.tile_h == nullptr || table.gemm_f16_full != nullptr) << isa_name(isa);
      EXPECT_THROW(gemm_f16_packed_with(table, pw, p.x.data(), p.m, one.data(), &pool1), Error);
      continue;
    }
    ASSERT_EQ(pw.nr, table.gemm_f16.nr);
    const int64_t n_strips = (p.n + pw.nr - 1) / pw.nr;
    ASSERT_EQ(pw.data.size(), sizeof(fp16_t) * static_cast<size_t>(n_strips * p.k * pw.nr));
    for (int64_t j = 0; j < n_strips; ++j)
      for (int64_t i = 0; i < p.k; ++i)
        for (int r = 0; r < pw.nr; ++r) {
          const int64_t row = j * pw.nr + r;
          ASSERT_EQ(pw.values()[(j * p.k + i) * pw.nr + r], row < p.n ? p.w[row * p.k + i] : 0)
              << "strip " << j << " k " << i << " row " << r;
        }
    const WeightView wv{GgmlType::F16, p.w.data(), p.k, p.n};
    std::vector<float> want(one.size()), three(one.size()), unpacked(one.size());
    gemm_f16_ref(wv, p.x.data(), p.m, want.data());
    gemm_f16_packed_with(table, pw, p.x.data(), p.m, one.data(), &pool1);
    gemm_f16_packed_with(table, pw, p.x.data(), p.m, three.data(), &pool3);
    gemm_f16_with(table, wv, p.x.data(), p.m, unpacked.data(), &pool3);
    const std::vector<double> scale = abs_sums(p);
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_LE(std::fabs(static_cast<double>(one[i]) - want[i]), 2.0 * (p.k + 4) * FLT_EPSILON * scale[i])
          << isa_name(isa) << " m=" << p.m << " n=" << p.n << " k=" << p.k << " token " << i / p.n << " row "
          << i % p.n;
    EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * sizeof(float)))
        << isa_name(isa) << " m=" << p.m << " n=" << p.n << " k=" << p.k;
    if (p.m >= 32) {
      EXPECT_EQ(0, std::memcmp(one.data(), unpacked.data(), one.size() * sizeof(float)))
          << isa_name(isa) << " m=" << p.m << " n=" << p.n << " k=" << p.k;
    }
  }
}

// The leaves on their own: partial tiles (rows < mr, cols < nr), short k, accumulation, and no writes
// outside the tile.
TEST_P(GemmF16, LeavesMatchScalar) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const GemmF16Kernels& g = kernel_table(isa).gemm_f16;
  if (g.tile == nullptr) GTEST_SKIP() << isa_name(isa) << " has no GEMM leaves (gemm_f16 runs matmul)";
  std::mt19937 rng(4);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  constexpr int64_t kLd = 40;  // leading dimension of x, w and c, wider than any tile
  for (int rows : {1, 5, g.mr}) {
    for (int cols : {1, 16, 17, g.nr}) {
      for (int64_t kc : {1, 2, 3, 17}) {
        std::vector<float> x(static_cast<size_t>(g.mr * kLd));   // [mr][kLd]
        std::vector<fp16_t> w(static_cast<size_t>(g.nr * kLd));  // [nr][kLd]
        for (auto& v : x) v = dist(rng);
        for (auto& v : w) v = f32_to_fp16(dist(rng));
        std::vector<float> a(static_cast<size_t>(kc * g.mr)), b(static_cast<size_t>(kc * g.nr));
        g.pack_a(x.data(), kLd, rows, kc, nullptr, a.data());
        g.pack_b(w.data(), kLd, cols, kc, b.data());
        for (int64_t k = 0; k < kc; ++k) {
          for (int i = 0; i < g.mr; ++i) {
            const float want = i < rows ? fp16_to_f32(f32_to_fp16(x[i * kLd + k])) : 0.0f;
            ASSERT_EQ(a[k * g.mr + i], want) << "pack_a k=" << k << " i=" << i << " rows=" << rows;
          }
          for (int j = 0; j < g.nr; ++j) {
            const float want = j < cols ? fp16_to_f32(w[j * kLd + k]) : 0.0f;
            ASSERT_EQ(b[k * g.nr + j], want) << "pack_b k=" << k << " j=" << j << " cols=" << cols;
          }
        }
        std::vector<fp16_t> bh(b.size());  // the same panel in f16, as a packed weight holds it
        for (size_t i = 0; i < b.size(); ++i) bh[i] = f32_to_fp16(b[i]);
        for (bool add : {false, true}) {
          constexpr float kSentinel = 7.0f;
          std::vector<float> c(static_cast<size_t>(g.mr + 1) * kLd, kSentinel);  // [mr + 1][kLd]
          g.tile(a.data(), b.data(), kc, c.data(), kLd, rows, cols, add, nullptr);
          if (g.tile_h != nullptr) {
            std::vector<float> ch(c.size(), kSentinel);
            g.tile_h(a.data(), bh.data(), kc, ch.data(), kLd, rows, cols, add, nullptr);
            ASSERT_EQ(0, std::memcmp(c.data(), ch.data(), c.size() * sizeof(float)))
                << "tile_h differs from tile: rows=" << rows << " cols=" << cols << " kc=" << kc;
          }
          for (int i = 0; i <= g.mr; ++i) {
            for (int64_t j = 0; j < kLd; ++j) {
              const float got = c[i * kLd + j];
              if (i >= rows || j >= cols) {
                ASSERT_EQ(got, kSentinel) << "write outside the tile at " << i << "," << j;
                continue;
              }
              double want = add ? kSentinel : 0.0, scale = add ? kSentinel : 0.0;
              for (int64_t k = 0; k < kc; ++k) {
                want += static_cast<double>(a[k * g.mr + i]) * b[k * g.nr + j];
                scale += std::fabs(static_cast<double>(a[k * g.mr + i]) * b[k * g.nr + j]);
              }
              ASSERT_LE(std::fabs(got - want), 2.0 * (kc + 4) * FLT_EPSILON * scale)
                  << "rows=" << rows << " cols=" << cols << " kc=" << kc << " add=" << add;
            }
          }
        }
      }
    }
  }
}

float clamp_to(float v, float lo, float hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// A clipped linear's bounds in the leaves: pack_a clamps before rounding to f16, the tile clamps what it
// stores (after the add); a NaN passes through both.
TEST_P(GemmF16, LeavesClampWhereAsked) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const GemmF16Kernels& g = kernel_table(isa).gemm_f16;
  if (g.tile == nullptr) GTEST_SKIP() << isa_name(isa) << " has no GEMM leaves (gemm_f16 runs matmul)";
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  constexpr int64_t kLd = 40, kKc = 33;
  const float in_b[2] = {-0.5f, 0.7f}, out_b[2] = {-1.0f, 1.5f};
  std::vector<float> x(static_cast<size_t>(g.mr * kLd));
  std::vector<fp16_t> w(static_cast<size_t>(g.nr * kLd));
  for (auto& v : x) v = dist(rng);
  for (auto& v : w) v = f32_to_fp16(dist(rng));
  x[3 * kLd + 5] = NAN;
  std::vector<float> a(static_cast<size_t>(kKc * g.mr)), b(static_cast<size_t>(kKc * g.nr));
  g.pack_a(x.data(), kLd, g.mr, kKc, in_b, a.data());
  g.pack_b(w.data(), kLd, g.nr, kKc, b.data());
  for (int64_t k = 0; k < kKc; ++k)
    for (int i = 0; i < g.mr; ++i) {
      const float want = fp16_to_f32(f32_to_fp16(clamp_to(x[i * kLd + k], in_b[0], in_b[1])));
      const float got = a[k * g.mr + i];
      ASSERT_TRUE(got == want || (std::isnan(got) && std::isnan(want))) << "k=" << k << " i=" << i;
    }
  for (bool add : {false, true}) {
    std::vector<float> plain(static_cast<size_t>(g.mr) * kLd, 0.25f), clamped(plain);
    g.tile(a.data(), b.data(), kKc, plain.data(), kLd, g.mr, g.nr, add, nullptr);
    g.tile(a.data(), b.data(), kKc, clamped.data(), kLd, g.mr, g.nr, add, out_b);
    int bound = 0;
    for (size_t i = 0; i < plain.size(); ++i) {
      const float want = clamp_to(plain[i], out_b[0], out_b[1]);
      ASSERT_TRUE(clamped[i] == want || (std::isnan(clamped[i]) && std::isnan(want))) << "element " << i;
      bound += want != plain[i];
    }
    EXPECT_GT(bound, 0) << "no output reached the bounds";
    if (g.tile_h != nullptr) {
      std::vector<fp16_t> bh(b.size());
      for (size_t i = 0; i < b.size(); ++i) bh[i] = f32_to_fp16(b[i]);
      std::vector<float> ch(plain.size(), 0.25f);
      g.tile_h(a.data(), bh.data(), kKc, ch.data(), kLd, g.mr, g.nr, add, out_b);
      ASSERT_EQ(0, std::memcmp(ch.data(), clamped.data(), ch.size() * sizeof(float)));
    }
  }
}

// gemm_f16 and gemm_f16_packed with a Clamp against the twin on the clamped input, its outputs clamped (a
// clamp moves no value further from the exact one, so the twin's limit holds): few tokens (the matmul
// fallback), partial tiles, and k across a block boundary, where the output clamp must wait for the last
// block.
TEST_P(GemmF16, ClampedLinearMatchesClampedTwin) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& table = kernel_table(isa);
  std::mt19937 rng(23);
  ThreadPool pool(2);
  const Clamp clamp{-0.8f, 0.9f, -3.0f, 2.5f};
  const int64_t shapes[][3] = {{5, 40, 64}, {47, 100, 513}, {35, 40, 4100}};
  for (const auto& sh : shapes) {
    Problem p = make_problem(sh[0], sh[1], sh[2], rng);
    Problem pc = p;
    for (auto& v : pc.x) v = clamp_to(v, clamp.in_min, clamp.in_max);
    const WeightView wv{GgmlType::F16, p.w.data(), p.k, p.n};
    std::vector<float> want(static_cast<size_t>(p.m * p.n)), got(want.size()), packed(want.size());
    gemm_f16_ref(wv, pc.x.data(), p.m, want.data());
    const std::vector<double> scale = abs_sums(pc);
    gemm_f16_with(table, wv, p.x.data(), p.m, got.data(), &pool, &clamp);
    const PackedF16 pw = pack_f16_with(table, p.k, p.n, reader_of(p));
    if (!pw.empty()) gemm_f16_packed_with(table, pw, p.x.data(), p.m, packed.data(), &pool, &clamp);
    const bool amx = table.gemm_f16_full != nullptr && p.m >= 32;
    const double rel = amx ? 2.0 * (3 * p.k + 4) * FLT_EPSILON + 0x1p-16 : 2.0 * (p.k + 4) * FLT_EPSILON;
    int inside = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const double w = std::clamp<double>(want[i], clamp.out_min, clamp.out_max);
      inside += want[i] > clamp.out_min && want[i] < clamp.out_max;
      ASSERT_LE(std::fabs(got[i] - w), rel * scale[i]) << isa_name(isa) << " k=" << p.k << " output " << i;
      if (!pw.empty()) {  // same tiles for 32+ tokens, bit for bit; the matmul fallback's sums below that
        if (p.m >= 32) {
          ASSERT_EQ(got[i], packed[i]) << isa_name(isa) << " k=" << p.k << " output " << i;
        } else {
          ASSERT_LE(std::fabs(packed[i] - w), rel * scale[i]) << isa_name(isa) << " packed output " << i;
        }
      }
    }
    EXPECT_GT(inside, 0);
    EXPECT_LT(inside, static_cast<int>(want.size()));
  }
}

// matmul with a Clamp (the passes around the product that weights of other types get, e.g. an F32 or
// quantized mmproj): against the product of the clamped input in double, its output clamped.
TEST(MatmulClamp, F32WeightIsClampedAround) {
  std::mt19937 rng(25);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  ThreadPool pool(2);
  const Clamp clamp{-0.8f, 0.9f, -3.0f, 2.5f};
  constexpr int64_t kM = 40, kN = 33, kK = 70;
  std::vector<float> w(static_cast<size_t>(kN * kK)), x(static_cast<size_t>(kM * kK)), y(kM * kN);
  for (auto& v : w) v = dist(rng);
  for (auto& v : x) v = dist(rng);
  matmul(WeightView{GgmlType::F32, w.data(), kK, kN}, x.data(), kM, y.data(), &pool, &clamp);
  int inside = 0;
  for (int64_t t = 0; t < kM; ++t)
    for (int64_t o = 0; o < kN; ++o) {
      double want = 0.0, scale = 0.0;
      for (int64_t i = 0; i < kK; ++i) {
        const double xi = clamp_to(x[t * kK + i], clamp.in_min, clamp.in_max);
        want += xi * w[o * kK + i];
        scale += std::fabs(xi * w[o * kK + i]);
      }
      inside += want > clamp.out_min && want < clamp.out_max;
      want = std::clamp<double>(want, clamp.out_min, clamp.out_max);
      ASSERT_LE(std::fabs(y[t * kN + o] - want), 2.0 * (kK + 4) * FLT_EPSILON * scale) << t << "," << o;
    }
  EXPECT_GT(inside, 0);
  EXPECT_LT(inside, kM * kN);
}

TEST(GemmF16Errors, NonF16WeightIsInvalidArgument) {
  const std::vector<float> w(64), x(64 * 32);
  std::vector<float> y(32);
  const WeightView wv{GgmlType::F32, w.data(), 64, 1};
  try {
    gemm_f16(wv, x.data(), 32, y.data(), nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kInvalidArgument);
  }
}

TEST(GemmF16Errors, PackingRejectsEmptyShapesAndPassesOnReadErrors) {
  const F16RowReader zeros = [](int64_t, int64_t n, fp16_t* dst) { std::fill(dst, dst + n, fp16_t{0}); };
  EXPECT_THROW(pack_f16(0, 4, zeros), Error);
  EXPECT_THROW(pack_f16(4, 0, zeros), Error);
  const KernelTable& table = kernel_table(Isa::kAvx512);
  if (!cpu_supports(Isa::kAvx512) || table.gemm_f16.tile_h == nullptr) GTEST_SKIP() << "no packed GEMM";
  // 400 rows are 13 strips, packed by two threads: a failure in either reaches the caller.
  for (int64_t bad_row : {0, 32, 384}) {
    const F16RowReader failing = [&](int64_t row0, int64_t n, fp16_t* dst) {
      if (row0 == bad_row) throw Error(Errc::kIo, "short read");
      std::fill(dst, dst + n * 8, fp16_t{0});
    };
    try {
      pack_f16_with(table, 8, 400, failing);
      FAIL() << "expected the reader's error for row " << bad_row;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kIo);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, GemmF16,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           return std::string(isa_name(p.param));
                         });

}  // namespace
}  // namespace hark::kernels
