// AVX-512 register-blocked tiles for prefill (several tokens per matmul): each weight vector loaded (and
// unpacked) once serves every token of the tile, and each activation vector serves every row, so the
// inner loop is bound by FMA / VNNI throughput instead of loads and unpacking. matvec keeps the dots.
#include <immintrin.h>

#include <bit>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/fp16.h"
#include "kernels/dispatch.h"
#include "kernels/x86_qdot.h"

namespace hark::kernels {
namespace {

// 256 bits zero-extended to 512 (GCC 12's _mm512_zext* start from an undefined register, which -Wall flags).
inline __m512i zext512(__m256i v) {
  return _mm512_maskz_inserti64x4(0xff, _mm512_setzero_si512(), v, 0);
}
inline __m512 zext512(__m256 v) {
  return _mm512_maskz_insertf32x8(0xffff, _mm512_setzero_ps(), v, 0);
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

// Q4_K / Q5_K x Q8_K. Per pair of sub-blocks the two VNNI results (each lane <= 4 * 31 * 127, fits s16) are
// packed to s16 and multiplied by their 6-bit scales in one vpmaddwd; the min term is the activations'
// sub-block sums times the mins.

inline __m512i load_2x256(const int8_t* lo, const int8_t* hi) {
  return _mm512_maskz_inserti64x4(0xff, zext512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo))),
                                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi)), 1);
}

// The scaled integer sums of one block, R rows x T tokens, two groups per 512-bit step: the 64 quant bytes
// of groups 2p and 2p + 1 hold sub-blocks 4p and 4p + 2 in their low nibbles (bytes 0-31, 32-63) and 4p + 1,
// 4p + 3 in their high nibbles; the matching activations are two 32-byte runs each (one load and one insert
// per token, shared by the R rows). B = BlockQ5_K adds bit 4 from qh.
// sc[r][p]: row r's scales for groups 2p (low 256 bits) and 2p + 1, as K4Scales::group.
template <class B, int R, int T>
inline void k4_sums(const B* const (&a)[R], const __m512i (&sc)[R][2], const BlockQ8_K* const (&b)[T],
                    __m512i (&sumi)[R][T]) {
  constexpr bool kQ5 = std::is_same_v<B, BlockQ5_K>;
  const __m512i lo4 = _mm512_set1_epi8(0x0f);
  const __m512i one = _mm512_set1_epi8(1);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) sumi[r][t] = _mm512_setzero_si512();
  for (int p = 0; p < 2; ++p) {
    __m512i y0[T], y1[T];
    for (int t = 0; t < T; ++t) {
      y0[t] = load_2x256(b[t]->qs + 128 * p, b[t]->qs + 128 * p + 64);
      y1[t] = load_2x256(b[t]->qs + 128 * p + 32, b[t]->qs + 128 * p + 96);
    }
    for (int r = 0; r < R; ++r) {
      const __m512i q = _mm512_loadu_si512(a[r]->qs + 64 * p);
      __m512i q0 = _mm512_and_si512(q, lo4);
      __m512i q1 = _mm512_and_si512(_mm512_srli_epi16(q, 4), lo4);
      if constexpr (kQ5) {
        // Bit j of qh byte l is bit 4 of element l of sub-block j; each 256-bit half takes its own shift.
        const __m512i hb = _mm512_maskz_broadcast_i64x4(
            0xff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[r]->qh)));
        const __m512i s0 = _mm512_maskz_inserti64x4(0xff, _mm512_set1_epi16(static_cast<int16_t>(4 * p)),
                                                    _mm256_set1_epi16(static_cast<int16_t>(4 * p + 2)), 1);
        const __m512i s1 = _mm512_add_epi16(s0, _mm512_set1_epi16(1));
        q0 = _mm512_or_si512(q0, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, s0), one), 4));
        q1 = _mm512_or_si512(q1, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, s1), one), 4));
      }
      for (int t = 0; t < T; ++t) {
        const __m512i p0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q0, y0[t]);
        const __m512i p1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q1, y1[t]);
        sumi[r][t] = _mm512_add_epi32(sumi[r][t], _mm512_madd_epi16(_mm512_packs_epi32(p0, p1), sc[r][p]));
      }
    }
  }
}

struct K4Scales {
  __m256i group[4];  // per group g, each 128-bit lane: [scale 2g] x 4, [scale 2g + 1] x 4 (s16)
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
  return k;
}

