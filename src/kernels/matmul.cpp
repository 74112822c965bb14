// matmul: converts the activations once, then splits the output rows over the pool. For several tokens the
// rows are walked in small tiles and every token is run against one tile before moving on, so each weight
// byte comes from memory once per matmul rather than once per token.
#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/huge_buffer.h"
#include "core/quant.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace hark::kernels {
namespace {

constexpr int kRowTile = 16;  // weight rows per tile: ~16 KiB of Q4_K at n_in = 2048, stays in L1/L2
constexpr int kTokTile = 4;   // tokens per register tile; chunks are a multiple of it
// Tokens are walked in chunks whose converted activations fit in a core's L2 (~512 KiB of the 1-2 MiB),
// so each row tile re-reads them from L2 rather than L3; weights are then read once per chunk. Neutral at
// 512 tokens on the dev VM (its L3 is fast); it bounds the working set for long prompts (3000 tokens of
// 6144-wide Q8_K activations would be 20 MiB).
constexpr size_t kChunkBytes = size_t{512} << 10;

[[noreturn]] void unsupported(GgmlType t) {
  throw Error(Errc::kUnsupported, "matmul: no kernel for weight type " + std::string(ggml_type_name(t)));
}

void run_tiles(const KernelTable& k, GgmlType wt, int64_t n, const uint8_t* w, size_t w_stride, int64_t r0,
               int64_t r1, const uint8_t* x, size_t x_stride, int64_t n_tok, float* y, int64_t n_out) {
  const DotFn dot = k.dot[static_cast<int>(wt)];
  const TileFn tile = k.tile[static_cast<int>(wt)];
  const int64_t chunk =
      std::max<int64_t>(kTokTile, static_cast<int64_t>(kChunkBytes / x_stride) / kTokTile * kTokTile);
  for (int64_t cb = 0; cb < n_tok; cb += chunk) {
    const int64_t ce = std::min(n_tok, cb + chunk);
    for (int64_t rb = r0; rb < r1; rb += kRowTile) {
      const int nr = static_cast<int>(std::min<int64_t>(kRowTile, r1 - rb));
      const uint8_t* wr = w + rb * w_stride;
      if (tile != nullptr) {  // the whole chunk, so a tile can prepare per-row work once for all its tokens
        tile(n, wr, w_stride, nr, x + cb * x_stride, x_stride, static_cast<int>(ce - cb), y + cb * n_out + rb,
             n_out);
        continue;
      }
      for (int64_t t = cb; t < ce; ++t)
        for (int r = 0; r < nr; ++r) y[t * n_out + rb + r] = dot(n, wr + r * w_stride, x + t * x_stride);
    }
  }
}

// One token (decode): rows [r0, r1) are read as kStreams sequential streams at once, row i of each quarter
// together, since one core pulls more from DRAM with several streams in flight than with one (matmul_bench
// matvec, 1 / 2 threads: Q4_K 11.0 / 20.4 -> 13.6 / 28.6 GB/s, Q6_K 11.8 / 22.4 -> 15.0 / 28.4). Each tile
// call takes one row per stream.
constexpr int kStreams = 4;

void run_matvec(const KernelTable& k, GgmlType wt, int64_t n, const uint8_t* w, size_t w_stride, int64_t r0,
                int64_t r1, const uint8_t* x, float* y) {
  const DotFn dot = k.dot[static_cast<int>(wt)];
  const TileFn tile = k.tile[static_cast<int>(wt)];
  const int64_t q = (r1 - r0) / kStreams;
  for (int64_t i = 0; i < q; ++i) {
    const uint8_t* wr = w + (r0 + i) * w_stride;
    float t[kStreams];
    if (tile != nullptr) {
      tile(n, wr, q * w_stride, kStreams, x, 0, 1, t, kStreams);
    } else {
      for (int s = 0; s < kStreams; ++s) t[s] = dot(n, wr + s * q * w_stride, x);
    }
    for (int s = 0; s < kStreams; ++s) y[r0 + s * q + i] = t[s];
  }
  for (int64_t r = r0 + kStreams * q; r < r1; ++r) y[r] = dot(n, w + r * w_stride, x);
}

}  // namespace

