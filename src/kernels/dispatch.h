// The single run-time instruction-set dispatch point. Each ISA fills a KernelTable; entries it does not
// provide keep the next lower ISA's function, so every entry is always callable. Headers carry no ISA
// flags: the SIMD code lives in src/kernels/<isa>/*.cpp, compiled with that ISA's flags, and is reached
// only through these tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "core/ggml_type.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace hark::kernels {

// kAmx is kAvx512 plus Intel AMX tiles (amx-tile, amx-bf16, amx-int8) for the F16 GEMM and the Q4_K/Q6_K
// prefill GEMM; everything else is shared.
enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAmx = 3 };
const char* isa_name(Isa isa);

// Whether this CPU (and OS) can run `isa`.
bool cpu_supports(Isa isa);
// The ISA matmul uses: the best one the CPU supports, lowered by the environment variable
// HARK_ISA=scalar|avx2|avx512|amx (a request above what the CPU supports is ignored). Read once.
Isa active_isa();
// The rule active_isa() applies to the value of HARK_ISA (null: unset).
Isa choose_isa(const char* request);

// Dot product of one weight row (n elements of the weight type) with one activation row (n elements of
// activation_type(weight type)).
using DotFn = float (*)(int64_t n, const void* w, const void* x);
// Converts n f32 values to an activation type.
using ConvertFn = void (*)(const float* src, void* dst, int64_t n);
// Converts n values of a type to f32 (dequantize_row's fast path).
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
// A tile: y[t * ldy + r] = dot(w row r, x row t) for r < nr, t < nt. Rows are w_stride / x_stride bytes
// apart. Lets an ISA reuse loaded weights across tokens; null means "loop over dot".
using TileFn = void (*)(int64_t n, const void* w, size_t w_stride, int nr, const void* x, size_t x_stride,
                        int nt, float* y, int64_t ldy);

// y[i] = silu(x[i]) = x[i] / (1 + exp(-x[i])); y may be x.
using SiluFn = void (*)(const float* x, float* y, int64_t n);
// y[i] = a[i] * sigmoid(b[i]) = a[i] / (1 + exp(-b[i])) (a GLU gate); y may be a.
using GluFn = void (*)(const float* a, const float* b, float* y, int64_t n);

// gelu_mul's and softcap's contracts (kernels.h).
using GeluMulFn = void (*)(const float* g, const float* u, float* y, int64_t n);
using SoftcapFn = void (*)(float* x, int64_t n, float cap);
// log_sum_exp's contract (kernels.h).
using LogSumExpFn = float (*)(const float* x, int64_t n);
// local_attend's contract (kernels.h), arguments already checked.
using LocalAttendFn = void (*)(const float* q, const float* k, const float* v, const float* rel, int64_t ld,
                               int n_keys, int64_t d, float cap, float* out);
// rms_norm's contract (kernels.h) for one row.
using RmsNormFn = void (*)(const float* x, const float* w, float* y, int64_t n, float eps);
// GELU(x) for every F16 bit pattern x, as F16 bits: 65536 entries and one more (zero) so that a 32-bit
// gather at the last entry stays inside the table.
const fp16_t* gelu_f16_table();

// attend_f16's leaf: n_q query rows (q[r][head_dim]) over every key of one window, as a partial softmax:
// s_j = scale * dot(f16(q[r]), k[j]), m[r] = max_j s_j, l[r] = sum_j exp(s_j - m[r]) and
// out[r] = sum_j exp(s_j - m[r]) * v[j], not divided by l[r]. scores: scratch of n_q * n_keys floats.
using AttendFn = void (*)(const float* q, int64_t n_q, int64_t head_dim, const KvWindow& win, float scale,
                          float* scores, float* out, float* m, float* l);

// softmax_values_f16's contract (kernels.h); scores are overwritten.
using SoftmaxValuesFn = void (*)(float* scores, int64_t ld, int64_t n_q, int64_t head_dim,
                                 const KvWindow& win, float scale, float* out);

// The three leaves of the blocked F16 GEMM (gemm.cpp drives them). The GEMM computes C[t][o] =
// sum_k A[t][k] * B[k][o] with A the activations and B the transposed weight, one mr x nr register tile of
// C at a time, from panels packed so the tile reads both operands sequentially.
struct GemmF16Kernels {
  int mr = 0;  // tokens per tile (broadcast operand)
  int nr = 0;  // weight rows per tile (vector operand)
  // dst[k][i] = f32(f16(x[i * ldx + k])) for k < kc, i < rows; rows <= i < mr are zero. bounds: null, or
  // {lo, hi} that each x is first clamped to (NaN stays NaN).
  void (*pack_a)(const float* x, int64_t ldx, int rows, int64_t kc, const float* bounds,
                 float* dst) = nullptr;
  // dst[k][j] = f32(w[j * ldw + k]) for k < kc, j < cols (w: f16 weight rows); cols <= j < nr are zero.
  void (*pack_b)(const uint16_t* w, int64_t ldw, int cols, int64_t kc, float* dst) = nullptr;
  // c[i * ldc + j] (+)= sum_k a[k * mr + i] * b[k * nr + j] for i < rows, j < cols, summed in f32 in k
  // order; `add` adds that sum to c, else c is overwritten; bounds (null, or {lo, hi}) clamps what is
  // stored, after the add (NaN stays NaN). Other elements of c are not touched.
  void (*tile)(const float* a, const float* b, int64_t kc, float* c, int64_t ldc, int rows, int cols,
               bool add, const float* bounds) = nullptr;
  // tile() with b in f16 ([kc][nr], a packed weight's panel), converted to f32 as it is read: the same
  // products and sums, so the same results. Optional (pack_f16 leaves weights unpacked without it).
  void (*tile_h)(const float* a, const fp16_t* b, int64_t kc, float* c, int64_t ldc, int rows, int cols,
                 bool add, const float* bounds) = nullptr;
};

