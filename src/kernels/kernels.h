// Matrix kernels over GGUF weights: the one entry point the model code uses for every linear layer, plus
// row conversions. Which instruction set runs is decided once, at run time (see dispatch.h).
#pragma once

#include <cstdint>
#include <functional>

#include "core/fp16.h"
#include "core/ggml_type.h"
#include "core/huge_buffer.h"
#include "core/thread_pool.h"

namespace hark::kernels {

// A GGUF weight with ggml ne = [n_in, n_out]: n_out rows of n_in elements, rows contiguous. Not owning.
struct WeightView {
  GgmlType type;
  const void* data;
  int64_t n_in;
  int64_t n_out;
};

// The bounds of a clipped linear (Gemma 4's audio layers carry them): the input is clamped to [in_min,
// in_max] before the product, the output to [out_min, out_max] after it; NaN stays NaN.
struct Clamp {
  float in_min, in_max, out_min, out_max;
};

// y[t * n_out + o] = sum_i W[o][i] * x[t * n_in + i] for t < n_tok.
// x: [n_tok][n_in] f32, y: [n_tok][n_out] f32. The activations are first converted exactly as ggml's CPU
// backend converts them for this weight type (F32: none; F16/BF16: rounded to that type; Q4_0/Q5_0/Q8_0:
// Q8_0; Q4_1/Q5_1: Q8_1; K-quants: Q8_K), so results track llama.cpp's rounding. pool may be null (runs
// on the calling thread). Throws hark::Error(kUnsupported) for a weight type without a kernel and
// kInvalidArgument when n_in is not a multiple of the type's block size.
// With `clamp`, a clipped linear (passes over the input and the output around the product).
void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool* pool,
            const Clamp* clamp = nullptr);

// The same product as matmul() for an F16 weight (activations rounded to f16 as matmul rounds them, so
// results track llama.cpp), computed as a cache-blocked GEMM for many tokens at once (the audio encoder's
// 750-token chunks): each output sums its products in f32, k in order within blocks of 4096, then the
// blocks. Runs matmul() for few tokens or on a CPU without the GEMM kernels. With `clamp`, a clipped
// linear: the clamps ride along the GEMM's packing and stores where it has them. Throws like matmul(), and
// kInvalidArgument for a weight that is not F16.
void gemm_f16(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool* pool,
              const Clamp* clamp = nullptr);

// An F16 weight laid out once, at load, for gemm_f16_packed: strips of nr weight rows, each k-major
// ([n_in][nr] f16; rows past n_out are zero), the order the GEMM's register tile reads them, so no call
// gathers, transposes or converts weights (docs/kernels.md). Empty (nr == 0) where the CPU's kernels have no
// packed GEMM (no AVX-512, or AMX, whose own GEMM is faster): then keep calling gemm_f16.
struct PackedF16 {
  int64_t n_in = 0, n_out = 0;
  int nr = 0;
  HugeBuffer data;  // [ceil(n_out / nr)][n_in][nr] f16
  bool empty() const { return nr == 0; }
  const fp16_t* values() const { return static_cast<const fp16_t*>(data.data()); }
};
// Copies weight rows [row0, row0 + n) (n_in f16 each) to dst: how pack_f16 reads its source, so a caller
// can read a mapped file through its descriptor and leave the mapping's pages untouched. Called from two
// threads at once (disjoint rows); what it throws, pack_f16 throws.
using F16RowReader = std::function<void(int64_t row0, int64_t n, fp16_t* dst)>;
// Throws kInvalidArgument for n_in or n_out < 1.
PackedF16 pack_f16(int64_t n_in, int64_t n_out, const F16RowReader& read);
// The product gemm_f16 computes (same rounding, same summation order: for n_tok >= 32 bit for bit equal)
// from a packed weight, for any n_tok >= 1. Throws kInvalidArgument for a weight packed for other kernels.
void gemm_f16_packed(const PackedF16& w, const float* x, int64_t n_tok, float* y, ThreadPool* pool,
                     const Clamp* clamp = nullptr);

// Activations over n floats, vectorised where the CPU allows (within a few ulp of std::exp's results):
// silu: y = x / (1 + exp(-x)); glu: y = a * sigmoid(b). y may alias x (silu) or a (glu).
void silu(const float* x, float* y, int64_t n);
void glu(const float* a, const float* b, float* y, int64_t n);

