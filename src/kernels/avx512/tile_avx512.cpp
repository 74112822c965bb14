// AVX-512 register-blocked tiles for prefill (several tokens per matmul): each weight vector loaded (and
// unpacked) once serves every token of the tile, and each activation vector serves every row, so the
// inner loop is bound by FMA / VNNI throughput instead of loads and unpacking. matvec keeps the dots.
#include <immintrin.h>

#include <bit>
#include <cstring>
#include <type_traits>

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
// to s16 and multiplied by their 6-bit scales in one vpmaddwd. Scales and mins come from k4_words (no
// per-sub-block branches) and the min term is a vpmaddwd of the activation group sums.
struct K4Scales {
  __m256i group[4];  // per group g, each 128-bit lane: [scale 2g] x 4, [scale 2g + 1] x 4 (s16)
  __m256i mins;      // [min j] x 2 for j = 0..7 (s16), matching the 16 bsums
};

inline K4Scales k4_scales(const uint8_t* q) {
  const K4Words w = k4_words(q);
  const __m128i sc =
      _mm_cvtepu8_epi16(_mm_setr_epi32(static_cast<int>(w.sc_lo), static_cast<int>(w.sc_hi), 0, 0));
  const __m128i s01 = _mm_unpacklo_epi16(sc, sc), s23 = _mm_unpackhi_epi16(sc, sc);
  K4Scales k;
  k.group[0] = _mm256_broadcastsi128_si256(_mm_unpacklo_epi32(s01, s01));
  k.group[1] = _mm256_broadcastsi128_si256(_mm_unpackhi_epi32(s01, s01));
  k.group[2] = _mm256_broadcastsi128_si256(_mm_unpacklo_epi32(s23, s23));
  k.group[3] = _mm256_broadcastsi128_si256(_mm_unpackhi_epi32(s23, s23));
  k.mins = k4_mins16(w);
  return k;
}

// Q4_K and Q5_K (B = BlockQ5_K adds bit 4 from qh; lanes stay <= 4 * 31 * 127, still s16).
template <class B, int R, int T>
void k4_tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
  constexpr bool kQ5 = std::is_same_v<B, BlockQ5_K>;
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  const __m256i one = _mm256_set1_epi8(1);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const B* a[R];
    const BlockQ8_K* b[T];
    for (int t = 0; t < T; ++t) b[t] = reinterpret_cast<const BlockQ8_K*>(x + t * xs) + i;
    K4Scales sc[R];
    for (int r = 0; r < R; ++r) {
      a[r] = reinterpret_cast<const B*>(w + r * ws) + i;
      sc[r] = k4_scales(a[r]->scales);
      prefetch_weights<(sizeof(B) + 63) / 64>(a[r]);
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
        __m256i q0 = _mm256_and_si256(q, lo4);
        __m256i q1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4);
        if constexpr (kQ5) {
          // Bit 2g (2g + 1) of qh byte l is bit 4 of element l of the low (high) nibble run.
          const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[r]->qh));
          const __m256i h0 = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * g)), one);
          const __m256i h1 = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * g + 1)), one);
          q0 = _mm256_or_si256(q0, _mm256_slli_epi16(h0, 4));
          q1 = _mm256_or_si256(q1, _mm256_slli_epi16(h1, 4));
        }
        for (int t = 0; t < T; ++t) {
          const __m256i p0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q0, y0[t]);
          const __m256i p1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q1, y1[t]);
          sumi[r][t] =
              _mm256_add_epi32(sumi[r][t], _mm256_madd_epi16(_mm256_packs_epi32(p0, p1), sc[r].group[g]));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const float d = h2f(a[r]->d), dmin = h2f(a[r]->dmin);
      for (int t = 0; t < T; ++t) {
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->bsums));
        const __m256 mt = _mm256_cvtepi32_ps(_mm256_madd_epi16(bs, sc[r].mins));
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d * b[t]->d), _mm256_cvtepi32_ps(sumi[r][t]), acc[r][t]);
        acc[r][t] = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * b[t]->d), mt, acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r] = hsum8(acc[r][t]);
}

