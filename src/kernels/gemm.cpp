// gemm_f16: the F16-weight product for many tokens as a cache-blocked GEMM. matmul's tiles are dot
// products (each output a horizontal sum, activations re-read per row tile); here each output tile lives in
// registers while k runs, fed from two packed panels:
//   - A (activations, rounded to f16 as matmul rounds them): packed once per call, [k block][token strip]
//     panels of [kc][mr], shared read-only by all threads and streamed from L3 by the tiles (one token
//     strip of a k block: 14 x 4096 floats at most, 224 KiB);
//   - B (one strip of nr weight rows, converted to f32 and transposed to [kc][nr]): packed by the thread
//     that uses it, stays in L2 while every token strip of the task runs against it. A weight packed at
//     load (pack_f16) already holds every strip in that order, in f16: gemm_f16_packed reads its panels in
//     place and the tile converts them as it loads them. Packing B per call gathers 32 rows from memory
//     and took 5-10 % of the GEMM (matmul_bench, docs/kernels.md).
// Work is split over the pool by output column groups (and by token ranges when there are too few
// groups), so every thread packs only the weights it multiplies and outputs are written by one thread.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_split.h"
#include "kernels/kernels.h"

namespace hark::kernels {
namespace {

// Chosen by measurement. 8 strips per task beat 4 by ~10-20 % (matmul_bench, 1 thread, an earlier VM).
// k panels: on the Zen 5 VM (1 MiB L2 per core), two threads, an unblocked k (every encoder shape, k <= 4096)
// beat panels of 384 by 5-10 % (matmul_bench 1024 -> 4096: 0.72 -> 0.80 of the FMA peak; the 30 s encoder
// 1476-1654 -> 1382-1509 ms, four pairs): each output tile is then stored once instead of loaded and stored
// once per panel, and that traffic, not the panels' cache residency, was what two threads contended for.
// A packed strip then holds up to 4096 x 32 f16 (256 KiB, in L2); an f32 strip packed per call, 512 KiB.
constexpr int64_t kKc = 4096;        // k per panel
constexpr int64_t kMinTokens = 32;   // fewer tokens go to matmul (no packing to amortise; not tuned)
constexpr int64_t kGroupStrips = 8;  // weight strips per task: A block reused from L2 across them

}  // namespace

int64_t GemmSplit::tasks() const {
  return (n_strips + group - 1) / group * parts;
}

GemmSplit::Task GemmSplit::task(int64_t i) const {
  const int64_t gi = i / parts, mi = i % parts;
  return {gi * group, std::min(n_strips, (gi + 1) * group), mi * m_strips / parts,
          (mi + 1) * m_strips / parts};
}

void* gemm_scratch(HugeVector<uint8_t>& v, size_t bytes) {
  if (v.size() < bytes + 64) v.resize(bytes + 64);
  const auto p = reinterpret_cast<uintptr_t>(v.data());
  return reinterpret_cast<void*>((p + 63) & ~uintptr_t{63});
}

GemmSplit gemm_split(int n_threads, int64_t n_strips, int64_t group, int64_t m_strips) {
  const int64_t n_groups = (n_strips + group - 1) / group;
  const int64_t parts = std::clamp<int64_t>((4 * n_threads + n_groups - 1) / n_groups, 1, m_strips);
  return {n_strips, group, m_strips, parts};
}

void gemm_run(ThreadPool* pool, int64_t n_pack, int64_t pack_grain, const RangeFn& pack,
              const GemmSplit& split, const RangeFn& run) {
  if (pool == nullptr || pool->size() <= 1) {
    pack(0, n_pack);
    run(0, split.tasks());
    return;
  }
  pool->parallel_for(n_pack, pack_grain, pack);
  pool->parallel_for(split.tasks(), 1, run);
}

void gemm_f16_ref(const WeightView& w, const float* x, int64_t n_tok, float* y) {
  const fp16_t* wd = static_cast<const fp16_t*>(w.data);
  for (int64_t t = 0; t < n_tok; ++t) {
    for (int64_t o = 0; o < w.n_out; ++o) {
      double s = 0;
      for (int64_t i = 0; i < w.n_in; ++i) {
        const float xi = fp16_to_f32(f32_to_fp16(x[t * w.n_in + i]));
        s += static_cast<double>(fp16_to_f32(wd[o * w.n_in + i])) * xi;
      }
      y[t * w.n_out + o] = static_cast<float>(s);
    }
  }
}

namespace {

// The packed activations, one buffer per thread for both GEMM entry points (a thread_local in the template
// below would be one per instantiation).
float* a_scratch(size_t bytes) {
  thread_local HugeVector<uint8_t> store;
  return static_cast<float*>(gemm_scratch(store, bytes));
}

// The blocked GEMM over already validated shapes: packs A (shared by all threads), splits the work and runs
// the tiles. b_panel(p, kc, j, cols) returns strip j's panel for k block p ([kc][nr], f32 for tile or f16
// for tile_h), packing it first where the weight is not packed.
template <class BPanel, class Tile>
void blocked_gemm(const GemmF16Kernels& g, int64_t K, int64_t N, const float* x, int64_t M, float* y,
                  ThreadPool* pool, const Clamp* clamp, const BPanel& b_panel, Tile tile) {
  const float in_b[2] = {clamp ? clamp->in_min : 0.0f, clamp ? clamp->in_max : 0.0f};
  const float out_b[2] = {clamp ? clamp->out_min : 0.0f, clamp ? clamp->out_max : 0.0f};
  const float* in_bounds = clamp ? in_b : nullptr;
  const float* out_bounds = clamp ? out_b : nullptr;
  const int mr = g.mr, nr = g.nr;
  const int64_t m_strips = (M + mr - 1) / mr;
  const int64_t n_strips = (N + nr - 1) / nr;
  const int64_t k_blocks = (K + kKc - 1) / kKc;
  auto kc_of = [&](int64_t p) { return std::min(kKc, K - p * kKc); };

  // A: block p starts at p * kKc * m_strips * mr; in it, strip s is [kc][mr] at s * kc * mr.
  float* a = a_scratch(sizeof(float) * m_strips * mr * K);
  auto a_panel = [&](int64_t p, int64_t s) { return a + p * kKc * m_strips * mr + s * kc_of(p) * mr; };
  auto pack_a = [&](int64_t b, int64_t e) {
    for (int64_t item = b; item < e; ++item) {
      const int64_t p = item / m_strips, s = item % m_strips;
      const int rows = static_cast<int>(std::min<int64_t>(mr, M - s * mr));
      g.pack_a(x + s * mr * K + p * kKc, K, rows, kc_of(p), in_bounds, a_panel(p, s));
    }
  };

  const GemmSplit split = gemm_split(pool != nullptr ? pool->size() : 1, n_strips, kGroupStrips, m_strips);
  auto run_tasks = [&](int64_t b, int64_t e) {
    for (int64_t task = b; task < e; ++task) {
      const GemmSplit::Task t = split.task(task);
      for (int64_t p = 0; p < k_blocks; ++p) {
        const int64_t kc = kc_of(p);
        for (int64_t j = t.j0; j < t.j1; ++j) {
          const int cols = static_cast<int>(std::min<int64_t>(nr, N - j * nr));
          const auto* bp = b_panel(p, kc, j, cols);
          for (int64_t s = t.s0; s < t.s1; ++s) {
            const int rows = static_cast<int>(std::min<int64_t>(mr, M - s * mr));
            tile(a_panel(p, s), bp, kc, y + s * mr * N + j * nr, N, rows, cols, p > 0,
                 p == k_blocks - 1 ? out_bounds : nullptr);
          }
        }
      }
    }
  };
  gemm_run(pool, k_blocks * m_strips, 8, pack_a, split, run_tasks);
}

bool has_packed_gemm(const KernelTable& k) {
  return k.gemm_f16.tile_h != nullptr && k.gemm_f16_full == nullptr;
}

}  // namespace

void gemm_f16_with(const KernelTable& k, const WeightView& w, const float* x, int64_t n_tok, float* y,
                   ThreadPool* pool, const Clamp* clamp) {
  if (w.type != GgmlType::F16)
    throw Error(Errc::kInvalidArgument,
                "gemm_f16: weight type " + std::string(ggml_type_name(w.type)) + " is not F16");
  const GemmF16Kernels& g = k.gemm_f16;
  if ((g.tile == nullptr && k.gemm_f16_full == nullptr) || n_tok < kMinTokens || w.n_in <= 0 ||
      w.n_out <= 0) {
    matmul_with(k, w, x, n_tok, y, pool, clamp);  // also validates the shapes
    return;
  }
  if (k.gemm_f16_full != nullptr) {
    with_clamp(clamp, x, w.n_in, n_tok, y, w.n_out, pool,
               [&](const float* xin) { k.gemm_f16_full(w, xin, n_tok, y, pool); });
    return;
  }
  const int64_t K = w.n_in;
  const fp16_t* wd = static_cast<const fp16_t*>(w.data);
  auto b_panel = [&](int64_t p, int64_t kc, int64_t j, int cols) {
    thread_local HugeVector<uint8_t> b_store;
    float* bp = static_cast<float*>(gemm_scratch(b_store, sizeof(float) * kKc * g.nr));
    g.pack_b(wd + j * g.nr * K + p * kKc, K, cols, kc, bp);
    return static_cast<const float*>(bp);
  };
  blocked_gemm(g, K, w.n_out, x, n_tok, y, pool, clamp, b_panel, g.tile);
}

PackedF16 pack_f16_with(const KernelTable& k, int64_t n_in, int64_t n_out, const F16RowReader& read) {
  if (n_in < 1 || n_out < 1)
    throw Error(Errc::kInvalidArgument, "pack_f16: weight of " + std::to_string(n_out) + " rows of " +
                                            std::to_string(n_in) + " has no elements");
  PackedF16 pw;
  pw.n_in = n_in;
  pw.n_out = n_out;
  if (!has_packed_gemm(k)) return pw;
  const int nr = k.gemm_f16.nr;
  pw.nr = nr;
  const int64_t n_strips = (n_out + nr - 1) / nr;
  pw.data = HugeBuffer(sizeof(fp16_t) * static_cast<size_t>(n_strips * n_in * nr));  // zero-filled
  // Two threads, each its own strips (run_in_two): on the dev VM, E2B's mmproj took 1.7-1.9 s of loading
  // on one thread, 1.0-1.9 s on two.
  auto pack_strips = [&](int64_t first, int64_t step) {
    std::vector<fp16_t> rows(static_cast<size_t>(nr * n_in));
    for (int64_t j = first; j < n_strips; j += step) {
      const int64_t n = std::min<int64_t>(nr, n_out - j * nr);
      read(j * nr, n, rows.data());
      fp16_t* dst = static_cast<fp16_t*>(pw.data.data()) + j * n_in * nr;
      for (int64_t r = 0; r < n; ++r)
        for (int64_t i = 0; i < n_in; ++i) dst[i * nr + r] = rows[static_cast<size_t>(r * n_in + i)];
    }
  };
  if (n_strips < 8) {
    pack_strips(0, 1);
  } else {
    run_in_two(pack_strips);
  }
  return pw;
}

PackedF16 pack_f16(int64_t n_in, int64_t n_out, const F16RowReader& read) {
  return pack_f16_with(active_kernels(), n_in, n_out, read);
}

void gemm_f16_packed_with(const KernelTable& k, const PackedF16& w, const float* x, int64_t n_tok, float* y,
                          ThreadPool* pool, const Clamp* clamp) {
  const GemmF16Kernels& g = k.gemm_f16;
  if (!has_packed_gemm(k) || w.nr != g.nr || w.n_in < 1 || w.n_out < 1 ||
      w.data.size() != sizeof(fp16_t) * static_cast<size_t>((w.n_out + w.nr - 1) / w.nr * w.n_in * w.nr))
    throw Error(Errc::kInvalidArgument, "gemm_f16_packed: the weight is not packed for these kernels");
  if (n_tok <= 0) return;
  const int64_t K = w.n_in;
  auto b_panel = [&](int64_t p, int64_t, int64_t j, int) { return w.values() + (j * K + p * kKc) * g.nr; };
  blocked_gemm(g, K, w.n_out, x, n_tok, y, pool, clamp, b_panel, g.tile_h);
}

void gemm_f16_packed(const PackedF16& w, const float* x, int64_t n_tok, float* y, ThreadPool* pool,
                     const Clamp* clamp) {
  gemm_f16_packed_with(active_kernels(), w, x, n_tok, y, pool, clamp);
}

void gemm_f16(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool* pool,
              const Clamp* clamp) {
  gemm_f16_with(active_kernels(), w, x, n_tok, y, pool, clamp);
}

}  // namespace hark::kernels
