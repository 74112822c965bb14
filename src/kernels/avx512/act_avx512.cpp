// AVX-512 silu, GLU gate, GELU gate, soft-cap, log-sum-exp, the audio encoder's local attention and
// RMS-norm. silu and GLU: exp over 16 lanes by range reduction (exp_poly.h, x86_exp16.h), 2^k applied with
// vscalefps; beyond the +-87 clamp silu and the gate are 0 or the identity to float precision anyway. GELU
// looks its F16 table up with a gather, so it gives the scalar twin's bits; tanh (soft-cap) is built on the
// same exp.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/x86_exp16.h"
#include "kernels/x86_reduce.h"

namespace hark::kernels {
namespace {

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

void softcap16(float* x, int64_t n, float cap) {
  const __m512 inv = _mm512_set1_ps(1.0f / cap), c = _mm512_set1_ps(cap);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    _mm512_mask_storeu_ps(x + i, m, softcap_v16(_mm512_maskz_loadu_ps(m, x + i), inv, c));
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

// Each score from two FMA dot products over 16 lanes and their horizontal sums; then the soft-cap, max and
// exponentials 16 scores at a time (an exponential below e^-87 of the largest counts as 0, as in
// log_sum_exp16), and each 16-float chunk of the output summed over the keys in a register.
void local_attend16(const float* q, const float* k, const float* v, const float* rel, int64_t ld, int n_keys,
                    int64_t d, float cap, float* out) {
  alignas(64) float s[kMaxLocalKeys];  // scores, then softmax weights
  for (int j = 0; j < n_keys; ++j) {
    const float* kj = k - j * ld;
    const float* rj = rel + j * ld;
    __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 16) {
      const __mmask16 m = tail16(d - i);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
      a = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, kj + i), a);
      b = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, rj + i), b);
    }
    s[j] = hsum16(a) + hsum16(b);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / cap), c = _mm512_set1_ps(cap);
  __m512 mv = _mm512_set1_ps(-INFINITY);
  for (int j = 0; j < n_keys; j += 16) {
    const __mmask16 m = tail16(n_keys - j);
    const __m512 t = softcap_v16(_mm512_maskz_loadu_ps(m, s + j), inv, c);
    _mm512_mask_storeu_ps(s + j, m, t);
    mv = _mm512_mask_max_ps(mv, m, mv, t);
  }
  const __m512 mx = _mm512_set1_ps(hmax16(mv));
  const __m512 floor = _mm512_set1_ps(-exp_poly::kClamp);
  __m512 sum = _mm512_setzero_ps();
  for (int j = 0; j < n_keys; j += 16) {
    const __mmask16 m = tail16(n_keys - j);
    const __m512 x = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), mx);
    const __m512 e = _mm512_maskz_mov_ps(m & _mm512_cmp_ps_mask(x, floor, _CMP_GE_OQ), exp16(x));
    _mm512_mask_storeu_ps(s + j, m, e);
    sum = _mm512_add_ps(sum, e);
  }
  const float inv_sum = 1.0f / hsum16(sum);
  for (int j = 0; j < n_keys; ++j) s[j] *= inv_sum;
  for (int64_t i = 0; i < d; i += 16) {
    const __mmask16 m = tail16(d - i);
    __m512 acc = _mm512_setzero_ps();
    for (int j = 0; j < n_keys; ++j)
      acc = _mm512_fmadd_ps(_mm512_set1_ps(s[j]), _mm512_maskz_loadu_ps(m, v - j * ld + i), acc);
    _mm512_mask_storeu_ps(out + i, m, acc);
  }
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
  t.local_attend = local_attend16;
  t.rms_norm = rms_norm16;
}

}  // namespace hark::kernels