// y[i] = gelu(g[i]) * u[i], GELU's tanh form as ggml's CPU backend computes it: the input rounded to F16
// indexes a table of F16 results (gelu_f16_table); inputs <= -10 give 0, inputs >= 10 the input itself.
// Every ISA gives the same bits. y may alias g or u.
void gelu_mul(const float* g, const float* u, float* y, int64_t n);
// x[i] = cap * tanh(x[i] / cap), in place, within a few ulp of std::tanh (the final logit soft-cap).
void softcap(float* x, int64_t n, float cap);
// log(sum_i exp(x[i])) over n >= 1 values without NaN (a token's log-partition, for log-probabilities):
// m + log(sum_i exp(x[i] - m)) with m the largest, the sum in double; -inf when every x[i] is -inf. Within
// a few ulp of the scalar twin's std::exp form.
float log_sum_exp(const float* x, int64_t n);

// One query of the audio encoder's local attention (a conformer's causal window; relative positions enter
// as a second dot product, as llama.cpp's graph adds them): key j = 0 .. n_keys - 1 lies j rows of ld
// floats before the query's row (k - j * ld, v - j * ld), its relative-position row at rel + j * ld. Over
// d floats, s_j = cap * tanh((dot(q, k_j) + dot(q, rel_j)) / cap) and out = sum_j softmax_j(s) * v_j.
// Throws kInvalidArgument unless 1 <= n_keys <= kMaxLocalKeys and d >= 1.
constexpr int kMaxLocalKeys = 64;
void local_attend(const float* q, const float* k, const float* v, const float* rel, int64_t ld, int n_keys,
                  int64_t d, float cap, float* out);

// Each of the n_rows rows of x [n_rows][n]: y = (x * (1 / sqrt(mean(x^2) + eps))) * w (w may be null =
// ones), the squares summed in double as ggml's CPU backend sums them; y may be x. Many rows are split over
// the pool (may be null). Every ISA forms the same mean up to the order of a double sum, so in practice
// the same bits.
void rms_norm(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps,
              ThreadPool* pool);

// A window of n_keys F16 key and value rows (head_dim elements each) of one KV head, in up to two pieces
// because the cache is a ring: key j is row j of k0/v0 for j < n0, else row j - n0 of k1/v1.
struct KvWindow {
  const fp16_t* k0;
  const fp16_t* v0;
  int64_t n0;
  const fp16_t* k1;
  const fp16_t* v1;
  int64_t n_keys;
};

// Keys [a, b) of a window, as a window.
KvWindow window_range(const KvWindow& w, int64_t head_dim, int64_t a, int64_t b);

// The second half of attention when the scores are already computed (a prefill block's come from one
// GEMM): for each of n_q rows that see the same keys, scores[r * ld + j] for j < win.n_keys, out[r] =
// sum_j softmax_j(scale * scores[r][j]) * v[j] over the window's F16 value rows. The scores are used as
// scratch. Throws kInvalidArgument for an empty window, n0 outside [0, n_keys] or ld < n_keys.
void softmax_values_f16(float* scores, int64_t ld, int64_t n_q, int64_t head_dim, const KvWindow& win,
                        float scale, float* out);

// A decode step's attention: query rows that all see every key of their KV head's window. Group g (one KV
// head) has `rows` query heads, q[g][r][head_dim], and reads the window `win` moved group_stride elements
// per group (the cache keeps its KV heads that far apart). out[g][r] = sum_j softmax_j(scale * dot(f16(q),
// k[j])) * v[j]: queries are rounded to F16 for the key dots, as matmul rounds them against an F16 weight
// (and llama.cpp against its F16 cache).
struct AttendStep {
  const float* q;
  int64_t n_groups, rows, head_dim;
  KvWindow win;
  int64_t group_stride;
  float scale;
  float* out;
};
// Each group's keys are split over the pool (every K/V byte is read once, by one thread) and the partial
// softmaxes merged. Throws kInvalidArgument for an empty window or n0 outside [0, n_keys].
void attend_f16(const AttendStep& step, ThreadPool* pool);

// Converts n elements (a multiple of the block size) of one row; dequantize_row also serves embedding
// lookups (src = start of the row). Throws hark::Error(kUnsupported) for types hark cannot convert.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);
void quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

// Whether matmul() takes weights of this type (model loaders check their tensors with it).
bool has_matmul(GgmlType weight);

// The type the activations are converted to for a matmul with weights of type `weight`.
// Throws hark::Error(kUnsupported) when there is no matmul kernel for `weight`.
GgmlType activation_type(GgmlType weight);

}  // namespace hark::kernels
