// exp, tanh and the soft-cap over the 16 floats of an AVX-512 vector, shared by src/kernels/avx512/*.cpp
// (only those include it: the anonymous namespace gives each its own copy, as x86_reduce.h explains). exp16:
// x clamped to +-87 (exp_poly.h), range reduction, degree-6 polynomial, 2^k applied with vscalefps.
#pragma once

#include <immintrin.h>

#include "kernels/exp_poly.h"

namespace hark::kernels {
namespace {  // NOLINT(google-build-namespaces): deliberate per-file copies, see above

inline __m512 exp16(__m512 x) {
  namespace ep = exp_poly;
  // (maskz forms: GCC 12 warns about the undefined pass-through of the plain ones.)
  x = _mm512_maskz_min_ps(0xffff, _mm512_maskz_max_ps(0xffff, x, _mm512_set1_ps(-ep::kClamp)),
                          _mm512_set1_ps(ep::kClamp));
  const __m512 k = _mm512_maskz_roundscale_ps(0xffff, _mm512_mul_ps(x, _mm512_set1_ps(ep::kLog2e)),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(ep::kLn2Hi), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(ep::kLn2Lo), r);
  __m512 p = _mm512_set1_ps(ep::kTaylor[0]);
  for (int i = 1; i < 7; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(ep::kTaylor[i]));
  return _mm512_maskz_scalef_ps(0xffff, p, k);
}

// tanh(a) for a >= 0: below 0.25 its odd Taylor series to a^11 (truncation < 1e-9 relative), above it
// 1 - 2 / (exp(2a) + 1), where tanh >= 0.24 keeps the subtraction's error at a few ulp.
inline __m512 tanh_abs16(__m512 a) {
  const __m512 a2 = _mm512_mul_ps(a, a);
  __m512 p = _mm512_set1_ps(-1382.0f / 155925.0f);
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(62.0f / 2835.0f));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-17.0f / 315.0f));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(2.0f / 15.0f));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-1.0f / 3.0f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, a2), a, a);
  const __m512 e = exp16(_mm512_add_ps(a, a));
  const __m512 large = _mm512_sub_ps(
      _mm512_set1_ps(1.0f), _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.25f), _CMP_LT_OQ), large, small);
}

// cap * tanh(x * inv) with inv = 1 / cap: tanh_abs16 of |x * inv| with the sign put back.
inline __m512 softcap_v16(__m512 x, __m512 inv, __m512 cap) {
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  const __m512 y = _mm512_mul_ps(x, inv);
  const __m512i s = _mm512_maskz_and_epi32(0xffff, _mm512_castps_si512(y), sign);
  const __m512 a = _mm512_castsi512_ps(_mm512_maskz_andnot_epi32(0xffff, sign, _mm512_castps_si512(y)));
  const __m512 t = _mm512_castsi512_ps(_mm512_maskz_or_epi32(0xffff, _mm512_castps_si512(tanh_abs16(a)), s));
  return _mm512_mul_ps(t, cap);
}

}  // namespace
}  // namespace hark::kernels
