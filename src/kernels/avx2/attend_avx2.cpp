// AVX2 (with F16C and FMA) leaf of attend_f16 (kernels.h): a decode step's query heads over (part of) the
// F16 cache window, as a partial softmax. Also the AVX-512 tables' entry: attention is ~4 % of an E2B decode
// step (attend_bench) and waits on reading the window as much as on arithmetic. Up to eight query rows
// go together: each key row is converted from F16 once and dotted with all of them (the heads of one KV
// group share it); exp runs 8 lanes at a time; the value sum keeps a rows x 8 (or, for up to four rows,
// x 16) block of outputs in registers while it walks the keys, so a value row is converted once per block
// instead of once per output element and head. Summation orders differ from the scalar twin only.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/dispatch.h"
#include "kernels/exp_poly.h"
#include "kernels/x86_reduce.h"

namespace hark::kernels {
namespace {

constexpr int64_t kMaxHeadDim = 1024;  // rounded queries are kept on the stack
constexpr int64_t kAhead = 4;          // key rows prefetched ahead of the one being dotted

// exp over 8 lanes (exp_poly.h); 2^k is put into the exponent bits (k stays in [-126, 126], a normal float).
inline __m256 exp8(__m256 x) {
  namespace ep = exp_poly;
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-ep::kClamp)), _mm256_set1_ps(ep::kClamp));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(ep::kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(ep::kLn2Hi), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(ep::kLn2Lo), r);
  __m256 p = _mm256_set1_ps(ep::kTaylor[0]);
  for (int i = 1; i < 7; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(ep::kTaylor[i]));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline __m256 load_f16x8(const fp16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// fn(j, key row, value row) for every key of the window, piece by piece.
template <typename F>
inline void for_each_key(const KvWindow& w, int64_t hd, F&& fn) {
  for (int64_t j = 0; j < w.n0; ++j) fn(j, w.k0 + j * hd, w.v0 + j * hd);
  for (int64_t j = w.n0; j < w.n_keys; ++j) fn(j, w.k1 + (j - w.n0) * hd, w.v1 + (j - w.n0) * hd);
}

// Lanes [0, n) of 8, for the tails of the score rows.
inline __m256i tail_mask(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
}

// s[r][j] = scale * dot(q[r], k[j]) (q already rounded), row r at scores + r * nk.
template <int NR>
void key_scores(const float (*qr)[kMaxHeadDim], int64_t hd, const KvWindow& w, float scale, float* scores) {
  const int64_t nk = w.n_keys;
  const int64_t row_bytes = hd * static_cast<int64_t>(sizeof(fp16_t));
  for_each_key(w, hd, [&](int64_t j, const fp16_t* k, const fp16_t* v) {
    // The window comes from memory: ask for the key row kAhead rows on (into L1) and this key's value
    // row (into L2, for the value pass), so neither pass waits on DRAM row by row.
    const char* kp = reinterpret_cast<const char*>(k) + kAhead * row_bytes;
    const char* vp = reinterpret_cast<const char*>(v);
    for (int64_t b = 0; b < row_bytes; b += 64) {
      _mm_prefetch(kp + b, _MM_HINT_T0);
      _mm_prefetch(vp + b, _MM_HINT_T1);
    }
    __m256 acc[NR];
    for (int r = 0; r < NR; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < hd; i += 8) {
      const __m256 kv = load_f16x8(k + i);
      for (int r = 0; r < NR; ++r) acc[r] = _mm256_fmadd_ps(_mm256_load_ps(qr[r] + i), kv, acc[r]);
    }
    for (int r = 0; r < NR; ++r) scores[r * nk + j] = hsum8(acc[r]) * scale;
  });
}

// In place over nk scores per row (rows ld apart): s = exp(scale * (s - max)); m = scale * max, l = sum.
template <int NR>
void exp_rows(float* scores, int64_t ld, int64_t nk, float scale, float* m_out, float* l_out) {
  const int64_t n8 = nk / 8 * 8;
  const __m256i tail = tail_mask(nk - n8);
  const __m256 sc = _mm256_set1_ps(scale);
  for (int r = 0; r < NR; ++r) {
    float* s = scores + r * ld;
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for (int64_t j = 0; j < n8; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(s + j));
    float mx = hmax8(mv);
    for (int64_t j = n8; j < nk; ++j) mx = std::max(mx, s[j]);
    const __m256 m = _mm256_set1_ps(mx);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 e = exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j), m), sc));
      _mm256_storeu_ps(s + j, e);
      sum = _mm256_add_ps(sum, e);
    }
    if (n8 < nk) {
      const __m256 e = exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(s + n8, tail), m), sc));
      _mm256_maskstore_ps(s + n8, tail, e);
      sum = _mm256_add_ps(sum, _mm256_and_ps(e, _mm256_castsi256_ps(tail)));
    }
    m_out[r] = mx * scale;
    l_out[r] = hsum8(sum);
  }
}