bool has_matmul(GgmlType weight) {
  switch (weight) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::Q8_0:
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

GgmlType activation_type(GgmlType weight) {
  switch (weight) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
      return weight;
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
      return GgmlType::Q8_0;
    case GgmlType::Q4_1:
    case GgmlType::Q5_1:
      return GgmlType::Q8_1;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return GgmlType::Q8_K;
    default:
      unsupported(weight);
  }
}

namespace {

// n values of x clamped into dst (may be x); NaN stays NaN, as in the GEMM's fused clamps.
void clamp_pass(const float* x, float* dst, int64_t n, float lo, float hi, ThreadPool* pool) {
  auto run = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
  };
  if (pool == nullptr) {
    run(0, n);
  } else {
    pool->parallel_for(n, 16384, run);
  }
}

}  // namespace

void with_clamp(const Clamp* clamp, const float* x, int64_t n_in, int64_t n_tok, float* y, int64_t n_out,
                ThreadPool* pool, const std::function<void(const float*)>& product) {
  if (clamp == nullptr || n_in <= 0 || n_tok <= 0 || n_out <= 0) {  // the product reports bad shapes
    product(x);
    return;
  }
  thread_local HugeVector<float> xc;
  xc.resize(static_cast<size_t>(n_in * n_tok));
  clamp_pass(x, xc.data(), n_in * n_tok, clamp->in_min, clamp->in_max, pool);
  product(xc.data());
  clamp_pass(y, y, n_out * n_tok, clamp->out_min, clamp->out_max, pool);
}

void matmul_with(const KernelTable& k, const WeightView& w, const float* x, int64_t n_tok, float* y,
                 ThreadPool* pool, const Clamp* clamp) {
  if (clamp != nullptr) {
    with_clamp(clamp, x, w.n_in, n_tok, y, w.n_out, pool,
               [&](const float* xin) { matmul_with(k, w, xin, n_tok, y, pool); });
    return;
  }
  const GgmlType at = activation_type(w.type);
  const int64_t block = ggml_type_info(w.type).block_size;
  if (w.n_in <= 0 || w.n_in % block != 0 || w.n_out < 0 || n_tok < 0) {
    throw Error(Errc::kInvalidArgument, "matmul: a " + std::string(ggml_type_name(w.type)) +
                                            " weight needs n_in (" + std::to_string(w.n_in) +
                                            ") to be a positive multiple of " + std::to_string(block));
  }
  if (n_tok == 0 || w.n_out == 0) return;
  const size_t w_stride = ggml_row_size(w.type, w.n_in);
  const size_t x_stride = ggml_row_size(at, w.n_in);
  const uint8_t* xa = reinterpret_cast<const uint8_t*>(x);
  // Converted activations: [n_tok][x_stride bytes]. Kept per thread so steady-state calls do not allocate.
  thread_local HugeVector<uint8_t> act;
  if (at != GgmlType::F32) {
    if (act.size() < n_tok * x_stride) act.resize(n_tok * x_stride);
    const ConvertFn convert = k.from_float[static_cast<int>(at)];
    uint8_t* dst = act.data();
    auto convert_rows = [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) convert(x + t * w.n_in, dst + t * x_stride, w.n_in);
    };
    if (pool != nullptr && n_tok >= 8) {
      pool->parallel_for(n_tok, 4, convert_rows);
    } else {
      convert_rows(0, n_tok);
    }
    xa = act.data();
  }
  const QGemmFn qgemm = k.qgemm[static_cast<int>(w.type)];
  if (qgemm != nullptr && n_tok >= kQGemmMinTokens) {
    qgemm(w, xa, x_stride, n_tok, y, pool);
    return;
  }
  const uint8_t* wd = static_cast<const uint8_t*>(w.data);
  auto rows = [&](int64_t r0, int64_t r1) {
    if (n_tok == 1) {
      run_matvec(k, w.type, w.n_in, wd, w_stride, r0, r1, xa, y);
      return;
    }
    run_tiles(k, w.type, w.n_in, wd, w_stride, r0, r1, xa, x_stride, n_tok, y, w.n_out);
  };
  const int nth = pool != nullptr ? pool->size() : 1;
  if (nth <= 1) {
    rows(0, w.n_out);
    return;
  }
  // About four chunks per thread for balance, in whole row tiles.
  int64_t grain = (w.n_out + 4 * nth - 1) / (4 * nth);
  grain = std::max<int64_t>(kRowTile, (grain + kRowTile - 1) / kRowTile * kRowTile);
  pool->parallel_for(w.n_out, grain, rows);
}

