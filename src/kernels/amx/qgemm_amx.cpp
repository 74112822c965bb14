// Q4_K and Q6_K x Q8_K products for many tokens (prefill) on AMX int8 tiles (TDPBSSD), with the numerics
// of the VNNI kernels: every 256-element block's integer sums are exact, and scaled to float once per block.
//
// A tile product sums over 64 k at once, across the 16- or 32-wide sub-blocks, so the sub-block scales must
// sit inside the bytes it multiplies; each weight block is expanded into byte planes over which the tiles
// sum exactly (int32), and recombined per block:
//   Q4_K: w[k] = d * sc[j] * q[k] - dmin * m[j], q in [0, 15], 6-bit sc and m (j = k / 32); sc * q reaches
//         945, so hi[k] = (sc >> 3) * q and lo[k] = (sc & 7) * q (<= 105 each) and mn[k] = m[j] give
//         dot = d * dx * ((sum hi qx << 3) + sum lo qx) - dmin * dx * sum mn qx;
//   Q6_K: see Q6KFormat (two planes, no min).
// Per block and output the float work is the terms the VNNI kernels add; only float summation order
// differs.
//
// Tiles: A = 16 weight rows x 64 k of one plane, B = 64 k x 16 tokens in AMX's four-byte-group layout,
// C = 16 rows x 16 tokens int32. A task owns 32 weight rows (two row tiles, up to six C tiles: tmm0-5, A in
// tmm6, B in tmm7): block by block it expands its weights (<= 24 KiB, stays in L1) and runs every token
// tile against them, folding the C tiles into a float accumulator [32 rows][tokens]; at the end it
// transposes that into y. The activations are packed once per call into B tiles shared by all threads.
// Each output is computed by one task in one order, so results do not depend on the thread count.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "core/quant.h"
#include "kernels/amx/tiles.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_split.h"

namespace hark::kernels {
namespace {

using amx::kRowBytes;
using amx::kRows;
constexpr int kTileBytes = kRows * kRowBytes;                // 1 KiB
constexpr int kSteps = kQK_K / kRowBytes;                    // tile products per plane and block (4)
constexpr int kTaskRows = 2 * kRows;                         // weight rows per task
constexpr int64_t kMaxBlockA = 2 * 3 * kSteps * kTileBytes;  // expanded weights of a task's block
constexpr int64_t kBlockB = kSteps * kTileBytes;             // packed activations of a token tile's block

// Activations: token tile tt (16 tokens) of the Q8_K rows -> for each block b, kSteps B tiles at
// b_tiles + (tt * nb + b) * kBlockB (tile row i holds, for each token n, qx[64 s + 4 i .. 4 i + 3]) and
// the block scales at dx + (tt * nb + b) * 16 + n. Tokens past n_tok are zero.
void pack_x(const uint8_t* xq, size_t xs, int64_t n_tok, int64_t nb, int64_t tt, int8_t* b_tiles, float* dx) {
  const __m512i col = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(kRows));
  for (int n = 0; n < kRows; ++n) {
    const int64_t t = tt * kRows + n;
    for (int64_t b = 0; b < nb; ++b) {
      int8_t* dst = b_tiles + (tt * nb + b) * kBlockB;
      const BlockQ8_K* q = t < n_tok ? reinterpret_cast<const BlockQ8_K*>(xq + t * xs) + b : nullptr;
      dx[(tt * nb + b) * kRows + n] = q != nullptr ? q->d : 0.0f;
      for (int s = 0; s < kSteps; ++s) {
        const __m512i v = q != nullptr ? _mm512_loadu_si512(q->qs + s * kRowBytes) : _mm512_setzero_si512();
        _mm512_i32scatter_epi32(reinterpret_cast<int*>(dst + s * kTileBytes) + n, col, v, 4);
      }
    }
  }
}

// x * f for the nibbles x in [0, 15] and each f in [0, 7]: vpshufb tables, one per f (both 128-bit lanes).
// Built at compile time: no AVX code may run before the dispatcher has chosen this file.
struct MulTables {
  alignas(32) uint8_t t[8][32];
};
constexpr MulTables make_mul_tables() {
  MulTables m{};
  for (int f = 0; f < 8; ++f)
    for (int i = 0; i < 32; ++i) m.t[f][i] = static_cast<uint8_t>((i % 16) * f);
  return m;
}
constexpr MulTables kMul = make_mul_tables();
inline __m256i mul_table(int f) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(kMul.t[f]));
}

