// AVX2 multi-token tiles for prefill: each loaded (and unpacked) weight vector serves 4 tokens. AVX2 has
// 16 vector registers, so float tiles are 2 rows x 4 tokens and quantized tiles 1 row x 4 tokens.
#include <immintrin.h>

#include <type_traits>

#include "core/fp16.h"
#include "kernels/dispatch.h"
#include "kernels/x86_qdot.h"

namespace hark::kernels {
namespace {

// Float types, 8 lanes per step; the tail goes through the scalar conversion.
struct F32Elems {
  using T = float;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  static float scalar(float v) { return v; }
};
struct F16Elems {
  using T = fp16_t;
  static __m256 load(const fp16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float scalar(fp16_t v) { return fp16_to_f32(v); }
};
struct Bf16Elems {
  using T = bf16_t;
  static __m256 load(const bf16_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  static float scalar(bf16_t v) { return bf16_to_f32(v); }
};

template <class E, int R, int T>
void float_tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
  using Elem = typename E::T;
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = E::load(reinterpret_cast<const Elem*>(x + t * xs) + i);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = E::load(reinterpret_cast<const Elem*>(w + r * ws) + i);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float s = hsum8(acc[r][t]);
      for (int64_t k = i; k < n; ++k)
        s += E::scalar(reinterpret_cast<const Elem*>(w + r * ws)[k]) *
             E::scalar(reinterpret_cast<const Elem*>(x + t * xs)[k]);
      y[t * ldy + r] = s;
    }
  }
}

// Q4_K and Q5_K (B = BlockQ5_K adds bit 4 from qh), one row x T tokens: the unpacked quants and the
// per-sub-block scale broadcasts are made once per row block.
template <class B, int T>
void k4_tile(int64_t n, const uint8_t* w, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
  constexpr bool kQ5 = std::is_same_v<B, BlockQ5_K>;
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  const __m256i one = _mm256_set1_epi8(1);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const B& a = reinterpret_cast<const B*>(w)[i];
    prefetch_weights<(sizeof(B) + 63) / 64>(&a);
    const K4Words kw = k4_words(a.scales);
    const BlockQ8_K* b[T];
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) {
      b[t] = reinterpret_cast<const BlockQ8_K*>(x + t * xs) + i;
      sumi[t] = _mm256_setzero_si256();
    }
    for (int g = 0; g < 4; ++g) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs + 32 * g));
      __m256i q0 = _mm256_and_si256(q, lo4);
      __m256i q1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4);
      if constexpr (kQ5) {
        const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qh));
        const __m256i h0 = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * g)), one);
        const __m256i h1 = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * g + 1)), one);
        q0 = _mm256_or_si256(q0, _mm256_slli_epi16(h0, 4));
        q1 = _mm256_or_si256(q1, _mm256_slli_epi16(h1, 4));
      }
      const __m256i s0 = _mm256_set1_epi16(static_cast<int16_t>(k4_scale(kw, 2 * g)));
      const __m256i s1 = _mm256_set1_epi16(static_cast<int16_t>(k4_scale(kw, 2 * g + 1)));
      for (int t = 0; t < T; ++t) {
        const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->qs + 64 * g));
        const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->qs + 64 * g + 32));
        const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, y0), s0);
        const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, y1), s1);
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(p0, p1));
      }
    }
    const float d = h2f(a.d), dmin = h2f(a.dmin);
    for (int t = 0; t < T; ++t) {
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * b[t]->d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * b[t]->d), k4_min_term(kw, b[t]->bsums), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) y[t * ldy] = hsum8(acc[t]);
}

// Q6_K, one row x T tokens: quants unsigned (0..63, vpmaddubsw pairs <= 2 * 63 * 127), -32 offset through
// the bsums; each 32-run spans two 16-wide sub-blocks, whose scales sit in the two 128-bit lanes.
template <int T>
void q6k_tile(int64_t n, const uint8_t* w, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  const __m256i three = _mm256_set1_epi8(3);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const BlockQ6_K& a = reinterpret_cast<const BlockQ6_K*>(w)[i];
    prefetch_weights<4>(&a);
    const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.scales)));
    const BlockQ8_K* b[T];
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) {
      b[t] = reinterpret_cast<const BlockQ8_K*>(x + t * xs) + i;
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->bsums));
      sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(s16, bs), 5));
    }
    for (int h = 0; h < 2; ++h) {
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.ql + 64 * h));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.ql + 64 * h + 32));
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qh + 32 * h));
      for (int run = 0; run < 4; ++run) {
        const __m256i l = run % 2 == 0 ? l0 : l1;
        const __m256i nib = _mm256_and_si256(_mm256_srl_epi16(l, _mm_cvtsi32_si128(4 * (run / 2))), lo4);
        const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * run)), three);
        const __m256i q = _mm256_or_si256(nib, _mm256_slli_epi16(hi, 4));
        const int8_t* sc = a.scales + 8 * h + 2 * run;
        const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
        for (int t = 0; t < T; ++t) {
          const __m256i yv =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->qs + 128 * h + 32 * run));
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, yv), scale));
        }
      }
    }
    const float d = h2f(a.d);
    for (int t = 0; t < T; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * b[t]->d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
  }
  for (int t = 0; t < T; ++t) y[t * ldy] = hsum8(acc[t]);
}

