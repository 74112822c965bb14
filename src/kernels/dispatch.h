// The single run-time instruction-set dispatch point. Each ISA fills a KernelTable; entries it does not
// provide keep the next lower ISA's function, so every entry is always callable. Headers carry no ISA
// flags: the SIMD code lives in src/kernels/<isa>/*.cpp, compiled with that ISA's flags, and is reached
// only through these tables.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/ggml_type.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace hark::kernels {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
const char* isa_name(Isa isa);

// Whether this CPU (and OS) can run `isa`.
bool cpu_supports(Isa isa);
// The ISA matmul uses: the best one the CPU supports, lowered by the environment variable
// HARK_ISA=scalar|avx2|avx512 (a request above what the CPU supports is ignored). Read once.
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

constexpr int kMaxTypeId = 40;  // above every GgmlType id hark knows

struct KernelTable {
  Isa isa = Isa::kScalar;
  DotFn dot[kMaxTypeId] = {};             // by weight type id
  TileFn tile[kMaxTypeId] = {};           // by weight type id, optional
  ConvertFn from_float[kMaxTypeId] = {};  // by activation type id
  ToFloatFn to_float[kMaxTypeId] = {};    // by type id, optional (else the scalar reference)
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
void fill_avx512(KernelTable& t);
void fill_avx512_tiles(KernelTable& t);

// matmul with a given table (tests run every ISA the CPU supports through this).
void matmul_with(const KernelTable& k, const WeightView& w, const float* x, int64_t n_tok, float* y,
                 ThreadPool* pool);

}  // namespace hark::kernels