// Few tokens (decode's matvec; 1-4 tokens): one 512-bit step per group of 64 quants. A group's 32 quant
// bytes are broadcast to both halves, the low half keeps the low nibbles (sub-block 2g), the high half the
// high ones (2g + 1), so the matching activations are one plain 64-byte load. Two groups' VNNI sums are
// packed to s16 and scaled in one vpmaddwd; the scales are placed by one vpermw per group pair. The min
// term is one vpmaddwd of the 8 mins against the token's 8 sub-block sums; d and dmin convert together.
// 43 vector instructions per block of one row and token where 256-bit steps took 72. matmul_bench matvec
// (Zen 5), 1 thread: Q4_K 22-23 -> 29-31 GB/s, Q5_K 19-21 -> 29-30; more in docs/kernels.md.
// Word w of pair q's operand: 128-bit lane w / 8 holds group 2q's sums in words 0-3 and group 2q + 1's in
// words 4-7; sub-block 2g fills lanes 0-1, sub-block 2g + 1 lanes 2-3.
alignas(64) constexpr int16_t kK4PairIdx[2][32] = {
    {0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2, 1, 1, 1, 1, 3, 3, 3, 3, 1, 1, 1, 1, 3, 3, 3, 3},
    {4, 4, 4, 4, 6, 6, 6, 6, 4, 4, 4, 4, 6, 6, 6, 6, 5, 5, 5, 5, 7, 7, 7, 7, 5, 5, 5, 5, 7, 7, 7, 7}};

// Two 32-bit words as the low 8 bytes of a vector (one vmovq).
inline __m128i bytes8(uint32_t lo, uint32_t hi) {
  return _mm_cvtsi64_si128(static_cast<long long>(uint64_t{hi} << 32 | lo));
}

