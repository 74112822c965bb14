// AVX-512 register-blocked tiles for prefill (several tokens per matmul): each weight vector loaded (and
// unpacked) once serves every token of the tile, and each activation vector serves every row, so the
// inner loop is bound by FMA / VNNI throughput instead of loads and unpacking. matvec keeps the dots.
#include <immintrin.h>

#include <bit>

#include "core/fp16.h"
#include "kernels/dispatch.h"
#include "kernels/x86_qdot.h"

namespace hark::kernels {
namespace {

inline float hsum16(__m512 v) {
  return hsum8(
      _mm256_add_ps(_mm512_maskz_extractf32x8_ps(0xff, v, 0), _mm512_maskz_extractf32x8_ps(0xff, v, 1)));
}

// Float types: 16 lanes per step (F32, F16) or 32 bf16 pairs per step (vdpbf16ps). Masked loads cover the
// tail, zero lanes add nothing.
struct F32Elems {
  using T = float;
  static constexpr int kStep = 16;
  static __m512 load(const float* p, __mmask32 m) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p);
  }
  static __m512 fma(__m512 a, __m512 b, __m512 acc) { return _mm512_fmadd_ps(a, b, acc); }
};
struct F16Elems {
  using T = fp16_t;
  static constexpr int kStep = 16;
  static __m512 load(const fp16_t* p, __mmask32 m) {
    return _mm512_maskz_cvtph_ps(0xffff, _mm256_maskz_loadu_epi16(static_cast<__mmask16>(m), p));
  }
  static __m512 fma(__m512 a, __m512 b, __m512 acc) { return _mm512_fmadd_ps(a, b, acc); }
};
struct Bf16Elems {
  using T = bf16_t;
  static constexpr int kStep = 32;
  static __m512 load(const bf16_t* p, __mmask32 m) {
    return _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(m, p));
  }
  static __m512 fma(__m512 a, __m512 b, __m512 acc) {
    return _mm512_dpbf16_ps(acc, std::bit_cast<__m512bh>(a), std::bit_cast<__m512bh>(b));
  }
};

template <class E, int R, int T>
void float_tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
  using Elem = typename E::T;
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += E::kStep) {
    const int64_t left = n - i;
    const __mmask32 m =
        left >= E::kStep ? static_cast<__mmask32>(~0u) : static_cast<__mmask32>((1u << left) - 1);
    __m512 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = E::load(reinterpret_cast<const Elem*>(x + t * xs) + i, m);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = E::load(reinterpret_cast<const Elem*>(w + r * ws) + i, m);
      for (int t = 0; t < T; ++t) acc[r][t] = E::fma(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r] = hsum16(acc[r][t]);
}

// Q4_K x Q8_K. Per pair of sub-blocks the two VNNI results (each lane <= 4 * 15 * 127, fits s16) are packed
// to s16 and multiplied by their 6-bit scales in one vpmaddwd.
inline __m256i scale_pair(int a, int b) {
  return _mm256_unpacklo_epi64(_mm256_set1_epi16(static_cast<int16_t>(a)),
                               _mm256_set1_epi16(static_cast<int16_t>(b)));
}

