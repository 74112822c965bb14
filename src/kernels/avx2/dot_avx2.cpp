// AVX2 + FMA + F16C kernels. The int8 products use vpmaddubsw (u8 x s8 -> pairs in s16) then vpmaddwd.
#include <immintrin.h>

#include "core/fp16.h"
#include "kernels/dispatch.h"
#include "kernels/x86_qdot.h"

namespace hark::kernels {
namespace {

struct Avx2Ops {
  static __m256i dot_u8s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
  }
  // Scales applied to the 16 s16 pair sums: [a] x 16, or [a] x 8 then [b] x 8 (bytes 0-15 / 16-31).
  static __m256i scale1(int a) { return _mm256_set1_epi16(static_cast<int16_t>(a)); }
  static __m256i scale2(int a, int b) {
    return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(b)), _mm_set1_epi16(static_cast<int16_t>(a)));
  }
  static __m256i dot_scaled(__m256i u, __m256i s, __m256i scale) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale);
  }
};

float dot_f32(int64_t n, const void* w, const void* x) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    prefetch_weights<2>(a + i);
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * k), _mm256_loadu_ps(b + i + 8 * k), acc[k]);
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc[0]);
  float s = hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline __m256 load_f16(const fp16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 load_bf16(const bf16_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

template <__m256 (*Load)(const uint16_t*), float (*ToF32)(uint16_t)>
float dot_half(int64_t n, const void* w, const void* x) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const uint16_t* b = static_cast<const uint16_t*>(x);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    prefetch_weights<1>(a + i);
    for (int k = 0; k < 4; ++k) acc[k] = _mm256_fmadd_ps(Load(a + i + 8 * k), Load(b + i + 8 * k), acc[k]);
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(Load(a + i), Load(b + i), acc[0]);
  float s = hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) s += ToF32(a[i]) * ToF32(b[i]);
  return s;
}

// F16/BF16 <-> F32 for KV caches and embedding rows. F16C rounds to nearest even like f32_to_fp16; the
// BF16 rounding is the same integer trick as f32_to_bf16, NaNs included.
void row_f16_to_f32(const void* src, float* dst, int64_t n) {
  const fp16_t* s = static_cast<const fp16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16(s + i));
  for (; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
}

void row_bf16_to_f32(const void* src, float* dst, int64_t n) {
  const bf16_t* s = static_cast<const bf16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16(s + i));
  for (; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
}

void row_f32_to_f16(const float* src, void* dst, int64_t n) {
  fp16_t* d = static_cast<fp16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), h);
  }
  for (; i < n; ++i) d[i] = f32_to_fp16(src[i]);
}

void row_f32_to_bf16(const float* src, void* dst, int64_t n) {
  bf16_t* d = static_cast<bf16_t*>(dst);
  int64_t i = 0;
  const __m256i lsb = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff);
  for (; i + 8 <= n; i += 8) {
    const __m256i x = _mm256_castps_si256(_mm256_loadu_ps(src + i));
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), lsb);
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(bias, odd)), 16);
    // NaN (|x| above inf) keeps its top bits and is forced quiet.
    const __m256i abs = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
    const __m256i nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(64));
    const __m256i r = _mm256_blendv_epi8(rounded, quiet, nan);
    // packus works per 128-bit lane; the permute puts the two lanes' 4 halves next to each other.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), _mm256_castsi256_si128(packed));
  }
  for (; i < n; ++i) d[i] = f32_to_bf16(src[i]);
}

constexpr int id(GgmlType t) {
  return static_cast<int>(t);
}

}  // namespace

void fill_avx2(KernelTable& t) {
  t.dot[id(GgmlType::F32)] = dot_f32;
  t.dot[id(GgmlType::F16)] = dot_half<load_f16, fp16_to_f32>;
  t.dot[id(GgmlType::BF16)] = dot_half<load_bf16, bf16_to_f32>;
  t.dot[id(GgmlType::Q4_0)] = qdot_q4_0<Avx2Ops>;
  t.dot[id(GgmlType::Q4_1)] = qdot_q4_1<Avx2Ops>;
  t.dot[id(GgmlType::Q5_0)] = qdot_q5_0<Avx2Ops>;
  t.dot[id(GgmlType::Q5_1)] = qdot_q5_1<Avx2Ops>;
  t.dot[id(GgmlType::Q8_0)] = qdot_q8_0<Avx2Ops>;
  t.dot[id(GgmlType::Q4_K)] = qdot_q4_k<Avx2Ops>;
  t.dot[id(GgmlType::Q5_K)] = qdot_q5_k<Avx2Ops>;
  t.dot[id(GgmlType::Q6_K)] = qdot_q6_k<Avx2Ops>;
  t.to_float[id(GgmlType::F16)] = row_f16_to_f32;
  t.to_float[id(GgmlType::BF16)] = row_bf16_to_f32;
  t.from_float[id(GgmlType::F16)] = row_f32_to_f16;
  t.from_float[id(GgmlType::BF16)] = row_f32_to_bf16;
}

}  // namespace hark::kernels
