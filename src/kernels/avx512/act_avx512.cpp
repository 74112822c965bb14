// AVX-512 silu, GLU gate, GELU gate, soft-cap and RMS-norm. silu and GLU: exp over 16 lanes by range
// reduction (exp_poly.h), 2^k applied with vscalefps; beyond the +-87 clamp silu and the gate are 0 or the
// identity to float precision anyway. GELU looks its F16 table up with a gather, so it gives the scalar
// twin's bits; tanh (soft-cap) is built on the same exp.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/exp_poly.h"

namespace hark::kernels {
namespace {

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

// 1 + exp(-b), the denominator of both.
inline __m512 one_plus_exp_neg(__m512 b) {
  return _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), b)));
}

inline __mmask16 tail16(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}

void silu16(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_div_ps(v, one_plus_exp_neg(v)));
  }
}

void glu16(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    const __m512 gate =
        _mm512_div_ps(_mm512_set1_ps(1.0f), one_plus_exp_neg(_mm512_maskz_loadu_ps(m, b + i)));
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), gate));
  }
}

void gelu_mul16(const float* g, const float* u, float* y, int64_t n) {
  const void* table = gelu_f16_table();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    const __m512 x = _mm512_maskz_loadu_ps(m, g + i);
    const __m256i h = _mm512_maskz_cvtps_ph(0xffff, x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    // 32-bit gathers at byte offset 2 h; the low half of each is the entry (the table has one spare entry).
    const __m512i w = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m,
                                                  _mm512_maskz_cvtepu16_epi32(0xffff, h), table, 2);
    __m512 v = _mm512_maskz_cvtph_ps(0xffff, _mm512_maskz_cvtepi32_epi16(0xffff, w));
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(10.0f), _CMP_GE_OQ), v, x);
    v = _mm512_maskz_mov_ps(
        static_cast<__mmask16>(~_mm512_cmp_ps_mask(x, _mm512_set1_ps(-10.0f), _CMP_LE_OQ)), v);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, u + i)));
  }
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

void softcap16(float* x, int64_t n, float cap) {
  const __m512 inv = _mm512_set1_ps(1.0f / cap), c = _mm512_set1_ps(cap);
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    const __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv);
    const __m512i s = _mm512_maskz_and_epi32(0xffff, _mm512_castps_si512(y), sign);
    const __m512 a = _mm512_castsi512_ps(_mm512_maskz_andnot_epi32(0xffff, sign, _mm512_castps_si512(y)));
    const __m512 t =
        _mm512_castsi512_ps(_mm512_maskz_or_epi32(0xffff, _mm512_castps_si512(tanh_abs16(a)), s));
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(t, c));
  }
}

// The largest value over 16 lanes, then exp16(x - m) (at most 1 and at least e^-87, flushed to 0 below:
// terms under 1e-38 of the largest) summed in double over 16 lanes.
float log_sum_exp16(const float* x, int64_t n) {
  __m512 mv = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += 16)
    mv = _mm512_maskz_max_ps(0xffff, mv,
                             _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail16(n - i), x + i));
  alignas(64) float lanes[16];  // (GCC 12's _mm512_reduce_max_ps trips -Wuninitialized)
  _mm512_store_ps(lanes, mv);
  float mx = lanes[0];
  for (float v : lanes) mx = std::max(mx, v);
  if (!std::isfinite(mx)) return mx;
  const __m512 m = _mm512_set1_ps(mx);
  const __m512 floor = _mm512_set1_ps(-exp_poly::kClamp);
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(tail16(n - i), x + i), m);
    // Lanes past the end and terms exp16 would clamp (x - m < -87, including -inf) add nothing.
    const __mmask16 keep = tail16(n - i) & _mm512_cmp_ps_mask(d, floor, _CMP_GE_OQ);
    const __m512 e = _mm512_maskz_mov_ps(keep, exp16(d));
    lo = _mm512_add_pd(lo, _mm512_maskz_cvtps_pd(0xff, _mm512_maskz_extractf32x8_ps(0xff, e, 0)));
    hi = _mm512_add_pd(hi, _mm512_maskz_cvtps_pd(0xff, _mm512_maskz_extractf32x8_ps(0xff, e, 1)));
  }
  alignas(64) double part[8];  // (GCC 12's _mm512_reduce_add_pd trips -Wuninitialized)
  _mm512_store_pd(part, _mm512_add_pd(lo, hi));
  double sum = 0;
  for (double p : part) sum += p;
  return mx + static_cast<float>(std::log(sum));
}

// The squares summed in double over 16 lanes (each product exact, as the twin's), then the same float
// scale and products as the twin.
void rms_norm16(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(tail16(n - i), x + i);
    const __m512d a = _mm512_maskz_cvtps_pd(0xff, _mm512_maskz_extractf32x8_ps(0xff, v, 0));
    const __m512d b = _mm512_maskz_cvtps_pd(0xff, _mm512_maskz_extractf32x8_ps(0xff, v, 1));
    lo = _mm512_fmadd_pd(a, a, lo);
    hi = _mm512_fmadd_pd(b, b, hi);
  }
  alignas(64) double part[8];  // (GCC 12's _mm512_reduce_add_pd trips -Wuninitialized)
  _mm512_store_pd(part, _mm512_add_pd(lo, hi));
  double sum = 0;
  for (double p : part) sum += p;
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt(mean + eps));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), scale);
    if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i));
    _mm512_mask_storeu_ps(y + i, m, v);
  }
}

}  // namespace

void fill_avx512_act(KernelTable& t) {
  t.silu = silu16;
  t.glu = glu16;
  t.gelu_mul = gelu_mul16;
  t.softcap = softcap16;
  t.log_sum_exp = log_sum_exp16;
  t.rms_norm = rms_norm16;
}

}  // namespace hark::kernels