// Where plane p, k step s of a row goes: base + (p * kSteps + s) * kTileBytes (32 bytes per __m256i).
inline __m256i* plane_at(uint8_t* base, int p, int s) {
  return reinterpret_cast<__m256i*>(base + (p * kSteps + s) * kTileBytes);
}

struct Q4KFormat {
  using Block = BlockQ4_K;
  static constexpr int kPlanes = 3;  // hi, lo, mn
  static constexpr int kShift = 3;   // sum sc q qx = (hi << 3) + lo
  static void expand(const Block* q, uint8_t* base, float* d, float* dmin) {
    const __m256i lo4 = _mm256_set1_epi8(0x0f);
    *d = fp16_to_f32(q->d);
    *dmin = fp16_to_f32(q->dmin);
    for (int s = 0; s < kSteps; ++s) {
      // k 64 s .. 64 s + 31: low nibbles (sub-block 2 s); the next 32: high nibbles (sub-block 2 s + 1).
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q->qs + 32 * s));
      const __m256i nib[2] = {_mm256_and_si256(raw, lo4), _mm256_and_si256(_mm256_srli_epi16(raw, 4), lo4)};
      for (int h = 0; h < 2; ++h) {
        uint8_t sc, mn;
        unpack_scale_min_k4(2 * s + h, q->scales, &sc, &mn);
        _mm256_storeu_si256(plane_at(base, 0, s) + h, _mm256_shuffle_epi8(mul_table(sc >> 3), nib[h]));
        _mm256_storeu_si256(plane_at(base, 1, s) + h, _mm256_shuffle_epi8(mul_table(sc & 7), nib[h]));
        _mm256_storeu_si256(plane_at(base, 2, s) + h, _mm256_set1_epi8(static_cast<char>(mn)));
      }
    }
  }
};

// Q6_K: w = d * sc[k / 16] * (q - 32), q in [0, 63], sc signed 8-bit. v = sc * (q - 32) lies in
// [-4064, 4096] and splits exactly as v = 64 * (v >> 6) + (v & 63): planes hi in [-64, 64] (signed bytes)
// and lo in [0, 63], so sum v qx = (hi << 6) + lo. No min plane: the -32 is inside v.
struct Q6KFormat {
  using Block = BlockQ6_K;
  static constexpr int kPlanes = 2;
  static constexpr int kShift = 6;
  static void expand(const Block* q, uint8_t* base, float* d, float* dmin) {
    const __m256i lo4 = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3);
    const __m512i offset = _mm512_set1_epi16(32), low6 = _mm512_set1_epi16(63);
    *d = fp16_to_f32(q->d);
    *dmin = 0.0f;
    for (int s = 0; s < kSteps; ++s) {
      // k step s = 2 h + u covers half h's runs i = 2 u and 2 u + 1 (32 each): run i takes the low (u = 0)
      // or high (u = 1) nibbles of ql[64 h + 32 (i % 2) ..] and bits 2 i, 2 i + 1 of qh[32 h ..].
      const int h = s / 2, u = s % 2;
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q->qh + 32 * h));
      for (int v = 0; v < 2; ++v) {
        const int i = 2 * u + v;
        const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q->ql + 64 * h + 32 * v));
        const __m256i nib = _mm256_and_si256(u == 0 ? ql : _mm256_srli_epi16(ql, 4), lo4);
        const __m256i top = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * i)), three);
        const __m256i q6 = _mm256_or_si256(nib, _mm256_slli_epi16(top, 4));
        const int8_t* sc = q->scales + 8 * h + 2 * i;  // first 16 of the run, then the next 16
        const __m512i scv =
            _mm512_maskz_inserti64x4(0xff, _mm512_set1_epi16(sc[0]), _mm256_set1_epi16(sc[1]), 1);
        const __m512i val =
            _mm512_mullo_epi16(_mm512_sub_epi16(_mm512_maskz_cvtepu8_epi16(~0u, q6), offset), scv);
        _mm256_storeu_si256(plane_at(base, 0, s) + v,
                            _mm512_maskz_cvtepi16_epi8(~0u, _mm512_srai_epi16(val, 6)));
        _mm256_storeu_si256(plane_at(base, 1, s) + v,
                            _mm512_maskz_cvtepi16_epi8(~0u, _mm512_and_si512(val, low6)));
      }
    }
  }
};

