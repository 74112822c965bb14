// Every SIMD dot against its scalar twin, on every ISA this CPU runs, including raw random quant bytes
// (any bit pattern a file may hold, e.g. -128 in Q8_0) and lengths that leave SIMD tails.
// Limit: both sides sum the same exact per-block (or per-element) products in float in different orders,
// so each is within (n + 4) * eps * sum|w * x| of the exact value; the limit is twice that.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/quant.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace hark::kernels {
namespace {

// Byte offsets and sizes of the fields of one weight block that hold scales (kept as sane f16 values); the
// rest of the block is filled with random bytes.
struct ScaleFields {
  int offset[2];
  int count;
};

ScaleFields scale_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
      return {{0, 0}, 1};
    case GgmlType::Q4_1:
    case GgmlType::Q5_1:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
      return {{0, 2}, 2};
    case GgmlType::Q6_K:
      return {{208, 0}, 1};
    default:
      return {{0, 0}, 0};
  }
}

std::vector<uint8_t> random_weights(GgmlType t, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> f(n);
  for (auto& v : f) v = dist(rng);
  std::vector<uint8_t> w(ggml_row_size(t, n));
  quantize_row_ref(t, f.data(), w.data(), n);
  const auto info = ggml_type_info(t);
  const ScaleFields sf = scale_fields(t);
  if (info.block_size > 1) {
    for (size_t b = 0; b < w.size(); b += info.type_size) {
      std::vector<uint8_t> keep(w.begin() + b, w.begin() + b + info.type_size);
      for (size_t k = 0; k < info.type_size; ++k) w[b + k] = static_cast<uint8_t>(rng());
      for (int s = 0; s < sf.count; ++s) {
        w[b + sf.offset[s]] = keep[sf.offset[s]];
        w[b + sf.offset[s] + 1] = keep[sf.offset[s] + 1];
      }
    }
  }
  return w;
}

// rows weight rows of n random quant bytes (random_weights) and toks activation rows quantized from N(0,1),
// in the layouts the tiles and GEMMs read: [rows][ws] and [toks][xs] bytes.
struct MultiRow {
  size_t ws, xs;
  std::vector<uint8_t> w, x;
};

MultiRow random_multi_row(GgmlType t, int64_t n, int rows, int toks, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const GgmlType at = activation_type(t);
  MultiRow m{ggml_row_size(t, n), ggml_row_size(at, n), {}, {}};
  m.w.resize(m.ws * rows);
  m.x.resize(m.xs * toks);
  for (int r = 0; r < rows; ++r) {
    const auto row = random_weights(t, n, rng);
    std::copy(row.begin(), row.end(), m.w.begin() + r * m.ws);
  }
  std::vector<float> xf(n);
  for (int k = 0; k < toks; ++k) {
    for (auto& v : xf) v = dist(rng);
    quantize_row_ref(at, xf.data(), m.x.data() + k * m.xs, n);
  }
  return m;
}