void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool* pool,
            const Clamp* clamp) {
  matmul_with(active_kernels(), w, x, n_tok, y, pool, clamp);
}

namespace {
void check_row_length(const char* what, GgmlType t, int64_t n) {
  const int64_t block = ggml_type_info(t).block_size;
  if (n < 0 || n % block != 0) {
    throw Error(Errc::kInvalidArgument, std::string(what) + ": a " + std::string(ggml_type_name(t)) +
                                            " row of " + std::to_string(n) +
                                            " elements is not a multiple of " + std::to_string(block));
  }
}
}  // namespace

void silu(const float* x, float* y, int64_t n) {
  active_kernels().silu(x, y, n);
}

void glu(const float* a, const float* b, float* y, int64_t n) {
  active_kernels().glu(a, b, y, n);
}

void gelu_mul(const float* g, const float* u, float* y, int64_t n) {
  active_kernels().gelu_mul(g, u, y, n);
}

void softcap(float* x, int64_t n, float cap) {
  active_kernels().softcap(x, n, cap);
}

float log_sum_exp(const float* x, int64_t n) {
  if (n < 1) throw Error(Errc::kInvalidArgument, "log_sum_exp: no values");
  return active_kernels().log_sum_exp(x, n);
}

void local_attend(const float* q, const float* k, const float* v, const float* rel, int64_t ld, int n_keys,
                  int64_t d, float cap, float* out) {
  if (n_keys < 1 || n_keys > kMaxLocalKeys || d < 1)
    throw Error(Errc::kInvalidArgument, "local_attend: " + std::to_string(n_keys) + " keys of " +
                                            std::to_string(d) + " floats (1 to " +
                                            std::to_string(kMaxLocalKeys) + " keys, at least 1 float)");
  active_kernels().local_attend(q, k, v, rel, ld, n_keys, d, cap, out);
}

void rms_norm(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps,
              ThreadPool* pool) {
  const RmsNormFn row = active_kernels().rms_norm;
  auto rows = [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) row(x + r * n, w, y + r * n, n, eps);
  };
  // A chunk of at least ~8192 floats: smaller ones (decode's single rows) cost more to hand out than to run.
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1));
  if (pool == nullptr || n_rows < 2 * grain) {
    rows(0, n_rows);
    return;
  }
  pool->parallel_for(n_rows, grain, rows);
}

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) {
  check_row_length("dequantize_row", t, n);
  const ToFloatFn f = active_kernels().to_float[static_cast<int>(t)];
  if (f != nullptr) {
    f(src, dst, n);
    return;
  }
  dequantize_row_ref(t, src, dst, n);
}

void quantize_row(GgmlType t, const float* src, void* dst, int64_t n) {
  check_row_length("quantize_row", t, n);
  const KernelTable& k = active_kernels();
  const ConvertFn f = k.from_float[static_cast<int>(t)];
  if (f != nullptr) {
    f(src, dst, n);
    return;
  }
  quantize_row_ref(t, src, dst, n);
}

}  // namespace hark::kernels
