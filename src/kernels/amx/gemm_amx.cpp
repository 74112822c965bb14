// The F16 GEMM on Intel AMX tiles (Isa::kAmx), with the numerics of the F32 path.
//
// AMX multiplies BF16 pairs into F32 sums (TDPBF16PS). A BF16 has 8 significant bits and an F16 11, so
// rounding either operand to BF16 would change the result by ~1e-3, over the tolerance of llama.cpp's
// goldens. Instead every F16 value v (the weights, and the activations after their rounding to F16 as
// matmul does) is split exactly into two BF16 numbers, hi = bf16(v) (round to nearest even) and
// lo = v - hi (at most 3 significant bits, so exact), and the product is taken as
//   x * w = xhi * whi + xhi * wlo + xlo * whi  (+ xlo * wlo, dropped: |xlo * wlo| <= 2^-16 |x * w|).
// Each of the three BF16 products is exact in F32; the sums are F32. Three tile products per k step still
// run ~2.3x the F32 FMA rate of a core (TDPBF16PS: 1024 flops per cycle against 64).
//
// Blocking: C is computed 32 tokens x 32 outputs at a time in four 16 x 16 F32 tiles (tmm0-3), with two A
// tiles (16 tokens x 32 k, tmm4-5) and two B tiles (16 k pairs x 16 outputs, tmm6-7) per k step. A is packed
// once per call into hi/lo tile pairs shared by all threads; each task packs the B strips it uses for one
// 512-wide k block (4 strips of 32 outputs, 256 KiB in L2) and runs every token pair of its range against
// them, accumulating over k blocks in y. Every output is summed by one thread in one order, so results do
// not depend on the thread count.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "kernels/amx/tiles.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_split.h"

namespace hark::kernels {
namespace {

using amx::configure_tiles;
using amx::kRows;                       // rows of every tile; columns of a C tile
constexpr int kKt = 32;                 // k per tile step: 32 bf16 = 64 bytes per row
constexpr int64_t kTile = kRows * kKt;  // bf16 elements in one A or B tile (1 KiB)
constexpr int64_t kBlockChunks = 16;    // k steps per k block (512 k)
constexpr int kGroupPairs = 4;          // 32-output strips per task
constexpr int64_t kChunkB = 4 * kTile;  // packed B per k step and strip: [half][hi, lo]
constexpr int64_t kStripB = kBlockChunks * kChunkB;

inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n > 0 ? n : 0)) - 1);
}

// v0, v1 (32 values exactly representable in F16) -> hi and lo halves as 32 bf16 each, in order.
inline void split(__m512 v0, __m512 v1, __m512i& hi, __m512i& lo) {
  hi = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(v1, v0));
  const auto widen = [](__m256i h) {  // bf16 -> f32: the 16 bits on top of a zero mantissa tail
    return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xffff, _mm512_maskz_cvtepu16_epi32(0xffff, h), 16));
  };
  const __m512 h0 = widen(_mm512_maskz_extracti64x4_epi64(0xf, hi, 0));
  const __m512 h1 = widen(_mm512_maskz_extracti64x4_epi64(0xf, hi, 1));
  lo = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_sub_ps(v1, h1), _mm512_sub_ps(v0, h0)));
}