// y[k * rows + r] against the scalar dot of weight row r and activation row k, within 2 (n + 4) eps
// sum|w * x| (see the top of the file).
::testing::AssertionResult matches_scalar_dots(GgmlType t, int64_t n, const MultiRow& m, int rows, int toks,
                                               const float* y) {
  const KernelTable& ref = kernel_table(Isa::kScalar);
  const int id = static_cast<int>(t);
  const GgmlType at = activation_type(t);
  std::vector<float> wd(n), xd(n);
  for (int k = 0; k < toks; ++k) {
    dequantize_row_ref(at, m.x.data() + k * m.xs, xd.data(), n);
    for (int r = 0; r < rows; ++r) {
      dequantize_row_ref(t, m.w.data() + r * m.ws, wd.data(), n);
      double sum_abs = 0;
      for (int64_t i = 0; i < n; ++i) sum_abs += std::fabs(static_cast<double>(wd[i]) * xd[i]);
      const float want = ref.dot[id](n, m.w.data() + r * m.ws, m.x.data() + k * m.xs);
      const double err = std::fabs(static_cast<double>(y[k * rows + r]) - want);
      const double limit = 2.0 * (n + 4) * FLT_EPSILON * sum_abs;
      if (!(err <= limit)) {
        return ::testing::AssertionFailure() << ggml_type_name(t) << " row " << r << " tok " << k << ": |"
                                             << y[k * rows + r] << " - " << want << "| > " << limit;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

struct TwinCase {
  GgmlType type;
  int64_t n;
};

class Twin : public ::testing::TestWithParam<Isa> {};

TEST_P(Twin, DotMatchesScalar) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& simd = kernel_table(isa);
  const KernelTable& ref = kernel_table(Isa::kScalar);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const TwinCase cases[] = {
      {GgmlType::F32, 1},    {GgmlType::F32, 15},    {GgmlType::F32, 100},  {GgmlType::F32, 1536},
      {GgmlType::F16, 7},    {GgmlType::F16, 100},   {GgmlType::F16, 1536}, {GgmlType::BF16, 3},
      {GgmlType::BF16, 100}, {GgmlType::BF16, 1536}, {GgmlType::Q4_0, 32},  {GgmlType::Q4_0, 1536},
      {GgmlType::Q4_1, 64},  {GgmlType::Q4_1, 1536}, {GgmlType::Q5_0, 32},  {GgmlType::Q5_0, 1536},
      {GgmlType::Q5_1, 96},  {GgmlType::Q5_1, 1536}, {GgmlType::Q8_0, 32},  {GgmlType::Q8_0, 1536},
      {GgmlType::Q4_K, 256}, {GgmlType::Q4_K, 1536}, {GgmlType::Q5_K, 256}, {GgmlType::Q5_K, 1536},
      {GgmlType::Q6_K, 256}, {GgmlType::Q6_K, 1536},
  };
  for (const TwinCase& c : cases) {
    for (int rep = 0; rep < 20; ++rep) {
      const auto w = random_weights(c.type, c.n, rng);
      std::vector<float> xf(c.n);
      for (auto& v : xf) v = dist(rng);
      const GgmlType at = activation_type(c.type);
      std::vector<uint8_t> x(ggml_row_size(at, c.n));
      quantize_row_ref(at, xf.data(), x.data(), c.n);
      std::vector<float> wd(c.n), xd(c.n);
      dequantize_row_ref(c.type, w.data(), wd.data(), c.n);
      dequantize_row_ref(at, x.data(), xd.data(), c.n);
      double sum_abs = 0;
      for (int64_t i = 0; i < c.n; ++i) sum_abs += std::fabs(static_cast<double>(wd[i]) * xd[i]);
      const int id = static_cast<int>(c.type);
      const float got = simd.dot[id](c.n, w.data(), x.data());
      const float want = ref.dot[id](c.n, w.data(), x.data());
      ASSERT_LE(std::fabs(static_cast<double>(got) - want), 2.0 * (c.n + 4) * FLT_EPSILON * sum_abs)
          << isa_name(isa) << " " << ggml_type_name(c.type) << " n=" << c.n << " rep " << rep;
    }
  }
}

// Multi-token tiles (where an ISA has them) against the scalar dot of every (row, token) pair: 5 rows x 4
// tokens covers the register blocks and the leftover rows; random quant bytes as above.
TEST_P(Twin, TileMatchesScalar) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& simd = kernel_table(isa);
  std::mt19937 rng(11);
  constexpr int kRows = 5, kToks = 4;
  int checked = 0;
  for (GgmlType t :
       {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
        GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    const int id = static_cast<int>(t);
    if (simd.tile[id] == nullptr) continue;
    ++checked;
    const int64_t n = ggml_type_info(t).block_size == 1 ? 333 : 768;
    const MultiRow m = random_multi_row(t, n, kRows, kToks, rng);
    float y[kToks * kRows];  // [kToks][kRows]
    // All tokens in one call, then 3 (+ 1), 2 and 1 per call: each count is a register tile of its own, and
    // one token is decode's path, a kernel of its own on some ISAs.
    for (int nt : {kToks, 3, 2, 1}) {
      for (int k0 = 0; k0 < kToks; k0 += nt) {
        const int nc = std::min(nt, kToks - k0);
        simd.tile[id](n, m.w.data(), m.ws, kRows, m.x.data() + k0 * m.xs, m.xs, nc, y + k0 * kRows, kRows);
      }
      ASSERT_TRUE(matches_scalar_dots(t, n, m, kRows, kToks, y))
          << isa_name(isa) << ", tokens per call " << nt;
    }
  }
  if (checked == 0) GTEST_SKIP() << isa_name(isa) << " has no multi-token tiles";
}

// The whole quantized GEMMs (where an ISA has them) against the scalar dot of every (row, token) pair, on
// random quant bytes: 37 rows (a full 32-row group and a partial one) x 35 tokens (two 16-token tiles and a
// partial one). Row 0's first blocks hold the extremes of the byte planes: Q4_K all scale, min and quant
// bits set (63 * 15); Q6_K scale -128 with quants 0 (-128 * -32 = 4096, hi plane 64), then scale 127 with
// quants 0 (127 * -32 = -4064, hi plane -64).
TEST_P(Twin, QuantGemmMatchesScalar) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& simd = kernel_table(isa);
  std::mt19937 rng(17);
  constexpr int kRows = 37, kToks = 35;
  constexpr int64_t n = 768;
  int checked = 0;
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::Q4_0}) {
    const int id = static_cast<int>(t);
    if (simd.qgemm[id] == nullptr) continue;
    ++checked;
    MultiRow m = random_multi_row(t, n, kRows, kToks, rng);
    if (t == GgmlType::Q4_K) {
      std::fill(m.w.begin() + 4, m.w.begin() + sizeof(BlockQ4_K), 0xff);  // scales, mins and quants
    } else if (t == GgmlType::Q6_K) {
      BlockQ6_K* b = reinterpret_cast<BlockQ6_K*>(m.w.data());
      std::fill(std::begin(b->ql), std::end(b->ql), 0);
      std::fill(std::begin(b->qh), std::end(b->qh), 0);
      std::fill(std::begin(b->scales), std::end(b->scales), -128);
      std::fill(std::begin(b[1].ql), std::end(b[1].ql), 0);
      std::fill(std::begin(b[1].qh), std::end(b[1].qh), 0);
      std::fill(std::begin(b[1].scales), std::end(b[1].scales), 127);
    }
    std::vector<float> y(kToks * kRows);
    ThreadPool pool(2);
    simd.qgemm[id](WeightView{t, m.w.data(), n, kRows}, m.x.data(), m.xs, kToks, y.data(), &pool);
    ASSERT_TRUE(matches_scalar_dots(t, n, m, kRows, kToks, y.data())) << isa_name(isa);
  }
  if (checked == 0) GTEST_SKIP() << isa_name(isa) << " has no quantized GEMM";
}

