// AVX-512 (F/BW/DQ/VL) + VNNI + BF16 kernels. Int8 products use VNNI vpdpbusd on 256-bit vectors (one
// 32-quant block per vector, no s16 saturation step); float dots use 512-bit FMA, BF16 uses vdpbf16ps.
#include <immintrin.h>

#include <bit>
#include <cstring>

#include "core/fp16.h"
#include "kernels/dispatch.h"
#include "kernels/x86_qdot.h"

namespace hark::kernels {
namespace {

struct VnniOps {
  static __m256i dot_u8s8(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }
  // Scales applied to the 8 s32 sums: [a] x 8, or [a] x 4 then [b] x 4 (bytes 0-15 / 16-31).
  static __m256i scale1(int a) { return _mm256_set1_epi32(a); }
  static __m256i scale2(int a, int b) { return _mm256_setr_epi32(a, a, a, a, b, b, b, b); }
  static __m256i dot_scaled(__m256i u, __m256i s, __m256i scale) {
    return _mm256_mullo_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s), scale);
  }
};

// GCC 12's _mm512_cvtph_ps reads an "undefined" register that -Wuninitialized flags; this spells the same
// operation without it (hsum16: x86_reduce.h).
inline __m512 cvt_f16(__m256i h) {
  return _mm512_maskz_cvtph_ps(0xffff, h);
}

float dot_f32(int64_t n, const void* w, const void* x) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    prefetch_weights<4>(a + i);
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16 * k), _mm512_loadu_ps(b + i + 16 * k), acc[k]);
  }
  for (; i + 16 <= n; i += 16)
    acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc[0]);
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc[1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc[1]);
  }
  return hsum16(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

float dot_f16(int64_t n, const void* w, const void* x) {
  const fp16_t* a = static_cast<const fp16_t*>(w);
  const fp16_t* b = static_cast<const fp16_t*>(x);
  auto load = [](const fp16_t* p) {
    return cvt_f16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  };
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    prefetch_weights<2>(a + i);
    for (int k = 0; k < 4; ++k) acc[k] = _mm512_fmadd_ps(load(a + i + 16 * k), load(b + i + 16 * k), acc[k]);
  }
  for (; i + 16 <= n; i += 16) acc[0] = _mm512_fmadd_ps(load(a + i), load(b + i), acc[0]);
  float s = hsum16(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) s += fp16_to_f32(a[i]) * fp16_to_f32(b[i]);
  return s;
}

// vdpbf16ps: each f32 lane accumulates the two bf16 products of its pair (exact products, as ggml's
// AVX-512 BF16 path computes them).
float dot_bf16(int64_t n, const void* w, const void* x) {
  const bf16_t* a = static_cast<const bf16_t*>(w);
  const bf16_t* b = static_cast<const bf16_t*>(x);
  auto load = [](const bf16_t* p) { return std::bit_cast<__m512bh>(_mm512_loadu_si512(p)); };
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    prefetch_weights<2>(a + i);
    acc[0] = _mm512_dpbf16_ps(acc[0], load(a + i), load(b + i));
    acc[1] = _mm512_dpbf16_ps(acc[1], load(a + i + 32), load(b + i + 32));
  }
  for (; i + 32 <= n; i += 32) acc[0] = _mm512_dpbf16_ps(acc[0], load(a + i), load(b + i));
  float s = hsum16(_mm512_add_ps(acc[0], acc[1]));
  for (; i < n; ++i) s += bf16_to_f32(a[i]) * bf16_to_f32(b[i]);
  return s;
}

constexpr int id(GgmlType t) {
  return static_cast<int>(t);
}

// Horizontal sum of 16 integer lanes (hmax16: x86_reduce.h; maskz extracts: GCC 12 warns on the
// _mm512_reduce_* helpers).
inline int hsum16i(__m512i v) {
  const __m256i a = _mm256_add_epi32(_mm512_maskz_extracti32x8_epi32(0xff, v, 0),
                                     _mm512_maskz_extracti32x8_epi32(0xff, v, 1));
  __m128i b = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  b = _mm_hadd_epi32(b, b);
  b = _mm_hadd_epi32(b, b);
  return _mm_cvtsi128_si32(b);
}

// Q8_K activations, bit for bit as quantize_q8_k for finite inputs: the block's largest |x| (the first one on
// ties) sets iscale = -127 / x; q = min(127, round(iscale * x)) in the current rounding mode (nearbyintf's);
// bsums are the sums of 16. The reference's per-element scalar loop was ~1 % of a decode step, on the
// calling thread.
void to_q8_k(const float* src, void* dst, int64_t n) {
  BlockQ8_K* y = static_cast<BlockQ8_K*>(dst);
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQK_K) {
    __m512 m = _mm512_setzero_ps();
    for (int k = 0; k < kQK_K; k += 16)
      m = _mm512_maskz_max_ps(0xffff, m, _mm512_and_ps(_mm512_loadu_ps(src + k), abs_mask));
    const float amax = hmax16(m);
    BlockQ8_K& b = y[i];
    if (!(amax > 0.0f)) {
      std::memset(&b, 0, sizeof(BlockQ8_K));
      continue;
    }
    float max = 0.0f;
    for (int k = 0; k < kQK_K; k += 16) {
      const __mmask16 eq = _mm512_cmp_ps_mask(_mm512_and_ps(_mm512_loadu_ps(src + k), abs_mask),
                                              _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (eq != 0) {
        max = src[k + std::countr_zero(static_cast<unsigned>(eq))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m512 is = _mm512_set1_ps(iscale);
    for (int k = 0; k < kQK_K; k += 16) {
      const __m512i q = _mm512_maskz_min_epi32(
          0xffff, _mm512_maskz_cvtps_epi32(0xffff, _mm512_mul_ps(is, _mm512_loadu_ps(src + k))),
          _mm512_set1_epi32(127));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b.qs + k), _mm512_maskz_cvtepi32_epi8(0xffff, q));
      b.bsums[k / 16] = static_cast<int16_t>(hsum16i(q));
    }
    b.d = 1.0f / iscale;
  }
}

}  // namespace

void fill_avx512(KernelTable& t) {
  t.from_float[id(GgmlType::Q8_K)] = to_q8_k;
  t.dot[id(GgmlType::F32)] = dot_f32;
  t.dot[id(GgmlType::F16)] = dot_f16;
  t.dot[id(GgmlType::BF16)] = dot_bf16;
  t.dot[id(GgmlType::Q4_0)] = qdot_q4_0<VnniOps>;
  t.dot[id(GgmlType::Q4_1)] = qdot_q4_1<VnniOps>;
  t.dot[id(GgmlType::Q5_0)] = qdot_q5_0<VnniOps>;
  t.dot[id(GgmlType::Q5_1)] = qdot_q5_1<VnniOps>;
  t.dot[id(GgmlType::Q8_0)] = qdot_q8_0<VnniOps>;
  t.dot[id(GgmlType::Q4_K)] = qdot_q4_k<VnniOps>;
  t.dot[id(GgmlType::Q5_K)] = qdot_q5_k<VnniOps>;
  t.dot[id(GgmlType::Q6_K)] = qdot_q6_k<VnniOps>;
}

}  // namespace hark::kernels