template <class B, int R, int T>
void k4_tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
  constexpr bool kQ5 = std::is_same_v<B, BlockQ5_K>;
  static_assert(offsetof(B, dmin) == offsetof(B, d) + sizeof(fp16_t), "d and dmin are loaded together");
  constexpr __mmask32 kHighHalf = 0xffff0000u;  // 16-bit words of the upper 256 bits
  const __m512i lo4 = _mm512_set1_epi8(0x0f);
  const __m512i idx0 = _mm512_load_si512(kK4PairIdx[0]), idx1 = _mm512_load_si512(kK4PairIdx[1]);
  __m512 acc[R][T];
  __m128 accm[R][T];  // min terms
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps(), accm[r][t] = _mm_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const BlockQ8_K* b[T];
    __m128i bsum8[T];  // per token, the 8 sub-block sums of its quants (s16)
    for (int t = 0; t < T; ++t) {
      b[t] = reinterpret_cast<const BlockQ8_K*>(x + t * xs) + i;
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->bsums));
      bsum8[t] = _mm256_cvtepi32_epi16(_mm256_madd_epi16(bs, _mm256_set1_epi16(1)));
    }
    for (int r = 0; r < R; ++r) {
      const B* a = reinterpret_cast<const B*>(w + r * ws) + i;
      prefetch_weights<(sizeof(B) + 63) / 64>(a);
      const K4Words kw = k4_words(a->scales);
      // vpermw reads words 0-7 only, so the upper lanes of sc8 may hold anything.
      const __m512i sc8 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(bytes8(kw.sc_lo, kw.sc_hi)));
      const __m512i sc[2] = {_mm512_permutexvar_epi16(idx0, sc8), _mm512_permutexvar_epi16(idx1, sc8)};
      __m512i hb;
      if constexpr (kQ5)
        hb = _mm512_maskz_broadcast_i64x4(0xff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a->qh)));
      __m512i sumi[T];
      for (int t = 0; t < T; ++t) sumi[t] = _mm512_setzero_si512();
      for (int q = 0; q < 2; ++q) {
        __m512i p[2][T];
        for (int h = 0; h < 2; ++h) {
          const int g = 2 * q + h;
          const __m512i raw = _mm512_maskz_broadcast_i64x4(
              0xff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a->qs + 32 * g)));
          __m512i v = _mm512_and_si512(_mm512_mask_srli_epi16(raw, kHighHalf, raw, 4), lo4);
          if constexpr (kQ5) {
            // Bit j of qh byte l is bit 4 of element l of sub-block j: 2g for the low half, 2g + 1 the high.
            const __m512i bit = _mm512_mask_set1_epi8(_mm512_set1_epi8(static_cast<char>(1 << (2 * g))),
                                                      static_cast<__mmask64>(0xffffffff00000000ull),
                                                      static_cast<char>(1 << (2 * g + 1)));
            v = _mm512_mask_add_epi8(v, _mm512_test_epi8_mask(hb, bit), v, _mm512_set1_epi8(16));
          }
          for (int t = 0; t < T; ++t)
            p[h][t] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v, _mm512_loadu_si512(b[t]->qs + 64 * g));
        }
        for (int t = 0; t < T; ++t)
          sumi[t] = _mm512_add_epi32(sumi[t], _mm512_madd_epi16(_mm512_packs_epi32(p[0][t], p[1][t]), sc[q]));
      }
      const __m128i m8 = _mm_cvtepu8_epi16(bytes8(kw.m_lo, kw.m_hi));
      const __m128 dd = _mm_cvtph_ps(_mm_loadu_si32(&a->d));  // d, dmin (adjacent)
      for (int t = 0; t < T; ++t) {
        const __m128 ddt = _mm_mul_ps(dd, _mm_set1_ps(b[t]->d));
        acc[r][t] = _mm512_fmadd_ps(_mm512_maskz_broadcastss_ps(0xffff, ddt),
                                    _mm512_maskz_cvtepi32_ps(0xffff, sumi[t]), acc[r][t]);
        accm[r][t] = _mm_fmadd_ps(_mm_permute_ps(ddt, 0x55), _mm_cvtepi32_ps(_mm_madd_epi16(m8, bsum8[t])),
                                  accm[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t)
      y[t * ldy + r] =
          hsum16(_mm512_sub_ps(acc[r][t], _mm512_maskz_insertf32x4(0xf, _mm512_setzero_ps(), accm[r][t], 0)));
}

// Many tokens (prefill): what depends on a row or a token alone is prepared once per matmul chunk by
// k4_prefill_driver instead of once per 4-token tile (decoding the 6-bit scales and the min term had been
// about half of the tile's time): a row's scales as k4_sums operands, its d and dmin * min_j; a token's d
// and d * (sum of sub-block j's quants), so the min term is one f32 FMA per row and token. matmul_bench,
// 1 thread, against the 256-bit tile that decoded them per tile: Q4_K 94-97 -> 121 GFLOP/s, Q5_K 74-81 ->
// 102-105.
struct alignas(64) K4Prep {
  __m512i pair[2];
  float mins[8];  // dmin * min_j
  float d;
};
struct alignas(32) Q8Prep {
  float bsum[8];  // d * (sum of the 32 quants of sub-block j)
  float d;
};

template <class B>
inline void k4_prep_row(const B& a, K4Prep& out) {
  const K4Scales k = k4_scales(a.scales);
  for (int p = 0; p < 2; ++p)
    out.pair[p] = _mm512_maskz_inserti64x4(0xff, zext512(k.group[2 * p]), k.group[2 * p + 1], 1);
  const K4Words w = k4_words(a.scales);
  const __m256i m =
      _mm256_cvtepu8_epi32(_mm_setr_epi32(static_cast<int>(w.m_lo), static_cast<int>(w.m_hi), 0, 0));
  _mm256_storeu_ps(out.mins, _mm256_mul_ps(_mm256_set1_ps(h2f(a.dmin)), _mm256_cvtepi32_ps(m)));
  out.d = h2f(a.d);
}

inline void q8_prep_tok(const BlockQ8_K& b, Q8Prep& out) {
  const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.bsums));
  const __m256i pairs = _mm256_madd_epi16(bs, _mm256_set1_epi16(1));
  _mm256_storeu_ps(out.bsum, _mm256_mul_ps(_mm256_set1_ps(b.d), _mm256_cvtepi32_ps(pairs)));
  out.d = b.d;
}