// Q8_K activation conversion is deterministic: every ISA's bytes must equal quantize_row_ref's, on random
// rows, a zero block, rounding ties (x * iscale = k + 0.5) and a largest |x| that occurs with both signs
// (the first one sets the sign of the scale).
TEST_P(Twin, Q8KConversionBitExact) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const ConvertFn convert = kernel_table(isa).from_float[static_cast<int>(GgmlType::Q8_K)];
  ASSERT_NE(convert, nullptr);
  std::mt19937 rng(23);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  constexpr int64_t n = 6 * kQK_K;
  const size_t bytes = ggml_row_size(GgmlType::Q8_K, n);
  for (int rep = 0; rep < 50; ++rep) {
    std::vector<float> x(n);
    for (auto& v : x) v = dist(rng);
    std::fill(x.begin() + kQK_K, x.begin() + 2 * kQK_K, 0.0f);  // block 1: all zero
    for (int64_t j = 2 * kQK_K; j < 3 * kQK_K; ++j)             // block 2: exact halves of the step
      x[j] = static_cast<float>(static_cast<int>(rng() % 254) - 127) + 0.5f;
    x[2 * kQK_K + 7] = -127.0f;  // iscale = 1: ties stay ties
    x[3 * kQK_K + 40] = 20.0f;   // block 3: +20 first, then -20 (> 6 sigma)
    x[3 * kQK_K + 200] = -20.0f;
    x[4 * kQK_K + 3] = -20.0f;  // block 4: -20 first, then +20
    x[4 * kQK_K + 100] = 20.0f;
    std::vector<uint8_t> want(bytes), got(bytes);
    quantize_row_ref(GgmlType::Q8_K, x.data(), want.data(), n);
    convert(x.data(), got.data(), n);
    ASSERT_EQ(0, std::memcmp(want.data(), got.data(), bytes)) << isa_name(isa) << " rep " << rep;
  }
}