// Q6_K x Q8_K: quants used unsigned (0..63, VNNI lanes <= 4 * 63 * 127 = 32004 fit s16), the -32 offset
// removed through the activation group sums. Sub-blocks are 16 wide, so within one packed pair of 32-runs
// the low 128-bit lane holds the first sub-block of each run and the high lane the second.
// From the 8 s16 scales of a half (both 128-bit lanes), pair p needs lane 0 = [s 4p] x 4, [s 4p + 2] x 4 and
// lane 1 = [s 4p + 1] x 4, [s 4p + 3] x 4: one byte shuffle per pair.
inline __m256i q6_pair_scales(__m256i s16, int p) {
  static const __m256i kPattern[2] = {
      _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 4, 5, 4, 5, 4, 5, 4, 5, 2, 3, 2, 3, 2, 3, 2, 3, 6, 7, 6, 7, 6,
                       7, 6, 7),
      _mm256_setr_epi8(8, 9, 8, 9, 8, 9, 8, 9, 12, 13, 12, 13, 12, 13, 12, 13, 10, 11, 10, 11, 10, 11, 10, 11,
                       14, 15, 14, 15, 14, 15, 14, 15),
  };
  return _mm256_shuffle_epi8(s16, kPattern[p]);
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
    __m256i half_scales[R][2];  // per half, its 8 scales as s16 in both 128-bit lanes
    for (int r = 0; r < R; ++r) {
      a[r] = reinterpret_cast<const BlockQ6_K*>(w + r * ws) + i;
      prefetch_weights<4>(a[r]);
      const __m256i s16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[r]->scales)));
      half_scales[r][0] = _mm256_permute2x128_si256(s16, s16, 0x00);
      half_scales[r][1] = _mm256_permute2x128_si256(s16, s16, 0x11);
      for (int t = 0; t < T; ++t) {
        // -32 * sum_j scale_j * bsum_j, spread over the 8 lanes.
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->bsums));
        sumi[r][t] =
            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(s16, bs), 5));
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
          const __m256i sc = q6_pair_scales(half_scales[r][h], pair);
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

// Q6_K x Q8_K for one token (decode), R rows, one half block (128 quants, four 32-runs) per 512-bit step.
// The 64 ql bytes give runs 0 and 1 (low nibbles) and runs 2 and 3 (high nibbles), each pair contiguous in
// the activations, so no shuffle is needed; the qh bits come from one 32-byte load shifted per run. After
// packing, 128-bit lane k holds four sums of sub-block 8h + k and four of 8h + 4 + k: one vpermw per half
// places the scales to match.
template <int R>
void q6k_row_tile_t1(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, float* y) {
  const __m512i lo4 = _mm512_set1_epi8(0x0f);
  const __m512i three = _mm512_set1_epi8(3);
  // qh shifts of the runs in each 256-bit half: runs 0, 1 (low nibbles) and runs 2, 3 (high nibbles).
  const __m512i sh_lo = _mm512_maskz_inserti64x4(0xff, _mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  const __m512i sh_hi = _mm512_maskz_inserti64x4(0xff, _mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
  // Word q of 128-bit lane k takes scale 8h + k + 4 * (q / 4).
  alignas(64) static constexpr int16_t kIdx[2][32] = {
      {0, 0, 0, 0, 4, 4, 4, 4, 1, 1, 1, 1, 5, 5, 5, 5, 2, 2, 2, 2, 6, 6, 6, 6, 3, 3, 3, 3, 7, 7, 7, 7},
      {8,  8,  8,  8,  12, 12, 12, 12, 9,  9,  9,  9,  13, 13, 13, 13,
       10, 10, 10, 10, 14, 14, 14, 14, 11, 11, 11, 11, 15, 15, 15, 15}};
  const __m512i idx0 = _mm512_load_si512(kIdx[0]), idx1 = _mm512_load_si512(kIdx[1]);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const BlockQ8_K* b = reinterpret_cast<const BlockQ8_K*>(x) + i;
    __m512i ya[2], yb[2];
    for (int h = 0; h < 2; ++h) {
      ya[h] = _mm512_loadu_si512(b->qs + 128 * h);       // runs 0, 1
      yb[h] = _mm512_loadu_si512(b->qs + 128 * h + 64);  // runs 2, 3
    }
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->bsums));
    for (int r = 0; r < R; ++r) {
      const BlockQ6_K* a = reinterpret_cast<const BlockQ6_K*>(w + r * ws) + i;
      prefetch_weights<4>(a);
      const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a->scales)));
      const __m512i s512 = _mm512_maskz_inserti64x4(0xff, _mm512_setzero_si512(), s16, 0);
      // -32 * sum_j scale_j * bsum_j (the quants are used unsigned, 0..63).
      __m512i sumi = _mm512_maskz_inserti64x4(
          0xff, _mm512_setzero_si512(),
          _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(s16, bs), 5)), 0);
      for (int h = 0; h < 2; ++h) {
        const __m512i l = _mm512_loadu_si512(a->ql + 64 * h);
        const __m256i hb256 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a->qh + 32 * h));
        const __m512i hb = _mm512_maskz_broadcast_i64x4(0xff, hb256);
        const __m512i qa =
            _mm512_or_si512(_mm512_and_si512(l, lo4),
                            _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, sh_lo), three), 4));
        const __m512i qb =
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), lo4),
                            _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, sh_hi), three), 4));
        const __m512i pa = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qa, ya[h]);
        const __m512i pb = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qb, yb[h]);
        const __m512i sc = _mm512_permutexvar_epi16(h == 0 ? idx0 : idx1, s512);
        sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_packs_epi32(pa, pb), sc));
      }
      acc[r] =
          _mm512_fmadd_ps(_mm512_set1_ps(h2f(a->d) * b->d), _mm512_maskz_cvtepi32_ps(0xffff, sumi), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum16(acc[r]);
}

