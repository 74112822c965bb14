#include "models/gemma4a/ops.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "core/huge_buffer.h"

namespace hark::gemma4a::ops {
namespace {

// Rows per parallel_for grain for cheap per-row work.
constexpr int64_t kRowGrain = 16;

// sum of (x[i] - c)^2 in double, over four independent partial sums: a single running double sum is
// bound by the add latency (4 cycles per element; the norms were ~2.5 % of the E2B encoder's time).
double sum_sq(const float* x, int64_t d, float c) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 4 <= d; i += 4) {
    for (int j = 0; j < 4; ++j) {
      const float v = x[i + j] - c;
      s[j] += static_cast<double>(v) * v;
    }
  }
  for (; i < d; ++i) {
    const float v = x[i] - c;
    s[0] += static_cast<double>(v) * v;
  }
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace

void linear(const Linear& l, const float* x, int64_t n, float* y, ThreadPool& pool) {
  const int64_t n_out = l.w.n_out;
  // F16 weights (the published mmproj files) take the blocked GEMM: same rounding, about 2x faster at 750
  // tokens (docs/kernels.md), from the weight packed at load where the CPU has that kernel; a clipped
  // linear's clamps ride along its packing and stores (other types get them as passes around matmul).
  const kernels::Clamp bounds{l.in_min, l.in_max, l.out_min, l.out_max};
  const kernels::Clamp* clamp = l.clamped ? &bounds : nullptr;
  if (!l.packed.empty()) {
    kernels::gemm_f16_packed(l.packed, x, n, y, &pool, clamp);
  } else if (l.w.type == GgmlType::F16) {
    kernels::gemm_f16(l.w, x, n, y, &pool, clamp);
  } else {
    kernels::matmul(l.w, x, n, y, &pool, clamp);
  }
  if (l.bias.empty()) return;
  pool.parallel_for(n, kRowGrain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      float* row = y + t * n_out;
      for (int64_t o = 0; o < n_out; ++o) row[o] += l.bias[o];
    }
  });
}

void layer_norm(const float* x, float* y, int64_t n_rows, int64_t d, const float* w, float eps,
                ThreadPool& pool) {
  pool.parallel_for(n_rows, kRowGrain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x + r * d;
      float* yr = y + r * d;
      double sum[4] = {0.0, 0.0, 0.0, 0.0};
      int64_t c = 0;
      for (; c + 4 <= d; c += 4)
        for (int j = 0; j < 4; ++j) sum[j] += xr[c + j];
      for (; c < d; ++c) sum[0] += xr[c];
      const float mean = static_cast<float>((sum[0] + sum[1] + sum[2] + sum[3]) / static_cast<double>(d));
      const double var = sum_sq(xr, d, mean);
      const float scale = 1.0f / std::sqrt(static_cast<float>(var / static_cast<double>(d)) + eps);
      for (int64_t i = 0; i < d; ++i) yr[i] = ((xr[i] - mean) * scale) * w[i];
    }
  });
}

void silu(float* x, int64_t n, ThreadPool& pool) {
  pool.parallel_for(n, 4096, [&](int64_t b, int64_t e) { kernels::silu(x + b, x + b, e - b); });
}

void add_scaled(float* x, const float* y, int64_t n, float scale, ThreadPool& pool) {
  pool.parallel_for(n, 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] += y[i] * scale;
  });
}

void relu(float* x, int64_t n, ThreadPool& pool) {
  pool.parallel_for(n, 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
  });
}