// Block b of weight rows [o0, o0 + 32) -> the planes as A tiles at a + ((r * kPlanes + p) * kSteps + s)
// * kTileBytes (row tile r, plane p, k step s), and each row's d and dmin. Rows past n_out are zero.
template <class F>
void expand_w(const uint8_t* w, size_t ws, int64_t n_out, int64_t o0, int64_t b, uint8_t* a, float* d,
              float* dmin) {
  for (int row = 0; row < kTaskRows; ++row) {
    const int64_t o = o0 + row;
    uint8_t* base = a + (row / kRows) * F::kPlanes * kSteps * kTileBytes + (row % kRows) * kRowBytes;
    if (o < n_out) {
      F::expand(reinterpret_cast<const typename F::Block*>(w + o * ws) + b, base, d + row, dmin + row);
      continue;
    }
    for (int p = 0; p < F::kPlanes; ++p)
      for (int s = 0; s < kSteps; ++s) {
        _mm256_storeu_si256(plane_at(base, p, s), _mm256_setzero_si256());
        _mm256_storeu_si256(plane_at(base, p, s) + 1, _mm256_setzero_si256());
      }
    d[row] = dmin[row] = 0.0f;
  }
}

// The C tiles of one token tile and block: tmm(kPlanes r + p) = plane p of row tile r times the B tiles.
// (GCC's tile intrinsics need literal tile numbers, hence the spelled-out sequences.)
template <int P>
inline void block_tiles(const uint8_t* a, const int8_t* bt, int32_t* c) {
  constexpr int64_t kPlane = kSteps * kTileBytes, kRowTile = P * kPlane;
  constexpr int kC = kRows * kRows;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  if constexpr (P == 3) {
    _tile_zero(4);
    _tile_zero(5);
  }
  for (int s = 0; s < kSteps; ++s) {
    const uint8_t* as = a + s * kTileBytes;
    _tile_loadd(7, bt + s * kTileBytes, kRowBytes);
    _tile_loadd(6, as, kRowBytes);
    _tile_dpbssd(0, 6, 7);
    _tile_loadd(6, as + kPlane, kRowBytes);
    _tile_dpbssd(1, 6, 7);
    if constexpr (P == 3) {
      _tile_loadd(6, as + 2 * kPlane, kRowBytes);
      _tile_dpbssd(2, 6, 7);
      _tile_loadd(6, as + kRowTile, kRowBytes);
      _tile_dpbssd(3, 6, 7);
      _tile_loadd(6, as + kRowTile + kPlane, kRowBytes);
      _tile_dpbssd(4, 6, 7);
      _tile_loadd(6, as + kRowTile + 2 * kPlane, kRowBytes);
      _tile_dpbssd(5, 6, 7);
    } else {
      _tile_loadd(6, as + kRowTile, kRowBytes);
      _tile_dpbssd(2, 6, 7);
      _tile_loadd(6, as + kRowTile + kPlane, kRowBytes);
      _tile_dpbssd(3, 6, 7);
    }
  }
  _tile_stored(0, c, kRowBytes);
  _tile_stored(1, c + kC, kRowBytes);
  _tile_stored(2, c + 2 * kC, kRowBytes);
  _tile_stored(3, c + 3 * kC, kRowBytes);
  if constexpr (P == 3) {
    _tile_stored(4, c + 4 * kC, kRowBytes);
    _tile_stored(5, c + 5 * kC, kRowBytes);
  }
}