// Row r's prepared blocks at rp + r * nb, token t's at tp + t * nb.
template <class B, int R, int T>
void k4_prepared_tile(int64_t nb, const uint8_t* w, size_t ws, const K4Prep* rp, const uint8_t* x, size_t xs,
                      const Q8Prep* tp, float* y, int64_t ldy) {
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const B* a[R];
    const BlockQ8_K* b[T];
    __m512i sc[R][2];
    for (int r = 0; r < R; ++r) {
      a[r] = reinterpret_cast<const B*>(w + r * ws) + i;
      sc[r][0] = rp[r * nb + i].pair[0];
      sc[r][1] = rp[r * nb + i].pair[1];
    }
    for (int t = 0; t < T; ++t) b[t] = reinterpret_cast<const BlockQ8_K*>(x + t * xs) + i;
    __m512i sumi[R][T];
    k4_sums<B, R, T>(a, sc, b, sumi);
    __m512 dt[T];
    for (int t = 0; t < T; ++t) dt[t] = _mm512_set1_ps(tp[t * nb + i].d);
    for (int r = 0; r < R; ++r) {
      const __m512 dr = _mm512_set1_ps(rp[r * nb + i].d);
      const __m512 mins = zext512(_mm256_loadu_ps(rp[r * nb + i].mins));
      for (int t = 0; t < T; ++t) {
        acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(dr, dt[t]), _mm512_maskz_cvtepi32_ps(0xffff, sumi[r][t]),
                                    acc[r][t]);
        acc[r][t] = _mm512_fnmadd_ps(mins, zext512(_mm256_loadu_ps(tp[t * nb + i].bsum)), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r] = hsum16(acc[r][t]);
}

// Q6_K x Q8_K, R rows x T tokens, one half block (128 quants, four 32-runs) per 512-bit step. Quants are
// used unsigned (0..63, VNNI lanes <= 4 * 63 * 127 = 32004 fit s16), the -32 offset removed through the
// activation group sums. The 64 ql bytes of a half give runs 0 and 1 (low nibbles) and runs 2 and 3 (high
// nibbles), each pair contiguous in the activations, so a token's half is two plain 64-byte loads; the qh
// bits come from one 32-byte load shifted per run. After packing, 128-bit lane k holds four sums of
// sub-block 8h + k and four of 8h + 4 + k: one vpermw per row and half places the scales to match.
// Against 256-bit steps of one run pair: Q6_K prefill 63-66 -> 89 GFLOP/s per core (matmul_bench, 1 thread).
template <int R, int T>
void q6k_tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
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
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const BlockQ6_K* a[R];
    const BlockQ8_K* b[T];
    for (int t = 0; t < T; ++t) b[t] = reinterpret_cast<const BlockQ8_K*>(x + t * xs) + i;
    __m512i s512[R];
    __m512i sumi[R][T];
    for (int r = 0; r < R; ++r) {
      a[r] = reinterpret_cast<const BlockQ6_K*>(w + r * ws) + i;
      prefetch_weights<4>(a[r]);
      const __m256i s16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[r]->scales)));
      s512[r] = zext512(s16);
      for (int t = 0; t < T; ++t) {
        // -32 * sum_j scale_j * bsum_j, in the low 8 lanes.
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->bsums));
        sumi[r][t] = zext512(
            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(s16, bs), 5)));
      }
    }
    for (int h = 0; h < 2; ++h) {
      __m512i ya[T], yb[T];
      for (int t = 0; t < T; ++t) {
        ya[t] = _mm512_loadu_si512(b[t]->qs + 128 * h);       // runs 0, 1
        yb[t] = _mm512_loadu_si512(b[t]->qs + 128 * h + 64);  // runs 2, 3
      }
      const __m512i idx = _mm512_load_si512(kIdx[h]);
      for (int r = 0; r < R; ++r) {
        const __m512i l = _mm512_loadu_si512(a[r]->ql + 64 * h);
        const __m512i hb = _mm512_maskz_broadcast_i64x4(
            0xff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[r]->qh + 32 * h)));
        const __m512i qa =
            _mm512_or_si512(_mm512_and_si512(l, lo4),
                            _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, sh_lo), three), 4));
        const __m512i qb =
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), lo4),
                            _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, sh_hi), three), 4));
        const __m512i sc = _mm512_permutexvar_epi16(idx, s512[r]);
        for (int t = 0; t < T; ++t) {
          const __m512i pa = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qa, ya[t]);
          const __m512i pb = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qb, yb[t]);
          sumi[r][t] = _mm512_add_epi32(sumi[r][t], _mm512_madd_epi16(_mm512_packs_epi32(pa, pb), sc));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const float d = h2f(a[r]->d);
      for (int t = 0; t < T; ++t)
        acc[r][t] = _mm512_fmadd_ps(_mm512_set1_ps(d * b[t]->d), _mm512_maskz_cvtepi32_ps(0xffff, sumi[r][t]),
                                    acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r] = hsum16(acc[r][t]);
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

