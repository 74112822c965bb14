// AVX-512 leaves of the F16 GEMM (gemm.cpp): a 14 x 32 register tile (28 accumulators, two weight
// vectors, one broadcast: 31 of the 32 zmm), so the inner loop is two weight loads (f32, or f16 converted
// on load for weights packed at load), fourteen broadcasts and 28 FMAs per k.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/dispatch.h"

namespace hark::kernels {
namespace {

constexpr int kMr = 14;  // tokens per tile
constexpr int kNr = 32;  // weight rows per tile (two zmm)

// min(hi, max(lo, v)) in that operand order: vmaxps/vminps return their second operand when either is NaN,
// so a NaN passes through as the scalar clamp lets it.
inline __m512 clamp16(__m512 v, __m512 lo, __m512 hi) {
  return _mm512_maskz_min_ps(0xffff, hi, _mm512_maskz_max_ps(0xffff, lo, v));  // (maskz: GCC 12 -Wall)
}

inline __mmask16 lanes(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n > 0 ? n : 0)) - 1);
}

// r[i] = element k of row i for 16 rows and 16 k becomes r[k] = element i of column k (in place).
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int j = 0; j < 8; ++j) {  // lane L of t[2j], t[2j+1]: rows 2j, 2j+1 at k 4L..4L+1, 4L+2..4L+3
    t[2 * j] = _mm512_maskz_unpacklo_ps(0xffff, r[2 * j], r[2 * j + 1]);
    t[2 * j + 1] = _mm512_maskz_unpackhi_ps(0xffff, r[2 * j], r[2 * j + 1]);
  }
  for (int j = 0; j < 4; ++j) {  // lane L of r[4j + c]: rows 4j..4j+3 at k = 4L + c
    const __m512d a0 = _mm512_castps_pd(t[4 * j]), a1 = _mm512_castps_pd(t[4 * j + 1]);
    const __m512d b0 = _mm512_castps_pd(t[4 * j + 2]), b1 = _mm512_castps_pd(t[4 * j + 3]);
    r[4 * j] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xff, a0, b0));
    r[4 * j + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xff, a0, b0));
    r[4 * j + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xff, a1, b1));
    r[4 * j + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xff, a1, b1));
  }
  for (int c = 0; c < 4; ++c) {  // gather lane L of r[c], r[4 + c], r[8 + c], r[12 + c] into k = 4L + c
    const __m512 x0 = _mm512_maskz_shuffle_f32x4(0xffff, r[c], r[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 x1 = _mm512_maskz_shuffle_f32x4(0xffff, r[c], r[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512 y0 = _mm512_maskz_shuffle_f32x4(0xffff, r[8 + c], r[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 y1 = _mm512_maskz_shuffle_f32x4(0xffff, r[8 + c], r[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
    t[c] = _mm512_maskz_shuffle_f32x4(0xffff, x0, y0, _MM_SHUFFLE(2, 0, 2, 0));
    t[4 + c] = _mm512_maskz_shuffle_f32x4(0xffff, x0, y0, _MM_SHUFFLE(3, 1, 3, 1));
    t[8 + c] = _mm512_maskz_shuffle_f32x4(0xffff, x1, y1, _MM_SHUFFLE(2, 0, 2, 0));
    t[12 + c] = _mm512_maskz_shuffle_f32x4(0xffff, x1, y1, _MM_SHUFFLE(3, 1, 3, 1));
  }
  for (int k = 0; k < 16; ++k) r[k] = t[k];
}

// 16 k of every row at a time: contiguous row loads (the prefetchers follow them), a clipped linear's input
// clamp (infinite bounds without one), the round trip through f16 (to nearest even, exactly as the scalar
// f32_to_fp16; checked against gemm_f16_ref), a register transpose, and one store per k. A gather per k (14
// rows 4+ KiB apart) took ~10 % of the tile's time.
void pack_a(const float* x, int64_t ldx, int rows, int64_t kc, const float* bounds, float* dst) {
  const __m512 lo = _mm512_set1_ps(bounds ? bounds[0] : -INFINITY);
  const __m512 hi = _mm512_set1_ps(bounds ? bounds[1] : INFINITY);
  __m512 r[16];
  for (int64_t k = 0; k < kc; k += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, kc - k));
    for (int i = 0; i < 16; ++i) {
      const __m512 v =
          i < rows ? clamp16(_mm512_maskz_loadu_ps(lanes(n), x + i * ldx + k), lo, hi) : _mm512_setzero_ps();
      r[i] = _mm512_maskz_cvtph_ps(
          0xffff, _mm512_maskz_cvtps_ph(0xffff, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    transpose16(r);
    for (int l = 0; l < n; ++l) _mm512_mask_storeu_ps(dst + (k + l) * kMr, lanes(kMr), r[l]);
  }
}

// Each dword gather fetches elements k and k + 1 of 16 weight rows; their low and high halves become two
// rows of the panel. An odd last k is converted one element at a time (a dword there could run past the
// end of the weight).
void pack_b(const uint16_t* w, int64_t ldw, int cols, int64_t kc, float* dst) {
  const __m512i row = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i idx[2] = {_mm512_mullo_epi32(row, _mm512_set1_epi32(static_cast<int>(ldw))),
                          _mm512_mullo_epi32(_mm512_add_epi32(row, _mm512_set1_epi32(16)),
                                             _mm512_set1_epi32(static_cast<int>(ldw)))};
  const __mmask16 m[2] = {lanes(cols), lanes(cols - 16)};
  int64_t k = 0;
  for (; k + 1 < kc; k += 2) {
    for (int h = 0; h < 2; ++h) {
      const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m[h], idx[h], w + k, 2);
      _mm512_storeu_ps(dst + k * kNr + 16 * h,
                       _mm512_maskz_cvtph_ps(0xffff, _mm512_maskz_cvtepi32_epi16(0xffff, g)));
      _mm512_storeu_ps(dst + (k + 1) * kNr + 16 * h,
                       _mm512_maskz_cvtph_ps(0xffff, _mm512_maskz_cvtepi32_epi16(
                                                         0xffff, _mm512_maskz_srli_epi32(0xffff, g, 16))));
    }
  }
  if (k < kc) {
    for (int j = 0; j < kNr; ++j) dst[k * kNr + j] = j < cols ? _cvtsh_ss(w[j * ldw + k]) : 0.0f;
  }
}

inline __m512 load_b(const float* b) {
  return _mm512_loadu_ps(b);
}
inline __m512 load_b(const uint16_t* b) {
  return _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)));
}

// B in f32 (panels packed per call) or f16 (weights packed at load; the two conversions per k ride along
// the 28 FMAs: with operands in cache both run at ~97 % of the Zen 5 VM's FMA peak).
template <class B>
void tile_of(const float* a, const B* b, int64_t kc, float* c, int64_t ldc, int rows, int cols, bool add,
             const float* bounds) {
  __m512 acc[kMr][2];
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    // A streams from L2 (a new line every ~1.1 k); fetching it 16 k ahead measured a few % faster.
    _mm_prefetch(reinterpret_cast<const char*>(a + (k + 16) * kMr), _MM_HINT_T0);
    const __m512 b0 = load_b(b + k * kNr);
    const __m512 b1 = load_b(b + k * kNr + 16);
    for (int i = 0; i < kMr; ++i) {
      const __m512 ai = _mm512_set1_ps(a[k * kMr + i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  const __mmask16 m0 = lanes(cols), m1 = lanes(cols - 16);
  for (int i = 0; i < kMr && i < rows; ++i) {
    float* ci = c + i * ldc;
    if (add) {
      acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_maskz_loadu_ps(m0, ci));
      acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_maskz_loadu_ps(m1, ci + 16));
    }
    if (bounds) {
      const __m512 lo = _mm512_set1_ps(bounds[0]), hi = _mm512_set1_ps(bounds[1]);
      acc[i][0] = clamp16(acc[i][0], lo, hi);
      acc[i][1] = clamp16(acc[i][1], lo, hi);
    }
    _mm512_mask_storeu_ps(ci, m0, acc[i][0]);
    _mm512_mask_storeu_ps(ci + 16, m1, acc[i][1]);
  }
}

}  // namespace

void fill_avx512_gemm(KernelTable& t) {
  t.gemm_f16 = {kMr, kNr, pack_a, pack_b, tile_of<float>, tile_of<uint16_t>};
}

}  // namespace hark::kernels