template <int R, int T>
void q4k_tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  __m256 acc[R][T];
  float mins[R][T] = {};
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const BlockQ4_K* a[R];
    const BlockQ8_K* b[T];
    for (int t = 0; t < T; ++t) b[t] = reinterpret_cast<const BlockQ8_K*>(x + t * xs) + i;
    __m256i sc[R][4];  // per row, per group of two sub-blocks
    for (int r = 0; r < R; ++r) {
      a[r] = reinterpret_cast<const BlockQ4_K*>(w + r * ws) + i;
      uint8_t s8[8], m8[8];
      for (int j = 0; j < 8; ++j) unpack_scale_min_k4(j, a[r]->scales, &s8[j], &m8[j]);
      for (int g = 0; g < 4; ++g) sc[r][g] = scale_pair(s8[2 * g], s8[2 * g + 1]);
      const float dmin = h2f(a[r]->dmin);
      for (int t = 0; t < T; ++t) {
        int summ = 0;
        for (int j = 0; j < 8; ++j) summ += m8[j] * (b[t]->bsums[2 * j] + b[t]->bsums[2 * j + 1]);
        mins[r][t] += dmin * b[t]->d * static_cast<float>(summ);
      }
    }
    __m256i sumi[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) sumi[r][t] = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      __m256i y0[T], y1[T];
      for (int t = 0; t < T; ++t) {
        y0[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->qs + 64 * g));
        y1[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->qs + 64 * g + 32));
      }
      for (int r = 0; r < R; ++r) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[r]->qs + 32 * g));
        const __m256i q0 = _mm256_and_si256(q, lo4);
        const __m256i q1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4);
        for (int t = 0; t < T; ++t) {
          const __m256i p0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q0, y0[t]);
          const __m256i p1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q1, y1[t]);
          sumi[r][t] = _mm256_add_epi32(sumi[r][t], _mm256_madd_epi16(_mm256_packs_epi32(p0, p1), sc[r][g]));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const float d = h2f(a[r]->d);
      for (int t = 0; t < T; ++t)
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d * b[t]->d), _mm256_cvtepi32_ps(sumi[r][t]), acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r] = hsum8(acc[r][t]) - mins[r][t];
}

// Q6_K x Q8_K: quants used unsigned (0..63, VNNI lanes <= 4 * 63 * 127 = 32004 fit s16), the -32 offset
// removed through the activation group sums. Sub-blocks are 16 wide, so within one packed pair of 32-runs
// the low 128-bit lane holds the first sub-block of each run and the high lane the second.
inline __m256i scale_quad(const int8_t* sc, int run) {
  const __m128i lo = _mm_unpacklo_epi64(_mm_set1_epi16(sc[2 * run]), _mm_set1_epi16(sc[2 * run + 2]));
  const __m128i hi = _mm_unpacklo_epi64(_mm_set1_epi16(sc[2 * run + 1]), _mm_set1_epi16(sc[2 * run + 3]));
  return _mm256_set_m128i(hi, lo);
}

template <int R, int T>
void q6k_tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  const __m256i three = _mm256_set1_epi8(3);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const BlockQ6_K* a[R];
    const BlockQ8_K* b[T];
    for (int t = 0; t < T; ++t) b[t] = reinterpret_cast<const BlockQ8_K*>(x + t * xs) + i;
    __m256i sumi[R][T];
    for (int r = 0; r < R; ++r) {
      a[r] = reinterpret_cast<const BlockQ6_K*>(w + r * ws) + i;
      for (int t = 0; t < T; ++t) {
        int offset = 0;
        for (int j = 0; j < 16; ++j) offset += a[r]->scales[j] * b[t]->bsums[j];
        sumi[r][t] = _mm256_setr_epi32(-32 * offset, 0, 0, 0, 0, 0, 0, 0);
      }
    }
    for (int h = 0; h < 2; ++h) {
      for (int pair = 0; pair < 2; ++pair) {  // runs (0, 1) then (2, 3) of this half
        __m256i ya[T], yb[T];
        for (int t = 0; t < T; ++t) {
          ya[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->qs + 128 * h + 64 * pair));
          yb[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->qs + 128 * h + 64 * pair + 32));
        }
        for (int r = 0; r < R; ++r) {
          const uint8_t* ql = a[r]->ql + 64 * h;
          const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
          const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
          const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[r]->qh + 32 * h));
          // Run k: low (k < 2) or high nibbles of ql run k % 2, high bits at qh bit pair k.
          const int sh = 4 * pair;
          const __m256i na = _mm256_and_si256(_mm256_srl_epi16(l0, _mm_cvtsi32_si128(sh)), lo4);
          const __m256i nb = _mm256_and_si256(_mm256_srl_epi16(l1, _mm_cvtsi32_si128(sh)), lo4);
          const __m256i ha = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * (2 * pair))), three);
          const __m256i hbb =
              _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * (2 * pair + 1))), three);
          const __m256i qa = _mm256_or_si256(na, _mm256_slli_epi16(ha, 4));
          const __m256i qb = _mm256_or_si256(nb, _mm256_slli_epi16(hbb, 4));
          const __m256i sc = scale_quad(a[r]->scales + 8 * h, 2 * pair);
          for (int t = 0; t < T; ++t) {
            const __m256i pa = _mm256_dpbusd_epi32(_mm256_setzero_si256(), qa, ya[t]);
            const __m256i pb = _mm256_dpbusd_epi32(_mm256_setzero_si256(), qb, yb[t]);
            sumi[r][t] = _mm256_add_epi32(sumi[r][t], _mm256_madd_epi16(_mm256_packs_epi32(pa, pb), sc));
          }
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const float d = h2f(a[r]->d);
      for (int t = 0; t < T; ++t)
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d * b[t]->d), _mm256_cvtepi32_ps(sumi[r][t]), acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r] = hsum8(acc[r][t]);
}