// acc[row][16 tokens] += d * dx * ((plane 0 << kShift) + plane 1) - dmin * dx * plane 2 (if any), for the
// 32 rows of a task.
template <class F>
inline void fold(const int32_t* c, const float* dx, const float* d, const float* dmin, float* acc,
                 int64_t ld) {
  constexpr int kC = kRows * kRows;
  const __m512 dxv = _mm512_loadu_ps(dx);
  for (int row = 0; row < kTaskRows; ++row) {
    const int32_t* cr = c + (row / kRows) * F::kPlanes * kC + (row % kRows) * kRows;
    const __m512i hi = _mm512_loadu_si512(cr), lo = _mm512_loadu_si512(cr + kC);
    const __m512 isum = _mm512_maskz_cvtepi32_ps(
        0xffff, _mm512_add_epi32(_mm512_maskz_slli_epi32(0xffff, hi, F::kShift), lo));
    float* ar = acc + row * ld;
    __m512 v = _mm512_fmadd_ps(_mm512_mul_ps(dxv, _mm512_set1_ps(d[row])), isum, _mm512_loadu_ps(ar));
    if constexpr (F::kPlanes == 3) {
      const __m512 mn = _mm512_maskz_cvtepi32_ps(0xffff, _mm512_loadu_si512(cr + 2 * kC));
      v = _mm512_fnmadd_ps(_mm512_mul_ps(dxv, _mm512_set1_ps(dmin[row])), mn, v);
    }
    _mm512_storeu_ps(ar, v);
  }
}

// out[j][i] = in[i][j] for a 16 x 16 float block held in registers. (maskz forms throughout: GCC 12 warns
// that the unmasked ones read an uninitialised pass-through.)
inline void transpose16(__m512 r[16]) {
  __m512 a[16], b[16];
  for (int k = 0; k < 8; ++k) {
    a[2 * k] = _mm512_maskz_unpacklo_ps(0xffff, r[2 * k], r[2 * k + 1]);
    a[2 * k + 1] = _mm512_maskz_unpackhi_ps(0xffff, r[2 * k], r[2 * k + 1]);
  }
  const auto pd = [](__m512 v) { return _mm512_castps_pd(v); };
  for (int q = 0; q < 4; ++q) {  // b[4 q + c], lane l: column 4 l + c of rows 4 q .. 4 q + 3
    const __m512* x = a + 4 * q;
    b[4 * q] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xff, pd(x[0]), pd(x[2])));
    b[4 * q + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xff, pd(x[0]), pd(x[2])));
    b[4 * q + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xff, pd(x[1]), pd(x[3])));
    b[4 * q + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xff, pd(x[1]), pd(x[3])));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 e0 = _mm512_maskz_shuffle_f32x4(0xffff, b[c], b[4 + c], 0x44),
                 e1 = _mm512_maskz_shuffle_f32x4(0xffff, b[c], b[4 + c], 0xee);
    const __m512 f0 = _mm512_maskz_shuffle_f32x4(0xffff, b[8 + c], b[12 + c], 0x44),
                 f1 = _mm512_maskz_shuffle_f32x4(0xffff, b[8 + c], b[12 + c], 0xee);
    r[c] = _mm512_maskz_shuffle_f32x4(0xffff, e0, f0, 0x88);
    r[4 + c] = _mm512_maskz_shuffle_f32x4(0xffff, e0, f0, 0xdd);
    r[8 + c] = _mm512_maskz_shuffle_f32x4(0xffff, e1, f1, 0x88);
    r[12 + c] = _mm512_maskz_shuffle_f32x4(0xffff, e1, f1, 0xdd);
  }
}

