// How the F16 GEMM drivers (gemm.cpp, amx/gemm_amx.cpp) share out their work. Declarations only: the
// definitions live in gemm.cpp, compiled without ISA flags, so both drivers call the same code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/huge_buffer.h"
#include "core/thread_pool.h"

namespace hark::kernels {

// At least `bytes` of 64-byte aligned memory in `v`, grown as needed and kept: with a thread_local `v`,
// steady-state calls do not allocate.
void* gemm_scratch(HugeVector<uint8_t>& v, size_t bytes);

// Output columns in groups of `group` weight strips; token strips in `parts` ranges, as many as give every
// thread about 4 tasks (a descheduled thread's share is then picked up by the others). Each output is
// computed by exactly one task, so results do not depend on the thread count.
struct GemmSplit {
  struct Task {
    int64_t j0, j1;  // weight strips [j0, j1)
    int64_t s0, s1;  // token strips [s0, s1)
  };
  int64_t n_strips = 0, group = 1, m_strips = 0, parts = 1;
  int64_t tasks() const;
  Task task(int64_t i) const;
};
GemmSplit gemm_split(int n_threads, int64_t n_strips, int64_t group, int64_t m_strips);

// pack(b, e) over [0, n_pack) in chunks of pack_grain, then run(b, e) over the split's tasks one at a time;
// on the pool, or in the calling thread without one.
using RangeFn = std::function<void(int64_t, int64_t)>;
void gemm_run(ThreadPool* pool, int64_t n_pack, int64_t pack_grain, const RangeFn& pack,
              const GemmSplit& split, const RangeFn& run);

}  // namespace hark::kernels
