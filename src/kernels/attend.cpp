// attend_f16: splits each KV group's window into key ranges over the pool, runs the active table's leaf
// (avx2/attend_avx2.cpp, scalar.cpp's twin) on each, and merges the partial softmaxes: with per-range
// maxima m_c, sums l_c and unnormalised outputs o_c, out = sum_c o_c e^(m_c - M) / sum_c l_c e^(m_c - M),
// M = max_c m_c. Splitting keys rather than heads means every K/V byte is read by one thread only: the
// window (1 MiB of keys and 1 MiB of values per full-attention layer of E2B at 1000 positions) comes from
// memory, not cache. Also softmax_values_f16's checks (prefill's second half of attention) and window_range.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace hark::kernels {
namespace {

constexpr int64_t kMinKeys = 64;                   // keys per range at least
constexpr int64_t kInlineWork = int64_t{1} << 15;  // rows x keys x head_dim below which the pool stays asleep

}  // namespace

KvWindow window_range(const KvWindow& w, int64_t hd, int64_t a, int64_t b) {
  if (b <= w.n0) return {w.k0 + a * hd, w.v0 + a * hd, b - a, nullptr, nullptr, b - a};
  if (a >= w.n0) return {w.k1 + (a - w.n0) * hd, w.v1 + (a - w.n0) * hd, b - a, nullptr, nullptr, b - a};
  return {w.k0 + a * hd, w.v0 + a * hd, w.n0 - a, w.k1, w.v1, b - a};
}

void softmax_values_f16(float* scores, int64_t ld, int64_t n_q, int64_t head_dim, const KvWindow& win,
                        float scale, float* out) {
  if (n_q < 0 || head_dim < 1 || win.n_keys < 1 || win.n0 < 0 || win.n0 > win.n_keys || ld < win.n_keys) {
    throw Error(Errc::kInvalidArgument, "softmax_values_f16: " + std::to_string(n_q) + " rows of " +
                                            std::to_string(ld) + " scores over " +
                                            std::to_string(win.n_keys) + " keys (first piece " +
                                            std::to_string(win.n0) + ")");
  }
  active_kernels().softmax_values_f16(scores, ld, n_q, head_dim, win, scale, out);
}

void attend_f16(const AttendStep& p, ThreadPool* pool) {
  const KvWindow& w = p.win;
  if (p.n_groups < 0 || p.rows < 0 || p.head_dim < 1 || w.n_keys < 1 || w.n0 < 0 || w.n0 > w.n_keys) {
    throw Error(Errc::kInvalidArgument, "attend_f16: " + std::to_string(p.n_groups) + " x " +
                                            std::to_string(p.rows) + " queries of " +
                                            std::to_string(p.head_dim) + " over " + std::to_string(w.n_keys) +
                                            " keys (first piece " + std::to_string(w.n0) + ")");
  }
  const int64_t G = p.n_groups, R = p.rows, hd = p.head_dim, nk = w.n_keys;
  if (G == 0 || R == 0) return;
  const int nth = pool != nullptr ? pool->size() : 1;
  const bool inline_work = nth <= 1 || G * R * nk * hd < kInlineWork;
  int64_t n_split =
      inline_work ? 1 : std::clamp<int64_t>((nth + G - 1) / G, 1, std::max<int64_t>(1, nk / kMinKeys));
  const int64_t chunk = (nk + n_split - 1) / n_split;
  n_split = (nk + chunk - 1) / chunk;
  const int64_t n_tasks = G * n_split;

  // Scratch of the calling thread, written by the tasks: per task its scores, outputs and m, l.
  thread_local std::vector<float> scratch;
  const size_t need = static_cast<size_t>(n_tasks * R * (chunk + hd + 2));
  if (scratch.size() < need) scratch.resize(need);
  float* scores = scratch.data();
  float* parts = scores + n_tasks * R * chunk;
  float* m = parts + n_tasks * R * hd;
  float* l = m + n_tasks * R;

  const AttendFn leaf = active_kernels().attend_f16;
  const auto run = [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t g = t / n_split, a = t % n_split * chunk;
      const int64_t off = g * p.group_stride;
      const auto shift = [off](const fp16_t* q) { return q != nullptr ? q + off : nullptr; };
      const KvWindow moved{shift(w.k0), shift(w.v0), w.n0, shift(w.k1), shift(w.v1), nk};
      const KvWindow sub = window_range(moved, hd, a, std::min(nk, a + chunk));
      leaf(p.q + g * R * hd, R, hd, sub, p.scale, scores + t * R * chunk, parts + t * R * hd, m + t * R,
           l + t * R);
    }
  };
  if (inline_work || n_tasks == 1) {
    run(0, n_tasks);
  } else {
    pool->parallel_for(n_tasks, 1, run);
  }

  for (int64_t g = 0; g < G; ++g) {
    for (int64_t r = 0; r < R; ++r) {
      float mx = -INFINITY;
      for (int64_t c = 0; c < n_split; ++c) mx = std::max(mx, m[(g * n_split + c) * R + r]);
      float sum = 0.0f;
      float* dst = p.out + (g * R + r) * hd;
      std::fill(dst, dst + hd, 0.0f);
      for (int64_t c = 0; c < n_split; ++c) {
        const int64_t i = (g * n_split + c) * R + r;
        const float f = std::exp(m[i] - mx);
        sum += l[i] * f;
        const float* o = parts + i * hd;
        for (int64_t d = 0; d < hd; ++d) dst[d] += o[d] * f;
      }
      const float inv = 1.0f / sum;
      for (int64_t d = 0; d < hd; ++d) dst[d] *= inv;
    }
  }
}

}  // namespace hark::kernels
