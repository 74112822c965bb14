// Quantized dot products for x86, written once over a small set of integer primitives (`Ops`) that each
// ISA file supplies: AVX2 builds them from vpmaddubsw/vpmaddwd, AVX-512 from VNNI vpdpbusd. Included only
// by src/kernels/avx2/*.cpp and src/kernels/avx512/*.cpp, which are compiled with different flags; the
// anonymous namespace gives each of them its own copy, so the linker can never mix the two.
//
// Integer parts are exact (every vpmaddubsw input pair stays below 2 * 127 * 128 = 32512, no saturation);
// only the per-block float accumulation differs from the scalar twin.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "core/quant.h"
#include "kernels/x86_reduce.h"

namespace hark::kernels {
namespace {  // NOLINT(google-build-namespaces): deliberate per-ISA copies, see above

inline float h2f(fp16_t h) {
  return _cvtsh_ss(h);
}

// Software prefetch of the weight stream: the hardware streamer stops at 4 KiB page boundaries, and matvec
// reads each weight byte once, so asking ~2 KiB ahead keeps DRAM busy (measured: Q4_K matvec from DRAM
// 5.5 -> 8.4 GB/s on one core; 1-8 KiB ahead all perform alike).
constexpr int kPrefetchBytes = 2048;
template <int Lines>
inline void prefetch_weights(const void* block) {
  const char* p = static_cast<const char*>(block) + kPrefetchBytes;
  for (int l = 0; l < Lines; ++l) _mm_prefetch(p + 64 * l, _MM_HINT_T0);
}

// 16 packed bytes -> 32 nibbles: low nibbles in bytes 0-15, high nibbles in bytes 16-31 (Q4_0/Q4_1 order).
inline __m256i nibbles_split(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

// Bit i of `bits` -> byte i = 0x10 if set, else 0 (the fifth bit of Q5_0/Q5_1).
inline __m256i bit16_bytes(uint32_t bits) {
  const __m256i v = _mm256_set1_epi32(static_cast<int>(bits));
  // Byte i takes byte i / 8 of `bits`; then test bit i % 8 of it.
  const __m256i spread = _mm256_shuffle_epi8(
      v, _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000));
  const __m256i mask = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  const __m256i hit = _mm256_cmpeq_epi8(_mm256_and_si256(spread, mask), mask);
  return _mm256_and_si256(hit, _mm256_set1_epi8(0x10));
}

// Signed x signed byte dot via |a| and sign transfer, 8 int32 partial sums.
template <class Ops>
inline __m256i dot_s8s8(__m256i a, __m256i b) {
  return Ops::dot_u8s8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

template <class Ops>
float qdot_q8_0(int64_t n, const void* w, const void* x) {
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    prefetch_weights<1>(a + i);
    const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256 p = _mm256_cvtepi32_ps(dot_s8s8<Ops>(qa, qb));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), p, acc);
  }
  return hsum8(acc);
}

template <class Ops>
float qdot_q4_0(int64_t n, const void* w, const void* x) {
  const BlockQ4_0* a = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    prefetch_weights<1>(a + i);
    const __m256i qa = _mm256_sub_epi8(nibbles_split(a[i].qs), _mm256_set1_epi8(8));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256 p = _mm256_cvtepi32_ps(dot_s8s8<Ops>(qa, qb));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), p, acc);
  }
  return hsum8(acc);
}

template <class Ops>
float qdot_q5_0(int64_t n, const void* w, const void* x) {
  const BlockQ5_0* a = static_cast<const BlockQ5_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    prefetch_weights<1>(a + i);
    uint32_t qh;
    std::memcpy(&qh, a[i].qh, 4);
    const __m256i q = _mm256_or_si256(nibbles_split(a[i].qs), bit16_bytes(qh));
    const __m256i qa = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256 p = _mm256_cvtepi32_ps(dot_s8s8<Ops>(qa, qb));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), p, acc);
  }
  return hsum8(acc);
}

