#include "core/fp16.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <limits>

namespace hark {
namespace {

// The hardware F16C conversion (round to nearest even) is the reference ggml uses on x86.
__attribute__((target("f16c"))) fp16_t hw_f32_to_fp16(float f) {
  return static_cast<fp16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float hw_fp16_to_f32(fp16_t h) {
  return _cvtsh_ss(h);
}

TEST(Fp16, EveryHalfRoundTripsExactly) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C";
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = fp16_to_f32(static_cast<fp16_t>(h));
    const float ref = hw_fp16_to_f32(static_cast<fp16_t>(h));
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(f)) << h;
      continue;
    }
    ASSERT_EQ(std::bit_cast<uint32_t>(f), std::bit_cast<uint32_t>(ref)) << "half bits " << h;
    ASSERT_EQ(f32_to_fp16(f), h) << "half bits " << h;
  }
}

TEST(Fp16, RoundingMatchesF16cOnManyFloats) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C";
  // Every 4099th float bit pattern covers normals, subnormals, ties and overflow.
  for (uint64_t x = 0; x <= 0xffffffffull; x += 4099) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(x));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_fp16(f), hw_f32_to_fp16(f)) << "float bits " << x;
  }
  for (float f : {65504.0f, 65519.99f, 65520.0f, 1e-8f, 2.98e-8f, 5.96e-8f, -0.0f,
                  std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min()})
    EXPECT_EQ(f32_to_fp16(f), hw_f32_to_fp16(f)) << f;
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(bf16_to_f32(0x4049), std::bit_cast<float>(0x40490000u));
}

}  // namespace
}  // namespace hark
