// Quantize -> dequantize round trips per type on Gaussian data, with error limits derived from each
// format's step size, plus layout checks that pin the bit packing.
#include "core/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/kernels.h"
#include "testutil/testutil.h"

namespace hark {
namespace {

std::vector<float> gaussian(size_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (auto& f : v) f = dist(rng);
  return v;
}

std::vector<float> round_trip(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(ggml_row_size(t, static_cast<int64_t>(x.size())));
  std::vector<float> y(x.size());
  kernels::quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
  kernels::dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

// Relative RMS error limits for N(0, 1) data, derived then given ~10 % headroom. A uniform quantizer with
// step s has RMS error s / sqrt(12). Symmetric b-bit blocks scale by the block's absmax (E ~ 2.45 sigma for
// 32 Gaussians, ~3.1 for 256), step amax / 2^(b-1): Q8_0 2.45/127/3.46 = 0.0056, Q8_K 3.1/127/3.46 =
// 0.0071, Q5_0 0.044, Q4_0 0.088. Asymmetric blocks span the range (E ~ 4.1 sigma for 32) in 2^b - 1 steps:
// Q4_1 0.079, Q5_1 0.038. F16/BF16 round to 11/8 significant bits: at most 2^-11/sqrt(3) = 2.8e-4 and
// 2^-8/sqrt(3) = 2.3e-3. The K-quants fit their scales (no closed form): their limits are the measured
// values (Q4_K 0.0718, Q5_K 0.0358, Q6_K 0.0177, Q3_K 0.154, Q2_K 0.289) plus 10 %; a scale-packing or
// search bug costs far more. (Q3_K: 3 bits over amax(16) ~ 2.1 sigma, step ~0.52: 0.15 unfitted.)
struct RoundTripCase {
  GgmlType type;
  double max_rel_rms;
};

class RoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(RoundTrip, ErrorWithinFormatLimit) {
  const auto c = GetParam();
  const auto x = gaussian(256 * 64, 1234);
  const auto y = round_trip(c.type, x);
  const double err = test::rel_rms(x.data(), y.data(), x.size());
  EXPECT_LT(err, c.max_rel_rms) << ggml_type_name(c.type);
}

INSTANTIATE_TEST_SUITE_P(
    Types, RoundTrip,
    ::testing::Values(RoundTripCase{GgmlType::F16, 2.9e-4}, RoundTripCase{GgmlType::BF16, 2.3e-3},
                      RoundTripCase{GgmlType::Q8_0, 0.0062}, RoundTripCase{GgmlType::Q8_1, 0.0062},
                      RoundTripCase{GgmlType::Q8_K, 0.0078}, RoundTripCase{GgmlType::Q5_0, 0.048},
                      RoundTripCase{GgmlType::Q5_1, 0.042}, RoundTripCase{GgmlType::Q4_0, 0.097},
                      RoundTripCase{GgmlType::Q4_1, 0.087}, RoundTripCase{GgmlType::Q4_K, 0.079},
                      RoundTripCase{GgmlType::Q5_K, 0.040}, RoundTripCase{GgmlType::Q6_K, 0.0195},
                      RoundTripCase{GgmlType::Q2_K, 0.32}, RoundTripCase{GgmlType::Q3_K, 0.17}),
    [](const ::testing::TestParamInfo<RoundTripCase>& p) {
      return std::string(ggml_type_name(p.param.type));
    });

// F32 round trips exactly.
TEST(Quant, F32IsIdentity) {
  const auto x = gaussian(64, 7);
  EXPECT_EQ(round_trip(GgmlType::F32, x), x);
}

// Values that a format represents exactly must survive: integers times a power-of-two scale.
TEST(Quant, ExactlyRepresentableValuesSurviveQ8_0AndQ4_0) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>((i % 16) - 8) * 0.25f;  // Q4_0 levels, d = -0.25
  x[0] = -2.0f;                                                                  // the signed extreme is -8*d
  EXPECT_EQ(round_trip(GgmlType::Q4_0, x), x);
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i - 16);
  x[31] = 127.0f;  // d = 1 exactly
  EXPECT_EQ(round_trip(GgmlType::Q8_0, x), x);
}

// Pins the Q4_0 nibble order: element j in the low nibble of byte j, element j + 16 in the high nibble.
TEST(Quant, Q4_0NibbleOrder) {
  BlockQ4_0 b{};
  b.d = f32_to_fp16(1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_q4_0(&b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], static_cast<float>(j - 8));
    EXPECT_EQ(y[j + 16], static_cast<float>(7 - j));
  }
}