template <class Ops>
float qdot_q4_1(int64_t n, const void* w, const void* x) {
  const BlockQ4_1* a = static_cast<const BlockQ4_1*>(w);
  const BlockQ8_1* b = static_cast<const BlockQ8_1*>(x);
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;  // sum of m * s over blocks
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    prefetch_weights<1>(a + i);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256 p = _mm256_cvtepi32_ps(Ops::dot_u8s8(nibbles_split(a[i].qs), qb));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), p, acc);
    offset += h2f(a[i].m) * h2f(b[i].s);
  }
  return hsum8(acc) + offset;
}

template <class Ops>
float qdot_q5_1(int64_t n, const void* w, const void* x) {
  const BlockQ5_1* a = static_cast<const BlockQ5_1*>(w);
  const BlockQ8_1* b = static_cast<const BlockQ8_1*>(x);
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;  // sum of m * s over blocks
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    prefetch_weights<1>(a + i);
    uint32_t qh;
    std::memcpy(&qh, a[i].qh, 4);
    const __m256i q = _mm256_or_si256(nibbles_split(a[i].qs), bit16_bytes(qh));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256 p = _mm256_cvtepi32_ps(Ops::dot_u8s8(q, qb));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), p, acc);
    offset += h2f(a[i].m) * h2f(b[i].s);
  }
  return hsum8(acc) + offset;
}

// The 8 scales and 8 mins of a Q4_K/Q5_K block (6 bits each, see unpack_scale_min_k4), one per byte,
// unpacked with word operations instead of per-sub-block branches.
struct K4Words {
  uint32_t sc_lo, sc_hi, m_lo, m_hi;  // bytes: scales 0-3, scales 4-7, mins 0-3, mins 4-7
};

inline K4Words k4_words(const uint8_t* q) {
  uint32_t w0, w1, w2;
  std::memcpy(&w0, q, 4);
  std::memcpy(&w1, q + 4, 4);
  std::memcpy(&w2, q + 8, 4);
  // Scales/mins 4-7 keep their low 4 bits in bytes 8-11 and their top 2 bits in bits 6-7 of bytes 0-7.
  return {w0 & 0x3f3f3f3fu, (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u), w1 & 0x3f3f3f3fu,
          ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u)};
}

inline int k4_scale(const K4Words& k, int j) {
  return static_cast<int>(((j < 4 ? k.sc_lo : k.sc_hi) >> (8 * (j & 3))) & 0xff);
}

// [min j] x 2 for j = 0..7 as s16, lined up with the 16 bsums of a Q8_K block.
inline __m256i k4_mins16(const K4Words& k) {
  const __m128i m =
      _mm_cvtepu8_epi16(_mm_setr_epi32(static_cast<int>(k.m_lo), static_cast<int>(k.m_hi), 0, 0));
  return _mm256_set_m128i(_mm_unpackhi_epi16(m, m), _mm_unpacklo_epi16(m, m));
}

// The min term of Q4_K/Q5_K: sum_j m_j * (sum of the 32 activation quants of sub-block j), as 8 s32 lanes.
inline __m256 k4_min_term(const K4Words& k, const int16_t* bsums) {
  const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(bs, k4_mins16(k)));
}

template <class Ops>
float qdot_q4_k(int64_t n, const void* w, const void* x) {
  const BlockQ4_K* a = static_cast<const BlockQ4_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    prefetch_weights<3>(a + i);
    const K4Words kw = k4_words(a[i].scales);
    __m256i sumi = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * g));
      const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * g));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * g + 32));
      sumi = _mm256_add_epi32(
          sumi, Ops::dot_scaled(_mm256_and_si256(q, lo4), y0, Ops::scale1(k4_scale(kw, 2 * g))));
      sumi = _mm256_add_epi32(sumi, Ops::dot_scaled(_mm256_and_si256(_mm256_srli_epi16(q, 4), lo4), y1,
                                                    Ops::scale1(k4_scale(kw, 2 * g + 1))));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * h2f(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    acc = _mm256_fnmadd_ps(_mm256_set1_ps(b[i].d * h2f(a[i].dmin)), k4_min_term(kw, b[i].bsums), acc);
  }
  return hsum8(acc);
}