// 32-quant block types (traits Q4_0T ... in x86_qdot.h). The offset (8, 16, 128) times the activation
// block sum is subtracted by starting the vpdpbusd accumulator at -offset * sum(x), computed once per token
// and block. Q4_1/Q5_1 add m * s per block instead.
template <class Q, int R, int T>
void block32_tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
  constexpr bool kHasMin = Q::kOffsetShift < 0;
  const __m256i ones = _mm256_set1_epi8(1);
  __m256 acc[R][T];
  float mins[R][T] = {};  // Q4_1/Q5_1: sum of m * s
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / 32; ++i) {
    __m256i xv[T], base[T];
    __m256 dx[T];
    for (int t = 0; t < T; ++t) {
      const auto& b = reinterpret_cast<const typename Q::X*>(x + t * xs)[i];
      xv[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
      dx[t] = _mm256_set1_ps(h2f(b.d));
      if constexpr (kHasMin) {
        base[t] = _mm256_setzero_si256();
      } else {
        const __m256i sx = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, xv[t]);
        base[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sx, Q::kOffsetShift));
      }
    }
    for (int r = 0; r < R; ++r) {
      const auto& a = reinterpret_cast<const typename Q::W*>(w + r * ws)[i];
      prefetch_weights<1>(&a);
      const __m256i wu = Q::unpack(a);
      const __m256 dw = _mm256_set1_ps(h2f(a.d));
      for (int t = 0; t < T; ++t) {
        const __m256 p = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(base[t], wu, xv[t]));
        acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx[t]), p, acc[r][t]);
      }
      if constexpr (kHasMin) {
        const float m = h2f(a.m);
        for (int t = 0; t < T; ++t)
          mins[r][t] += m * h2f(reinterpret_cast<const typename Q::X*>(x + t * xs)[i].s);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r] = hsum8(acc[r][t]) + mins[r][t];
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
    k4_tile<BlockQ4_K, R, T>(n, w, ws, x, xs, y, ldy);
  }
};
template <int R, int T>
struct Q5KK {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    k4_tile<BlockQ5_K, R, T>(n, w, ws, x, xs, y, ldy);
  }
};
template <int R, int T>
struct Q6KK {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    if constexpr (T == 1) {
      q6k_row_tile_t1<R>(n, w, ws, x, y);
    } else {
      q6k_tile<R, T>(n, w, ws, x, xs, y, ldy);
    }
  }
};

template <int R, int T>
struct Q4_0K {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    block32_tile<Q4_0T, R, T>(n, w, ws, x, xs, y, ldy);
  }
};
template <int R, int T>
struct Q5_0K {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    block32_tile<Q5_0T, R, T>(n, w, ws, x, xs, y, ldy);
  }
};
template <int R, int T>
struct Q8_0K {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    block32_tile<Q8_0T, R, T>(n, w, ws, x, xs, y, ldy);
  }
};
template <int R, int T>
struct Q4_1K {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    block32_tile<Q4_1T, R, T>(n, w, ws, x, xs, y, ldy);
  }
};
template <int R, int T>
struct Q5_1K {
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                  int64_t ldy) {
    block32_tile<Q5_1T, R, T>(n, w, ws, x, xs, y, ldy);
  }
};

constexpr int id(GgmlType t) {
  return static_cast<int>(t);
}

// The 1 x 1 tiles are also the AVX-512 Q4_K, Q5_K and Q6_K dots. From DRAM on one core: Q4_K 8.4 GB/s,
// Q6_K 7.9 against 5.4 for the shared VNNI template.
template <template <int, int> class K>
float tile_dot(int64_t n, const void* w, const void* x) {
  float y;
  K<1, 1>::run(n, static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(x), 0, &y, 1);
  return y;
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
  t.tile[id(GgmlType::Q5_K)] = tile_driver<Q5KK, 2>;
  t.tile[id(GgmlType::Q4_0)] = tile_driver<Q4_0K, 2>;
  t.tile[id(GgmlType::Q5_0)] = tile_driver<Q5_0K, 2>;
  t.tile[id(GgmlType::Q8_0)] = tile_driver<Q8_0K, 2>;
  t.tile[id(GgmlType::Q4_1)] = tile_driver<Q4_1K, 2>;
  t.tile[id(GgmlType::Q5_1)] = tile_driver<Q5_1K, 2>;
  t.dot[id(GgmlType::Q4_K)] = tile_dot<Q4KK>;
  t.dot[id(GgmlType::Q5_K)] = tile_dot<Q5KK>;
  t.dot[id(GgmlType::Q6_K)] = tile_dot<Q6KK>;
}

}  // namespace hark::kernels