// out[r] = sum_j p[r][j] * v[j] (rows of p ld apart), each output row times mul[r].
template <int NR>
void value_sums(const float* p, int64_t ld, const KvWindow& w, int64_t hd, const float* mul, float* out) {
  constexpr int kW = NR <= 4 ? 2 : 1;  // 8-float vectors per row in a block (16 registers in all)
  for (int64_t i0 = 0; i0 < hd; i0 += 8 * kW) {
    __m256 acc[NR][kW];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < kW; ++c) acc[r][c] = _mm256_setzero_ps();
    for_each_key(w, hd, [&](int64_t j, const fp16_t*, const fp16_t* v) {
      __m256 vv[kW];
      for (int c = 0; c < kW; ++c) vv[c] = load_f16x8(v + i0 + 8 * c);
      for (int r = 0; r < NR; ++r) {
        const __m256 pr = _mm256_broadcast_ss(p + r * ld + j);
        for (int c = 0; c < kW; ++c) acc[r][c] = _mm256_fmadd_ps(pr, vv[c], acc[r][c]);
      }
    });
    for (int r = 0; r < NR; ++r) {
      const __m256 f = _mm256_set1_ps(mul[r]);
      for (int c = 0; c < kW; ++c) _mm256_storeu_ps(out + r * hd + i0 + 8 * c, _mm256_mul_ps(acc[r][c], f));
    }
  }
}

template <int NR>
void attend_rows(const float* q, int64_t hd, const KvWindow& w, float scale, float* scores, float* out,
                 float* m, float* l) {
  alignas(32) float qr[NR][kMaxHeadDim];
  for (int r = 0; r < NR; ++r)
    for (int64_t i = 0; i < hd; i += 8)
      _mm256_store_ps(qr[r] + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(q + r * hd + i),
                                                                 _MM_FROUND_TO_NEAREST_INT)));
  key_scores<NR>(qr, hd, w, scale, scores);
  exp_rows<NR>(scores, w.n_keys, w.n_keys, 1.0f, m, l);
  float ones[NR];
  std::fill(ones, ones + NR, 1.0f);
  value_sums<NR>(scores, w.n_keys, w, hd, ones, out);
}

template <int NR>
void softmax_value_rows(float* scores, int64_t ld, int64_t hd, const KvWindow& w, float scale, float* out) {
  float m[NR], l[NR], inv[NR];
  exp_rows<NR>(scores, ld, w.n_keys, scale, m, l);
  for (int r = 0; r < NR; ++r) inv[r] = 1.0f / l[r];
  value_sums<NR>(scores, ld, w, hd, inv, out);
}

using RowsFn = void (*)(const float*, int64_t, const KvWindow&, float, float*, float*, float*, float*);
constexpr RowsFn kRows[9] = {nullptr,        attend_rows<1>, attend_rows<2>, attend_rows<3>, attend_rows<4>,
                             attend_rows<5>, attend_rows<6>, attend_rows<7>, attend_rows<8>};
using ValueRowsFn = void (*)(float*, int64_t, int64_t, const KvWindow&, float, float*);
constexpr ValueRowsFn kValueRows[9] = {nullptr,
                                       softmax_value_rows<1>,
                                       softmax_value_rows<2>,
                                       softmax_value_rows<3>,
                                       softmax_value_rows<4>,
                                       softmax_value_rows<5>,
                                       softmax_value_rows<6>,
                                       softmax_value_rows<7>,
                                       softmax_value_rows<8>};

bool simd_head_dim(int64_t hd) {
  return hd % 16 == 0 && hd <= kMaxHeadDim;
}

void attend_f16_avx2(const float* q, int64_t n_q, int64_t hd, const KvWindow& w, float scale, float* scores,
                     float* out, float* m, float* l) {
  if (!simd_head_dim(hd)) {
    kernel_table(Isa::kScalar).attend_f16(q, n_q, hd, w, scale, scores, out, m, l);
    return;
  }
  const int64_t nk = w.n_keys;
  for (int64_t r = 0; r < n_q; r += 8) {
    const int64_t nr = std::min<int64_t>(8, n_q - r);
    kRows[nr](q + r * hd, hd, w, scale, scores + r * nk, out + r * hd, m + r, l + r);
  }
}

void softmax_values_f16_avx2(float* scores, int64_t ld, int64_t n_q, int64_t hd, const KvWindow& w,
                             float scale, float* out) {
  if (!simd_head_dim(hd)) {
    kernel_table(Isa::kScalar).softmax_values_f16(scores, ld, n_q, hd, w, scale, out);
    return;
  }
  for (int64_t r = 0; r < n_q; r += 8) {
    const int64_t nr = std::min<int64_t>(8, n_q - r);
    kValueRows[nr](scores + r * ld, ld, hd, w, scale, out + r * hd);
  }
}

}  // namespace

void fill_avx2_attend(KernelTable& t) {
  t.attend_f16 = attend_f16_avx2;
  t.softmax_values_f16 = softmax_values_f16_avx2;
}

}  // namespace hark::kernels