inline __m512 round_f16(__m512 v) {
  return _mm512_maskz_cvtph_ps(
      0xffff, _mm512_maskz_cvtps_ph(0xffff, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// A: token block b (16 rows) of x [M][K] -> for each k step c, a hi tile then a lo tile at
// dst + (b * n_chunks + c) * 2 * kTile; rows past M and k past K are zero.
void pack_a(const float* x, int64_t M, int64_t K, int64_t n_chunks, int64_t b, uint16_t* dst) {
  for (int r = 0; r < kRows; ++r) {
    const int64_t t = b * kRows + r;
    for (int64_t c = 0; c < n_chunks; ++c) {
      __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
      if (t < M) {
        const float* src = x + t * K + c * kKt;
        const int64_t n = K - c * kKt;
        v0 = round_f16(_mm512_maskz_loadu_ps(lanes(n), src));
        v1 = round_f16(_mm512_maskz_loadu_ps(lanes(n - 16), src + 16));
      }
      __m512i hi, lo;
      split(v0, v1, hi, lo);
      uint16_t* tile = dst + (b * n_chunks + c) * 2 * kTile + r * kKt;
      _mm512_storeu_si512(tile, hi);
      _mm512_storeu_si512(tile + kTile, lo);
    }
  }
}

// B: outputs [o0, o0 + 32) of w [N][K] (f16 rows), k steps [c0, c0 + nc) -> per k step, for each half of
// 16 outputs, a hi and a lo tile in AMX's pair layout: row i holds (w[o][2i], w[o][2i + 1]) for the 16 o.
void pack_b(const fp16_t* w, int64_t N, int64_t K, int64_t o0, int64_t c0, int64_t nc, uint16_t* dst) {
  const __m512i rows = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(kRows));
  for (int n = 0; n < 2 * kRows; ++n) {
    const int64_t o = o0 + n;
    for (int64_t c = 0; c < nc; ++c) {
      __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
      if (o < N) {
        const fp16_t* src = w + o * K + (c0 + c) * kKt;
        const int64_t k = K - (c0 + c) * kKt;
        v0 = _mm512_maskz_cvtph_ps(0xffff, _mm256_maskz_loadu_epi16(lanes(k), src));
        v1 = _mm512_maskz_cvtph_ps(0xffff, _mm256_maskz_loadu_epi16(lanes(k - 16), src + 16));
      }
      __m512i hi, lo;
      split(v0, v1, hi, lo);
      uint32_t* tile = reinterpret_cast<uint32_t*>(dst + c * kChunkB + (n / kRows) * 2 * kTile) + n % kRows;
      _mm512_i32scatter_epi32(tile, rows, hi, 4);
      _mm512_i32scatter_epi32(tile + kTile / 2, rows, lo, 4);
    }
  }
}

// GCC's tile intrinsics paste their tile number into the instruction text, so it must be a literal: these
// switch over the four C tiles (folded away once inlined with a constant).
inline void c_zero(int t) {
  switch (t) {
    case 0:
      _tile_zero(0);
      break;
    case 1:
      _tile_zero(1);
      break;
    case 2:
      _tile_zero(2);
      break;
    default:
      _tile_zero(3);
      break;
  }
}

inline void c_load(int t, const float* p, int64_t stride) {
  switch (t) {
    case 0:
      _tile_loadd(0, p, stride);
      break;
    case 1:
      _tile_loadd(1, p, stride);
      break;
    case 2:
      _tile_loadd(2, p, stride);
      break;
    default:
      _tile_loadd(3, p, stride);
      break;
  }
}

inline void c_store(int t, float* p, int64_t stride) {
  switch (t) {
    case 0:
      _tile_stored(0, p, stride);
      break;
    case 1:
      _tile_stored(1, p, stride);
      break;
    case 2:
      _tile_stored(2, p, stride);
      break;
    default:
      _tile_stored(3, p, stride);
      break;
  }
}

// C tile t at y (rows x cols valid, row stride ldy floats): loaded (acc) or zeroed before, stored after.
inline void load_c(int t, const float* y, int64_t ldy, int rows, int cols, bool acc, float* tmp) {
  if (!acc) {
    c_zero(t);
  } else if (rows == kRows && cols == kRows) {
    c_load(t, y, ldy * 4);
  } else {
    std::memset(tmp, 0, kRows * kRows * sizeof(float));
    for (int i = 0; i < rows; ++i) std::memcpy(tmp + i * kRows, y + i * ldy, cols * sizeof(float));
    c_load(t, tmp, kRows * 4);
  }
}

inline void store_c(int t, float* y, int64_t ldy, int rows, int cols, float* tmp) {
  if (rows == kRows && cols == kRows) {
    c_store(t, y, ldy * 4);
  } else if (rows > 0 && cols > 0) {
    c_store(t, tmp, kRows * 4);
    for (int i = 0; i < rows; ++i) std::memcpy(y + i * ldy, tmp + i * kRows, cols * sizeof(float));
  }
}

// y[32 tokens from t0][32 outputs from o0] (+)= the k steps of one block: a0/a1 point at the hi tile of the
// block's first k step for the two token blocks, b at the packed strip.
void block(const uint16_t* a0, const uint16_t* a1, const uint16_t* b, int64_t nc, float* y, int64_t ldy,
           int64_t rows, int64_t cols, bool acc) {
  alignas(64) float tmp[kRows * kRows];
  const int r0 = static_cast<int>(std::min<int64_t>(rows, kRows)), r1 = static_cast<int>(rows - r0);
  const int c0 = static_cast<int>(std::min<int64_t>(cols, kRows)), c1 = static_cast<int>(cols - c0);
  float* y10 = y + kRows * ldy;
  load_c(0, y, ldy, r0, c0, acc, tmp);
  load_c(1, y + kRows, ldy, r0, c1, acc, tmp);
  load_c(2, y10, ldy, r1, c0, acc, tmp);
  load_c(3, y10 + kRows, ldy, r1, c1, acc, tmp);
  for (int64_t c = 0; c < nc; ++c) {
    const uint16_t* ah0 = a0 + c * 2 * kTile;
    const uint16_t* ah1 = a1 + c * 2 * kTile;
    const uint16_t* bc = b + c * kChunkB;
    _tile_loadd(4, ah0, 64);
    _tile_loadd(5, ah1, 64);
    _tile_loadd(6, bc, 64);              // half 0, hi
    _tile_loadd(7, bc + 2 * kTile, 64);  // half 1, hi
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
    _tile_loadd(6, bc + kTile, 64);  // half 0, lo
    _tile_loadd(7, bc + 3 * kTile, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
    _tile_loadd(4, ah0 + kTile, 64);  // token block 0, lo
    _tile_loadd(5, ah1 + kTile, 64);
    _tile_loadd(6, bc, 64);
    _tile_loadd(7, bc + 2 * kTile, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  store_c(0, y, ldy, r0, c0, tmp);
  store_c(1, y + kRows, ldy, r0, c1, tmp);
  store_c(2, y10, ldy, r1, c0, tmp);
  store_c(3, y10 + kRows, ldy, r1, c1, tmp);
}

void gemm_f16_amx(const WeightView& w, const float* x, int64_t M, float* y, ThreadPool* pool) {
  const int64_t K = w.n_in, N = w.n_out;
  const int64_t n_chunks = (K + kKt - 1) / kKt;
  const int64_t m_pairs = (M + 2 * kRows - 1) / (2 * kRows);
  const int64_t n_pairs = (N + 2 * kRows - 1) / (2 * kRows);
  const int64_t k_blocks = (n_chunks + kBlockChunks - 1) / kBlockChunks;
  const fp16_t* wd = static_cast<const fp16_t*>(w.data);

  thread_local HugeVector<uint8_t> a_store;
  uint16_t* a =
      static_cast<uint16_t*>(gemm_scratch(a_store, sizeof(uint16_t) * 2 * m_pairs * n_chunks * 2 * kTile));
  auto pack_all_a = [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) pack_a(x, M, K, n_chunks, blk, a);
  };

  const GemmSplit split = gemm_split(pool != nullptr ? pool->size() : 1, n_pairs, kGroupPairs, m_pairs);
  auto run_tasks = [&](int64_t b, int64_t e) {
    thread_local HugeVector<uint8_t> b_store;
    uint16_t* bp = static_cast<uint16_t*>(gemm_scratch(b_store, sizeof(uint16_t) * kGroupPairs * kStripB));
    configure_tiles();
    for (int64_t task = b; task < e; ++task) {
      const GemmSplit::Task t = split.task(task);
      for (int64_t p = 0; p < k_blocks; ++p) {
        const int64_t c0 = p * kBlockChunks, nc = std::min(kBlockChunks, n_chunks - c0);
        for (int64_t j = t.j0; j < t.j1; ++j)
          pack_b(wd, N, K, j * 2 * kRows, c0, nc, bp + (j - t.j0) * kStripB);
        for (int64_t s = t.s0; s < t.s1; ++s) {
          const uint16_t* a0 = a + ((2 * s) * n_chunks + c0) * 2 * kTile;
          const uint16_t* a1 = a + ((2 * s + 1) * n_chunks + c0) * 2 * kTile;
          for (int64_t j = t.j0; j < t.j1; ++j) {
            const int64_t t0 = s * 2 * kRows, o0 = j * 2 * kRows;
            block(a0, a1, bp + (j - t.j0) * kStripB, nc, y + t0 * N + o0, N,
                  std::min<int64_t>(2 * kRows, M - t0), std::min<int64_t>(2 * kRows, N - o0), p > 0);
          }
        }
      }
    }
    _tile_release();
  };
  gemm_run(pool, 2 * m_pairs, 2, pack_all_a, split, run_tasks);
}

}  // namespace

void fill_amx(KernelTable& t) {
  t.gemm_f16_full = gemm_f16_amx;
}

}  // namespace hark::kernels