// F16/BF16 conversions are exact operations: every ISA must give the scalar bits (NaN: any NaN), on every
// 16-bit pattern and on floats around rounding ties, subnormals and overflow.
TEST_P(Twin, HalfConversionsBitExact) {
  const Isa isa = GetParam();
  if (!cpu_supports(isa)) GTEST_SKIP() << isa_name(isa) << " not supported by this CPU";
  const KernelTable& k = kernel_table(isa);
  std::vector<uint16_t> halves(65536 + 3);  // every pattern, plus a tail
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(i);
  std::mt19937 rng(3);
  std::vector<float> floats(100003);
  for (auto& f : floats) {
    const uint32_t bits = rng();
    // Mostly values near the f16 range with low bits set to hit ties; some arbitrary bit patterns.
    f = (bits & 7) == 0 ? std::bit_cast<float>(bits)
                        : std::ldexp(static_cast<float>(bits >> 8), -20 + static_cast<int>(bits & 31));
  }
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16}) {
    const int id = static_cast<int>(t);
    const auto to_f = k.to_float[id] != nullptr ? k.to_float[id] : nullptr;
    std::vector<float> a(halves.size()), b(halves.size());
    dequantize_row_ref(t, halves.data(), a.data(), static_cast<int64_t>(halves.size()));
    if (to_f != nullptr) {
      to_f(halves.data(), b.data(), static_cast<int64_t>(halves.size()));
      for (size_t i = 0; i < a.size(); ++i) {
        if (std::isnan(a[i])) {
          ASSERT_TRUE(std::isnan(b[i])) << ggml_type_name(t) << " " << i;
        } else {
          ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i]))
              << ggml_type_name(t) << " " << i;
        }
      }
    }
    std::vector<uint16_t> ha(floats.size()), hb(floats.size());
    quantize_row_ref(t, floats.data(), ha.data(), static_cast<int64_t>(floats.size()));
    k.from_float[id](floats.data(), hb.data(), static_cast<int64_t>(floats.size()));
    for (size_t i = 0; i < floats.size(); ++i) {
      if (std::isnan(floats[i])) continue;
      ASSERT_EQ(ha[i], hb[i]) << ggml_type_name(t) << " value " << floats[i];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Twin, ::testing::Values(Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           return std::string(isa_name(p.param));
                         });

TEST(Dispatch, ActiveIsaIsSupportedAndEnvCanLowerIt) {
  EXPECT_TRUE(cpu_supports(active_isa()));
  EXPECT_TRUE(cpu_supports(Isa::kScalar));
  EXPECT_EQ(kernel_table(Isa::kScalar).isa, Isa::kScalar);
  const Isa best = choose_isa(nullptr);
  EXPECT_EQ(choose_isa("scalar"), Isa::kScalar);
  EXPECT_EQ(choose_isa("amx"), best);  // never above what the CPU supports
  EXPECT_EQ(choose_isa("bogus"), best);
  if (cpu_supports(Isa::kAvx2)) {
    EXPECT_EQ(choose_isa("avx2"), Isa::kAvx2);
  }
  if (cpu_supports(Isa::kAvx512)) {
    EXPECT_EQ(choose_isa("avx512"), Isa::kAvx512);
  } else {
    EXPECT_EQ(choose_isa("avx512"), best);
  }
  if (cpu_supports(Isa::kAmx)) {
    EXPECT_TRUE(cpu_supports(Isa::kAvx512));  // AMX tables reuse every AVX-512 kernel
  }
}

}  // namespace
}  // namespace hark::kernels