// 32-quant block types, one row x T tokens. vpmaddubsw would saturate on Q8_0 made unsigned (255 * 127 * 2),
// so Q8_0 keeps the sign transfer per token; the narrower types use their unsigned form and the offset
// correction through the activation block sum, as the AVX-512 tile does.
template <class Q, int T>
void block32_tile(int64_t n, const uint8_t* w, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
  constexpr bool kSigned = std::is_same_v<Q, Q8_0T>;
  constexpr bool kHasMin = Q::kOffsetShift < 0;
  const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  __m256 acc[T];
  float mins[T] = {};  // Q4_1/Q5_1: sum of m * s
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / 32; ++i) {
    const auto& a = reinterpret_cast<const typename Q::W*>(w)[i];
    prefetch_weights<1>(&a);
    __m256i wu;
    if constexpr (kSigned) {
      wu = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
    } else {
      wu = Q::unpack(a);
    }
    const __m256i wabs = _mm256_sign_epi8(wu, wu);
    const __m256 dw = _mm256_set1_ps(h2f(a.d));
    for (int t = 0; t < T; ++t) {
      const auto& b = reinterpret_cast<const typename Q::X*>(x + t * xs)[i];
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
      __m256i p;
      if constexpr (kSigned) {
        p = _mm256_madd_epi16(_mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xv, wu)), ones16);
      } else {
        p = _mm256_madd_epi16(_mm256_maddubs_epi16(wu, xv), ones16);
        if constexpr (!kHasMin) {
          const __m256i sx = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xv), ones16);
          p = _mm256_sub_epi32(p, _mm256_slli_epi32(sx, Q::kOffsetShift));
        }
      }
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(h2f(b.d))), _mm256_cvtepi32_ps(p), acc[t]);
      if constexpr (kHasMin) mins[t] += h2f(a.m) * h2f(b.s);
    }
  }
  for (int t = 0; t < T; ++t) y[t * ldy] = hsum8(acc[t]) + mins[t];
}

template <class E>
void float_driver(int64_t n, const void* w, size_t ws, int nr, const void* x, size_t xs, int nt, float* y,
                  int64_t ldy) {
  static constexpr decltype(&float_tile<E, 2, 1>) two[4] = {float_tile<E, 2, 1>, float_tile<E, 2, 2>,
                                                            float_tile<E, 2, 3>, float_tile<E, 2, 4>};
  static constexpr decltype(&float_tile<E, 1, 1>) one[4] = {float_tile<E, 1, 1>, float_tile<E, 1, 2>,
                                                            float_tile<E, 1, 3>, float_tile<E, 1, 4>};
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const uint8_t* xb = static_cast<const uint8_t*>(x);
  for (int t0 = 0; t0 < nt; t0 += 4) {
    const int tn = nt - t0 < 4 ? nt - t0 : 4;
    int r = 0;
    for (; r + 2 <= nr; r += 2) two[tn - 1](n, wb + r * ws, ws, xb + t0 * xs, xs, y + t0 * ldy + r, ldy);
    if (r < nr) one[tn - 1](n, wb + r * ws, ws, xb + t0 * xs, xs, y + t0 * ldy + r, ldy);
  }
}

template <void (*K1)(int64_t, const uint8_t*, const uint8_t*, size_t, float*, int64_t),
          void (*K2)(int64_t, const uint8_t*, const uint8_t*, size_t, float*, int64_t),
          void (*K3)(int64_t, const uint8_t*, const uint8_t*, size_t, float*, int64_t),
          void (*K4)(int64_t, const uint8_t*, const uint8_t*, size_t, float*, int64_t)>
void quant_driver(int64_t n, const void* w, size_t ws, int nr, const void* x, size_t xs, int nt, float* y,
                  int64_t ldy) {
  static constexpr decltype(K1) by_tokens[4] = {K1, K2, K3, K4};
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const uint8_t* xb = static_cast<const uint8_t*>(x);
  for (int t0 = 0; t0 < nt; t0 += 4) {
    const int tn = nt - t0 < 4 ? nt - t0 : 4;
    for (int r = 0; r < nr; ++r) by_tokens[tn - 1](n, wb + r * ws, xb + t0 * xs, xs, y + t0 * ldy + r, ldy);
  }
}

template <class Q>
void block32_driver(int64_t n, const void* w, size_t ws, int nr, const void* x, size_t xs, int nt, float* y,
                    int64_t ldy) {
  quant_driver<block32_tile<Q, 1>, block32_tile<Q, 2>, block32_tile<Q, 3>, block32_tile<Q, 4>>(
      n, w, ws, nr, x, xs, nt, y, ldy);
}

constexpr int id(GgmlType t) {
  return static_cast<int>(t);
}

}  // namespace

void fill_avx2_tiles(KernelTable& t) {
  t.tile[id(GgmlType::F32)] = float_driver<F32Elems>;
  t.tile[id(GgmlType::F16)] = float_driver<F16Elems>;
  t.tile[id(GgmlType::BF16)] = float_driver<Bf16Elems>;
  t.tile[id(GgmlType::Q4_K)] = quant_driver<k4_tile<BlockQ4_K, 1>, k4_tile<BlockQ4_K, 2>,
                                            k4_tile<BlockQ4_K, 3>, k4_tile<BlockQ4_K, 4>>;
  t.tile[id(GgmlType::Q6_K)] = quant_driver<q6k_tile<1>, q6k_tile<2>, q6k_tile<3>, q6k_tile<4>>;
  t.tile[id(GgmlType::Q5_K)] = quant_driver<k4_tile<BlockQ5_K, 1>, k4_tile<BlockQ5_K, 2>,
                                            k4_tile<BlockQ5_K, 3>, k4_tile<BlockQ5_K, 4>>;
  t.tile[id(GgmlType::Q4_0)] = block32_driver<Q4_0T>;
  t.tile[id(GgmlType::Q5_0)] = block32_driver<Q5_0T>;
  t.tile[id(GgmlType::Q8_0)] = block32_driver<Q8_0T>;
  t.tile[id(GgmlType::Q4_1)] = block32_driver<Q4_1T>;
  t.tile[id(GgmlType::Q5_1)] = block32_driver<Q5_1T>;
}

}  // namespace hark::kernels