void conv2d_s2(const float* in, int t_in, int f_in, int c_in, const Linear& w, float* out, ThreadPool& pool) {
  assert(w.w.n_in == 9LL * c_in);
  const int t_out = (t_in + 1) / 2;
  const int f_out = (f_in + 1) / 2;
  const int64_t patch = 9LL * c_in;
  const int64_t c_out = w.w.n_out;
  // Output time rows per pass: an im2col buffer of about 256K floats (1 MiB), which the GEMM's packing then
  // reads from cache. Passes of 4M floats (16 MiB, through memory) made both convs of a 30 s encode take
  // 46-50 ms instead of 16-20 (passes of 2^17, 2^19 and 2^20 floats: 23-25, 19-21 and 30-31 ms).
  const int rows = static_cast<int>(std::max<int64_t>(1, (int64_t{1} << 18) / (patch * f_out)));
  HugeVector<float> cols(static_cast<size_t>(std::min(rows, t_out)) * f_out * patch);  // [rows*f_out][patch]
  for (int t0 = 0; t0 < t_out; t0 += rows) {
    const int nt = std::min(rows, t_out - t0);
    pool.parallel_for(static_cast<int64_t>(nt) * f_out, 8, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int to = t0 + static_cast<int>(p / f_out);
        const int fo = static_cast<int>(p % f_out);
        float* col = cols.data() + p * patch;
        for (int kh = 0; kh < 3; ++kh) {
          const int ti = 2 * to - 1 + kh;
          for (int kw = 0; kw < 3; ++kw) {
            const int fi = 2 * fo - 1 + kw;
            const bool inside = ti >= 0 && ti < t_in && fi >= 0 && fi < f_in;
            const float* src = inside ? in + (static_cast<int64_t>(ti) * f_in + fi) * c_in : nullptr;
            for (int ci = 0; ci < c_in; ++ci) col[(ci * 3 + kh) * 3 + kw] = inside ? src[ci] : 0.0f;
          }
        }
      }
    });
    linear(w, cols.data(), static_cast<int64_t>(nt) * f_out, out + static_cast<int64_t>(t0) * f_out * c_out,
           pool);
  }
}

void glu(const float* x, float* y, int64_t n, int64_t d, ThreadPool& pool) {
  pool.parallel_for(n, kRowGrain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) kernels::glu(x + t * 2 * d, x + t * 2 * d + d, y + t * d, d);
  });
}

void depthwise_causal_conv(const float* x, float* y, int64_t n, int64_t d, const float* w, int k,
                           ThreadPool& pool) {
  // Taps outermost over a transposed kernel, so the loop over channels is contiguous (and vectorises);
  // each output still sums its taps in order from 0, as before.
  std::vector<float> wt(static_cast<size_t>(k * d));  // [k][d]
  for (int64_t c = 0; c < d; ++c)
    for (int j = 0; j < k; ++j) wt[j * d + c] = w[c * k + j];
  pool.parallel_for(n, kRowGrain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      float* yr = y + t * d;
      std::fill(yr, yr + d, 0.0f);
      for (int j = 0; j < k; ++j) {
        const int64_t ts = t - (k - 1) + j;
        if (ts < 0) continue;
        const float* xr = x + ts * d;
        const float* wj = wt.data() + j * d;
        for (int64_t c = 0; c < d; ++c) yr[c] += xr[c] * wj[c];
      }
    }
  });
}

void local_attention(const float* q, const float* k, const float* v, const float* rel, int64_t n, int n_head,
                     int d_head, int window, float softcap, float* out, ThreadPool& pool) {
  const int64_t width = static_cast<int64_t>(n_head) * d_head;
  pool.parallel_for(n, kRowGrain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int n_keys = static_cast<int>(std::min<int64_t>(window, t + 1));
      for (int h = 0; h < n_head; ++h) {
        const int64_t at = t * width + h * d_head;
        kernels::local_attend(q + at, k + at, v + at, rel + h * d_head, width, n_keys, d_head, softcap,
                              out + at);
      }
    }
  });
}

void timing_signal(int n_pos, int d, float* out) {
  const int n_ts = d / 2;
  const float log_inc = std::log(10000.0f) / static_cast<float>(std::max(n_ts - 1, 1));
  for (int p = 0; p < n_pos; ++p) {
    for (int i = 0; i < n_ts; ++i) {
      const float scaled = static_cast<float>(p) * std::exp(-static_cast<float>(i) * log_inc);
      out[static_cast<int64_t>(p) * d + i] = std::sin(scaled);
      out[static_cast<int64_t>(p) * d + n_ts + i] = std::cos(scaled);
    }
  }
}

}  // namespace hark::gemma4a::ops
