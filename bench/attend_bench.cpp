// attend_f16, a decode step's attention, at Gemma 4 E2B's shapes: 8 query heads on one KV head, over a
// full-attention layer's window (head size 512, 1024 cached positions) and a sliding layer's (256, its
// 512-position window). In decode the 35 layers' windows (~28 MiB) come from memory, not cache, so the
// benchmark cycles through copies of the window (>= 256 MiB in all).
// Counters (per second): kv_GB = key and value bytes read; GFLOP = 4 * heads * keys * head_dim (the key
// dots and the value sums). Bounds on the 2-core dev VM: ~25-30 GB/s streamed (matmul_bench's F32 matvec),
// ~230 GFLOP/s FP32 FMA peak (~115 on 256-bit FMAs, which the leaf uses).
// Run: build/dev/bench/attend_bench; HARK_ISA=scalar for the twin.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace {

constexpr int64_t kHeads = 8;
constexpr size_t kColdBytes = size_t{256} << 20;

void bm_attend(benchmark::State& state, int64_t hd, int64_t n_keys, int threads) {
  const size_t per_copy = static_cast<size_t>(2 * n_keys * hd);  // K then V, in fp16 elements
  const size_t n_copies = kColdBytes / (per_copy * sizeof(hark::fp16_t)) + 1;
  std::vector<hark::fp16_t> kv(per_copy * n_copies);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (size_t i = 0; i < per_copy; ++i) kv[i] = hark::f32_to_fp16(dist(rng));
  for (size_t c = 1; c < n_copies; ++c)
    std::copy(kv.begin(), kv.begin() + per_copy, kv.begin() + c * per_copy);
  std::vector<float> q(kHeads * hd), out(kHeads * hd);
  for (auto& v : q) v = dist(rng) * 0.1f;
  hark::ThreadPool pool(threads);
  size_t c = 0;
  for (auto _ : state) {
    const hark::fp16_t* k = kv.data() + c * per_copy;
    const hark::fp16_t* v = k + n_keys * hd;
    // The window wraps a third of the way in, as a ring cache's does.
    const int64_t n0 = n_keys - n_keys / 3;
    const hark::kernels::KvWindow win{k + (n_keys - n0) * hd, v + (n_keys - n0) * hd, n0, k, v, n_keys};
    hark::kernels::attend_f16({q.data(), 1, kHeads, hd, win, 0, 1.0f, out.data()}, &pool);
    benchmark::DoNotOptimize(out.data());
    c = (c + 1) % n_copies;
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["kv_GB"] = benchmark::Counter(
      iters * static_cast<double>(per_copy * sizeof(hark::fp16_t)) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP"] =
      benchmark::Counter(iters * 4.0 * kHeads * n_keys * hd / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(hark::kernels::isa_name(hark::kernels::active_isa()));
}

const int kRegistered = [] {
  for (const auto& [hd, n_keys] : {std::pair<int64_t, int64_t>{512, 1024}, {256, 512}}) {
    for (int threads : {1, 2}) {
      const std::string name = "attend_f16/hd:" + std::to_string(hd) + "/keys:" + std::to_string(n_keys) +
                               "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), bm_attend, hd, n_keys, threads)
          ->Unit(benchmark::kMicrosecond)
          ->MinTime(0.3)
          ->UseRealTime();
    }
  }
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