// y[t][o0 + row] = acc[row][t] for the task's valid rows and tokens.
void write_y(const float* acc, int64_t ld, int64_t n_tok, int64_t o0, int64_t n_out, float* y) {
  for (int r0 = 0; r0 < kTaskRows; r0 += kRows) {
    const int64_t rows = std::min<int64_t>(kRows, n_out - o0 - r0);
    if (rows <= 0) break;
    const __mmask16 m = static_cast<__mmask16>((1u << rows) - 1);
    for (int64_t t0 = 0; t0 < n_tok; t0 += kRows) {
      __m512 r[16];
      for (int i = 0; i < kRows; ++i) r[i] = _mm512_loadu_ps(acc + (r0 + i) * ld + t0);
      transpose16(r);
      const int64_t toks = std::min<int64_t>(kRows, n_tok - t0);
      for (int j = 0; j < toks; ++j) _mm512_mask_storeu_ps(y + (t0 + j) * n_out + o0 + r0, m, r[j]);
    }
  }
}

template <class F>
void qgemm_amx(const WeightView& w, const uint8_t* xq, size_t xs, int64_t n_tok, float* y, ThreadPool* pool) {
  const int64_t nb = w.n_in / kQK_K, n_tt = (n_tok + kRows - 1) / kRows, ld = n_tt * kRows;
  thread_local HugeVector<uint8_t> b_store, dx_store;
  int8_t* b_tiles = static_cast<int8_t*>(gemm_scratch(b_store, n_tt * nb * kBlockB));
  float* dx = static_cast<float*>(gemm_scratch(dx_store, sizeof(float) * n_tt * nb * kRows));
  auto pack = [&](int64_t b, int64_t e) {
    for (int64_t tt = b; tt < e; ++tt) pack_x(xq, xs, n_tok, nb, tt, b_tiles, dx);
  };
  const uint8_t* wd = static_cast<const uint8_t*>(w.data);
  const size_t ws = ggml_row_size(w.type, w.n_in);
  const int64_t n_groups = (w.n_out + kTaskRows - 1) / kTaskRows;
  auto run = [&](int64_t g0, int64_t g1) {
    thread_local HugeVector<uint8_t> a_store, acc_store;
    uint8_t* a = static_cast<uint8_t*>(gemm_scratch(a_store, kMaxBlockA));
    float* acc = static_cast<float*>(gemm_scratch(acc_store, sizeof(float) * kTaskRows * ld));
    alignas(64) int32_t c[2 * F::kPlanes * kRows * kRows];
    alignas(64) float d[kTaskRows], dmin[kTaskRows];
    amx::configure_tiles();
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t o0 = g * kTaskRows;
      std::memset(acc, 0, sizeof(float) * kTaskRows * ld);
      for (int64_t b = 0; b < nb; ++b) {
        expand_w<F>(wd, ws, w.n_out, o0, b, a, d, dmin);
        for (int64_t tt = 0; tt < n_tt; ++tt) {
          block_tiles<F::kPlanes>(a, b_tiles + (tt * nb + b) * kBlockB, c);
          fold<F>(c, dx + (tt * nb + b) * kRows, d, dmin, acc + tt * kRows, ld);
        }
      }
      write_y(acc, ld, n_tok, o0, w.n_out, y);
    }
    _tile_release();
  };
  // One token range: task i is row group i.
  gemm_run(pool, n_tt, 1, pack, gemm_split(pool != nullptr ? pool->size() : 1, n_groups, 1, 1), run);
}

}  // namespace

void fill_amx_qgemm(KernelTable& t) {
  t.qgemm[static_cast<int>(GgmlType::Q4_K)] = qgemm_amx<Q4KFormat>;
  t.qgemm[static_cast<int>(GgmlType::Q6_K)] = qgemm_amx<Q6KFormat>;
}

}  // namespace hark::kernels