template <class Ops>
float qdot_q5_k(int64_t n, const void* w, const void* x) {
  const BlockQ5_K* a = static_cast<const BlockQ5_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  const __m256i one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    prefetch_weights<3>(a + i);
    const K4Words kw = k4_words(a[i].scales);
    const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh));
    __m256i sumi = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * g));
      // Bit 2g (2g + 1) of each qh byte is bit 4 of the low (high) nibble run; a 16-bit shift keeps each
      // byte's own bit in its bit 0 for shifts below 8.
      const __m256i h0 = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * g)), one);
      const __m256i h1 = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * g + 1)), one);
      const __m256i q0 = _mm256_or_si256(_mm256_and_si256(q, lo4), _mm256_slli_epi16(h0, 4));
      const __m256i q1 =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), lo4), _mm256_slli_epi16(h1, 4));
      const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * g));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * g + 32));
      sumi = _mm256_add_epi32(sumi, Ops::dot_scaled(q0, y0, Ops::scale1(k4_scale(kw, 2 * g))));
      sumi = _mm256_add_epi32(sumi, Ops::dot_scaled(q1, y1, Ops::scale1(k4_scale(kw, 2 * g + 1))));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * h2f(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    acc = _mm256_fnmadd_ps(_mm256_set1_ps(b[i].d * h2f(a[i].dmin)), k4_min_term(kw, b[i].bsums), acc);
  }
  return hsum8(acc);
}

// Q6_K: the quants are used unsigned (0..63) and the -32 offset is taken out once per block through the
// activation group sums: sum sc_j * (q - 32) . y = sum sc_j * q . y - 32 * sum sc_j * bsum_j.
template <class Ops>
float qdot_q6_k(int64_t n, const void* w, const void* x) {
  const BlockQ6_K* a = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  const __m256i two = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    prefetch_weights<4>(a + i);
    int offset = 0;
    for (int j = 0; j < 16; ++j) offset += a[i].scales[j] * b[i].bsums[j];
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = a[i].ql + 64 * h;
      const int8_t* sc = a[i].scales + 8 * h;
      const int8_t* y = b[i].qs + 128 * h;
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * h));
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, lo4), _mm256_slli_epi16(_mm256_and_si256(hb, two), 4)),
          _mm256_or_si256(_mm256_and_si256(l1, lo4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), lo4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), lo4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), two), 4)),
      };
      for (int r = 0; r < 4; ++r) {
        const __m256i yr = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + 32 * r));
        sumi = _mm256_add_epi32(sumi, Ops::dot_scaled(q[r], yr, Ops::scale2(sc[2 * r], sc[2 * r + 1])));
      }
    }
    sumi = _mm256_sub_epi32(sumi, _mm256_setr_epi32(32 * offset, 0, 0, 0, 0, 0, 0, 0));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(a[i].d) * b[i].d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum8(acc);
}

// Multi-token tiles see the 32-quant block types as unsigned bytes (Q4_0 nibbles, Q5_0 5-bit values, Q8_0
// xor 0x80) minus an offset of 2^kOffsetShift; Q4_1/Q5_1 are unsigned already (kOffsetShift < 0) and carry
// a per-block minimum instead.
struct Q4_0T {
  using W = BlockQ4_0;
  using X = BlockQ8_0;
  static constexpr int kOffsetShift = 3;
  static __m256i unpack(const W& b) { return nibbles_split(b.qs); }
};
struct Q5_0T {
  using W = BlockQ5_0;
  using X = BlockQ8_0;
  static constexpr int kOffsetShift = 4;
  static __m256i unpack(const W& b) {
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    return _mm256_or_si256(nibbles_split(b.qs), bit16_bytes(qh));
  }
};
struct Q8_0T {
  using W = BlockQ8_0;
  using X = BlockQ8_0;
  static constexpr int kOffsetShift = 7;
  static __m256i unpack(const W& b) {
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)),
                            _mm256_set1_epi8(-128));
  }
};
struct Q4_1T {
  using W = BlockQ4_1;
  using X = BlockQ8_1;
  static constexpr int kOffsetShift = -1;  // none: x = d * q + m
  static __m256i unpack(const W& b) { return nibbles_split(b.qs); }
};
struct Q5_1T {
  using W = BlockQ5_1;
  using X = BlockQ8_1;
  static constexpr int kOffsetShift = -1;
  static __m256i unpack(const W& b) {
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    return _mm256_or_si256(nibbles_split(b.qs), bit16_bytes(qh));
  }
};

}  // namespace
}  // namespace hark::kernels
