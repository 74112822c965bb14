// Horizontal reductions of an 8-float AVX vector (and, in AVX-512 files, a 16-float one), shared by the x86
// kernel files. Included only by
// src/kernels/avx2/*.cpp and src/kernels/avx512/*.cpp (via x86_qdot.h or directly), which are compiled with
// different flags; the anonymous namespace gives each of them its own copy, so the linker can never mix them.
#pragma once

#include <immintrin.h>

namespace hark::kernels {
namespace {  // NOLINT(google-build-namespaces): deliberate per-ISA copies, see above

inline float hsum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

inline float hmax8(__m256 v) {
  const __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(t, _mm_movehdup_ps(t)));
}

#ifdef __AVX512F__
// (_mm512_reduce_add_ps reads an "undefined" register that GCC 12's -Wuninitialized flags.)
inline float hsum16(__m512 v) {
  return hsum8(
      _mm256_add_ps(_mm512_maskz_extractf32x8_ps(0xff, v, 0), _mm512_maskz_extractf32x8_ps(0xff, v, 1)));
}

inline float hmax16(__m512 v) {
  return hmax8(
      _mm256_max_ps(_mm512_maskz_extractf32x8_ps(0xff, v, 0), _mm512_maskz_extractf32x8_ps(0xff, v, 1)));
}
#endif

}  // namespace
}  // namespace hark::kernels
