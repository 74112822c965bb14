// AVX-512 silu and GLU gate: exp over 16 lanes by range reduction, exp(x) = 2^k * e^r with k = round(x /
// ln 2) and |r| <= ln 2 / 2, e^r from its degree-6 Taylor polynomial (truncation below 1.2e-7 relative),
// 2^k applied with vscalefps. Inputs are clamped to [-87, 87] first, where exp stays a normal float; beyond
// that silu and the gate are 0 or the identity to float precision anyway.
#include <immintrin.h>

#include <cstdint>

#include "kernels/dispatch.h"

namespace hark::kernels {
namespace {

inline __m512 exp16(__m512 x) {
  // (maskz forms: GCC 12 warns about the undefined pass-through of the plain ones.)
  x = _mm512_maskz_min_ps(0xffff, _mm512_maskz_max_ps(0xffff, x, _mm512_set1_ps(-87.0f)),
                          _mm512_set1_ps(87.0f));
  const __m512 k = _mm512_maskz_roundscale_ps(0xffff, _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // r = x - k ln 2 in two steps (ln 2 = hi + lo, hi exact in few bits) so r keeps its low bits.
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.42860682030941723e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(0xffff, p, k);
}

// 1 + exp(-b), the denominator of both.
inline __m512 one_plus_exp_neg(__m512 b) {
  return _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), b)));
}

void silu16(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m =
        n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_div_ps(v, one_plus_exp_neg(v)));
  }
}

void glu16(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m =
        n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 gate =
        _mm512_div_ps(_mm512_set1_ps(1.0f), one_plus_exp_neg(_mm512_maskz_loadu_ps(m, b + i)));
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), gate));
  }
}

}  // namespace

void fill_avx512_act(KernelTable& t) {
  t.silu = silu16;
  t.glu = glu16;
}

}  // namespace hark::kernels