// Q4_K / Q5_K for more than 4 tokens (matmul passes a whole chunk of them per row tile): each row's and each
// token's block constants are prepared once per call, then the tokens are walked in 4s against every row
// pair as tile_driver does. A thread's buffers grow to the largest call and stay.
template <class B, template <int, int> class K>
void k4_prefill_driver(int64_t n, const void* w, size_t ws, int nr, const void* x, size_t xs, int nt,
                       float* y, int64_t ldy) {
  if (nt <= 4) {
    tile_driver<K, 2>(n, w, ws, nr, x, xs, nt, y, ldy);
    return;
  }
  using Fn = void (*)(int64_t, const uint8_t*, size_t, const K4Prep*, const uint8_t*, size_t, const Q8Prep*,
                      float*, int64_t);
  static constexpr Fn two[4] = {k4_prepared_tile<B, 2, 1>, k4_prepared_tile<B, 2, 2>,
                                k4_prepared_tile<B, 2, 3>, k4_prepared_tile<B, 2, 4>};
  static constexpr Fn one[4] = {k4_prepared_tile<B, 1, 1>, k4_prepared_tile<B, 1, 2>,
                                k4_prepared_tile<B, 1, 3>, k4_prepared_tile<B, 1, 4>};
  thread_local std::vector<K4Prep> rows;
  thread_local std::vector<Q8Prep> toks;
  const int64_t nb = n / kQK_K;
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const uint8_t* xb = static_cast<const uint8_t*>(x);
  if (rows.size() < static_cast<size_t>(nr * nb)) rows.resize(static_cast<size_t>(nr * nb));
  if (toks.size() < static_cast<size_t>(nt * nb)) toks.resize(static_cast<size_t>(nt * nb));
  for (int r = 0; r < nr; ++r) {
    for (int64_t i = 0; i < nb; ++i) {
      const B& blk = reinterpret_cast<const B*>(wb + r * ws)[i];
      prefetch_weights<(sizeof(B) + 63) / 64>(&blk);  // this pass is the first to touch the rows
      k4_prep_row(blk, rows[r * nb + i]);
    }
  }
  for (int t = 0; t < nt; ++t)
    for (int64_t i = 0; i < nb; ++i)
      q8_prep_tok(reinterpret_cast<const BlockQ8_K*>(xb + t * xs)[i], toks[t * nb + i]);
  // matmul's next row tile is usually the nr rows after these: pull them towards L2 a slice per token
  // group, so the next call's preparation pass does not wait on DRAM (prefetches never fault).
  const size_t next_lines = static_cast<size_t>(nr) * ws / 64;
  const size_t lines_per_group = (next_lines + (nt + 3) / 4 - 1) / ((nt + 3) / 4);
  for (int t0 = 0; t0 < nt; t0 += 4) {
    const int tn = nt - t0 < 4 ? nt - t0 : 4;
    const Q8Prep* tp = toks.data() + t0 * nb;
    const size_t l0 = static_cast<size_t>(t0 / 4) * lines_per_group;
    for (size_t l = l0; l < l0 + lines_per_group && l < next_lines; ++l)
      _mm_prefetch(reinterpret_cast<const char*>(wb) + static_cast<size_t>(nr) * ws + 64 * l, _MM_HINT_T1);
    int r = 0;
    for (; r + 2 <= nr; r += 2)
      two[tn - 1](nb, wb + r * ws, ws, rows.data() + r * nb, xb + t0 * xs, xs, tp, y + t0 * ldy + r, ldy);
    for (; r < nr; ++r)
      one[tn - 1](nb, wb + r * ws, ws, rows.data() + r * nb, xb + t0 * xs, xs, tp, y + t0 * ldy + r, ldy);
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
    q6k_tile<R, T>(n, w, ws, x, xs, y, ldy);
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
  t.tile[id(GgmlType::Q4_K)] = k4_prefill_driver<BlockQ4_K, Q4KK>;
  t.tile[id(GgmlType::Q6_K)] = tile_driver<Q6KK, 2>;
  t.tile[id(GgmlType::Q5_K)] = k4_prefill_driver<BlockQ5_K, Q5KK>;
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