// A whole F16 GEMM, same contract as gemm_f16 (n_tok >= 32), for ISAs whose tiles need their own driver.
using GemmFn = void (*)(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool* pool);
// A whole quantized matmul for many tokens (n_tok >= kQGemmMinTokens), given the activations already
// converted to activation_type(w.type): xq holds n_tok rows x_stride bytes apart. Same result as
// matmul_with up to float summation order.
using QGemmFn = void (*)(const WeightView& w, const uint8_t* xq, size_t x_stride, int64_t n_tok, float* y,
                         ThreadPool* pool);
constexpr int64_t kQGemmMinTokens = 32;

constexpr int kMaxTypeId = 40;  // above every GgmlType id hark knows

struct KernelTable {
  Isa isa = Isa::kScalar;
  DotFn dot[kMaxTypeId] = {};             // by weight type id
  TileFn tile[kMaxTypeId] = {};           // by weight type id, optional
  ConvertFn from_float[kMaxTypeId] = {};  // by activation type id
  ToFloatFn to_float[kMaxTypeId] = {};    // by type id, optional (else the scalar reference)
  GemmF16Kernels gemm_f16;                // optional (else gemm_f16 runs matmul)
  GemmFn gemm_f16_full = nullptr;         // optional, preferred over the gemm_f16 leaves
  QGemmFn qgemm[kMaxTypeId] = {};         // by weight type id, optional, preferred over tile for many tokens
  SiluFn silu = nullptr;                  // every table has these nine (scalar ones at least)
  GluFn glu = nullptr;
  GeluMulFn gelu_mul = nullptr;
  SoftcapFn softcap = nullptr;
  LogSumExpFn log_sum_exp = nullptr;
  LocalAttendFn local_attend = nullptr;
  RmsNormFn rms_norm = nullptr;
  AttendFn attend_f16 = nullptr;
  SoftmaxValuesFn softmax_values_f16 = nullptr;
};

// The table for `isa`; the caller checks cpu_supports(isa) before calling its entries.
const KernelTable& kernel_table(Isa isa);
inline const KernelTable& active_kernels() {
  return kernel_table(active_isa());
}

// Fillers, one per ISA (scalar.cpp, avx2/, avx512/): each overrides the entries it implements.
void fill_scalar(KernelTable& t);
void fill_avx2(KernelTable& t);
void fill_avx2_tiles(KernelTable& t);
void fill_avx2_attend(KernelTable& t);
void fill_avx512(KernelTable& t);
void fill_avx512_tiles(KernelTable& t);
void fill_avx512_gemm(KernelTable& t);
void fill_avx512_act(KernelTable& t);
void fill_amx(KernelTable& t);
void fill_amx_qgemm(KernelTable& t);

// matmul with a given table (tests run every ISA the CPU supports through this).
void matmul_with(const KernelTable& k, const WeightView& w, const float* x, int64_t n_tok, float* y,
                 ThreadPool* pool, const Clamp* clamp = nullptr);
// A clipped linear's clamps as passes around a product without fused ones (matmul, the AMX GEMM):
// product(x') with x' the input clamped into a thread-local copy, then y (n_tok x n_out) clamped in place;
// product(x) alone without a clamp or for empty shapes (the product reports bad ones).
void with_clamp(const Clamp* clamp, const float* x, int64_t n_in, int64_t n_tok, float* y, int64_t n_out,
                ThreadPool* pool, const std::function<void(const float*)>& product);
// gemm_f16 with a given table; small n_tok or a table without GEMM kernels go to matmul_with.
void gemm_f16_with(const KernelTable& k, const WeightView& w, const float* x, int64_t n_tok, float* y,
                   ThreadPool* pool, const Clamp* clamp = nullptr);
// pack_f16 / gemm_f16_packed with a given table (pack_f16_with returns an empty weight for a table without
// tile_h or with a whole-GEMM kernel).
PackedF16 pack_f16_with(const KernelTable& k, int64_t n_in, int64_t n_out, const F16RowReader& read);
void gemm_f16_packed_with(const KernelTable& k, const PackedF16& w, const float* x, int64_t n_tok, float* y,
                          ThreadPool* pool, const Clamp* clamp = nullptr);
// The scalar twin of gemm_f16: the same product, element by element, summed in double.
void gemm_f16_ref(const WeightView& w, const float* x, int64_t n_tok, float* y);

}  // namespace hark::kernels