// Pins the 6-bit scale packing of Q4_K: scale j and min j unpacked from hand-packed bytes.
TEST(Quant, Q4_KScalePacking) {
  BlockQ4_K b{};
  b.d = f32_to_fp16(1.0f);
  b.dmin = f32_to_fp16(1.0f);
  const int sc[8] = {1, 2, 3, 63, 40, 17, 33, 62};
  const int mn[8] = {5, 0, 63, 7, 48, 31, 16, 1};
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    unpack_scale_min_k4(j, b.scales, &s, &m);
    EXPECT_EQ(s, sc[j]) << j;
    EXPECT_EQ(m, mn[j]) << j;
  }
  // All quants 1: sub-block j dequantizes to sc[j] - mn[j].
  std::fill(std::begin(b.qs), std::end(b.qs), uint8_t{0x11});
  float y[256];
  dequantize_q4_k(&b, y, 256);
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[32 * j + 5], static_cast<float>(sc[j] - mn[j])) << j;
}

// Pins the Q3_K layout: 6-bit scales (+32) split into low nibbles (bytes 0-7) and 2-bit tops (bytes 8-11),
// and the hmask bit of element e at hmask[e % 32], bit e / 32, where a clear bit means "minus 4".
TEST(Quant, Q3_KLayout) {
  BlockQ3_K b{};
  b.d = f32_to_fp16(1.0f);
  int sc[16];
  for (int j = 0; j < 16; ++j) sc[j] = (j * 13 + 5) % 64;  // stored values 0..63
  for (int j = 0; j < 16; ++j) {
    b.scales[j % 8] |= static_cast<uint8_t>((sc[j] & 15) << (j < 8 ? 0 : 4));
    b.scales[8 + j % 4] |= static_cast<uint8_t>((sc[j] >> 4) << (2 * (j / 4)));
  }
  for (int j = 0; j < 16; ++j) EXPECT_EQ(unpack_scale_q3k(j, b.scales), sc[j] - 32) << j;
  b.hmask[7] = 1u << 5;  // element 5 * 32 + 7 = 167 gets its high bit
  float y[256];
  dequantize_q3_k(&b, y, 256);  // all 2-bit quants 0: q = -4 except element 167 (q = 0)
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], e == 167 ? 0.0f : -4.0f * (sc[e / 16] - 32)) << e;
}

// Q8_K's bsums are the sums of its 16-element groups and d * q reproduces the input to half a step.
TEST(Quant, Q8_KBsums) {
  const auto x = gaussian(512, 99);
  std::vector<BlockQ8_K> q(2);
  quantize_q8_k(x.data(), q.data(), 512);
  for (const auto& b : q) {
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += b.qs[16 * g + l];
      EXPECT_EQ(b.bsums[g], s);
    }
  }
}

TEST(Quant, ZeroBlocksStayZero) {
  const std::vector<float> x(256, 0.0f);
  for (GgmlType t :
       {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1,
        GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K}) {
    EXPECT_EQ(round_trip(t, x), x) << ggml_type_name(t);
  }
}

TEST(Quant, UnsupportedTypeAndBadLengthThrow) {
  float x[256] = {};
  uint8_t buf[1024];
  EXPECT_THROW(kernels::dequantize_row(GgmlType::IQ2_XXS, buf, x, 256), Error);
  EXPECT_THROW(kernels::quantize_row(GgmlType::Q4_K, x, buf, 100), Error);
}

}  // namespace
}  // namespace hark