using MicroFn = void (*)(int64_t, const uint8_t*, size_t, const uint8_t*, size_t, float*, int64_t);

// Walks a tile in blocks of R rows x nt tokens (nt <= 4), finishing leftover rows one at a time.
template <template <int, int> class K, int R>
void tile_driver(int64_t n, const void* w, size_t ws, int nr, const void* x, size_t xs, int nt, float* y,
                 int64_t ldy) {
  static constexpr MicroFn full[4] = {K<R, 1>::run, K<R, 2>::run, K<R, 3>::run, K<R, 4>::run};
  static constexpr MicroFn one[4] = {K<1, 1>::run, K<1, 2>::run, K<1, 3>::run, K<1, 4>::run};
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const uint8_t* xb = static_cast<const uint8_t*>(x);
  for (int t0 = 0; t0 < nt; t0 += 4) {
    const int tn = nt - t0 < 4 ? nt - t0 : 4;
    int r = 0;
    for (; r + R <= nr; r += R) full[tn - 1](n, wb + r * ws, ws, xb + t0 * xs, xs, y + t0 * ldy + r, ldy);
    for (; r < nr; ++r) one[tn - 1](n, wb + r * ws, ws, xb + t0 * xs, xs, y + t0 * ldy + r, ldy);
  }
}

template <int R, int T>
struct F32K {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    float_tile<F32Elems, R, T>(n, w, ws, x, xs, y, ldy);
  }
};
template <int R, int T>
struct F16K {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    float_tile<F16Elems, R, T>(n, w, ws, x, xs, y, ldy);
  }
};
template <int R, int T>
struct Bf16K {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    float_tile<Bf16Elems, R, T>(n, w, ws, x, xs, y, ldy);
  }
};
template <int R, int T>
struct Q4KK {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    q4k_tile<R, T>(n, w, ws, x, xs, y, ldy);
  }
};
template <int R, int T>
struct Q6KK {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    q6k_tile<R, T>(n, w, ws, x, xs, y, ldy);
  }
};

constexpr int id(GgmlType t) {
  return static_cast<int>(t);
}

}  // namespace

void fill_avx512_tiles(KernelTable& t) {
  // Register budget (32 zmm/ymm): 4 x 4 float accumulators + 4 activations; 2 x 4 quant tiles hold 8 int and
  // 8 float accumulators, 8 activation vectors and the unpacked weights.
  t.tile[id(GgmlType::F32)] = tile_driver<F32K, 4>;
  t.tile[id(GgmlType::F16)] = tile_driver<F16K, 4>;
  t.tile[id(GgmlType::BF16)] = tile_driver<Bf16K, 4>;
  t.tile[id(GgmlType::Q4_K)] = tile_driver<Q4KK, 2>;
  t.tile[id(GgmlType::Q6_K)] = tile_driver<Q6KK, 2>;
}

}  // namespace hark::kernels
