// matmul throughput per weight type at E2B-like shapes (1536 -> 6144, an FFN up/gate projection).
// matvec (n_tok = 1) is bound by weight bandwidth: it cycles through enough copies of the weight (>= 512 MiB)
// that each call reads from DRAM, not cache. Prefill shapes (n_tok = 64, 512) reuse one copy.
// Counters (per second): weight_GB = weight bytes read, GFLOP = 2 * n_in * n_out * n_tok.
// gemm/...: the audio encoder's F16 linears (750 tokens, E2B widths) through gemm_f16, gemm_f16_packed and,
// for comparison, matmul; peak_frac = GFLOP/s over this CPU's FP32 FMA peak for that many threads, measured
// once by the bench (register-only FMA chains; 212 GFLOP/s per thread, 421 for two on the Zen 5 dev VM).
// Run: build/dev/bench/matmul_bench [--benchmark_filter=Q4_K]; HARK_ISA=avx2 to compare ISAs.
#include <benchmark/benchmark.h>

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/fp16.h"
#include "core/quant.h"
#include "core/thread_pool.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace {

using hark::GgmlType;

constexpr int64_t kIn = 1536;
constexpr int64_t kOut = 6144;
constexpr size_t kColdBytes = size_t{512} << 20;  // total weight bytes cycled through for matvec

struct Weights {
  size_t bytes;                                    // one copy
  std::vector<std::unique_ptr<uint8_t[]>> copies;  // [n_copies][bytes]
};

Weights make_weights(GgmlType t, bool cold) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> row(kIn);  // one f32 source row
  Weights w{hark::ggml_row_size(t, kIn) * kOut, {}};
  const size_t rb = hark::ggml_row_size(t, kIn);
  auto first = std::make_unique<uint8_t[]>(w.bytes);
  for (int64_t o = 0; o < kOut; ++o) {
    for (auto& v : row) v = dist(rng);
    hark::quantize_row_ref(t, row.data(), first.get() + o * rb, kIn);
  }
  const size_t n = cold ? (kColdBytes + w.bytes - 1) / w.bytes : 1;
  w.copies.push_back(std::move(first));
  for (size_t c = 1; c < n; ++c) {
    w.copies.push_back(std::make_unique<uint8_t[]>(w.bytes));
    std::memcpy(w.copies.back().get(), w.copies[0].get(), w.bytes);
  }
  return w;
}

// The weights of the type being measured, kept across its benchmarks (registered type by type) so each
// type is quantized once and only one type's cold copies are alive at a time.
const Weights& weights_for(GgmlType t) {
  static GgmlType cached_type = GgmlType::I8;
  static Weights cached{0, {}};
  if (cached_type != t) {
    cached = Weights{0, {}};
    cached = make_weights(t, true);
    cached_type = t;
  }
  return cached;
}

void bm_matmul(benchmark::State& state, GgmlType t, int64_t n_tok, int threads) {
  const Weights& w = weights_for(t);
  std::vector<float> x(kIn * n_tok), y(kOut * n_tok);  // [n_tok][kIn], [n_tok][kOut]
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  hark::ThreadPool pool(threads);
  // matvec cycles through the copies so it reads DRAM; prefill reuses one copy (it is compute bound).
  const size_t n_copies = n_tok == 1 ? w.copies.size() : 1;
  size_t c = 0;
  for (auto _ : state) {
    hark::kernels::matmul({t, w.copies[c].get(), kIn, kOut}, x.data(), n_tok, y.data(), &pool);
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % n_copies;
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["weight_GB"] =
      benchmark::Counter(iters * static_cast<double>(w.bytes) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP"] = benchmark::Counter(iters * 2.0 * kIn * kOut * static_cast<double>(n_tok) / 1e9,
                                               benchmark::Counter::kIsRate);
  state.SetLabel(hark::kernels::isa_name(hark::kernels::active_isa()));
}

// The FP32 FMA peak of `threads` threads on this CPU, GFLOP/s: register-only AVX-512 (else AVX2) FMA chains,
// 12 independent accumulators per thread (enough for two pipes of 4-cycle FMAs), measured once. One loop
// per ISA: a template shared by both would run the intrinsics outside their target functions, which GCC
// refuses to inline (tried).
constexpr int kChains = 12;
template <class V>
double gflops_since(std::chrono::steady_clock::time_point t0, const V (&acc)[kChains], int lanes,
                    int64_t iters) {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& a : acc) benchmark::DoNotOptimize(a);
  return 2.0 * lanes * kChains * static_cast<double>(iters) / s / 1e9;
}
__attribute__((target("avx512f"))) double fma_peak_512(int64_t iters) {
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_set1_ps(1.0f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (auto& a : acc) a = _mm512_fmadd_ps(a, m, c);
  }
  return gflops_since(t0, acc, 16, iters);
}
__attribute__((target("avx2,fma"))) double fma_peak_256(int64_t iters) {
  __m256 acc[kChains];
  for (auto& a : acc) a = _mm256_set1_ps(1.0f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (auto& a : acc) a = _mm256_fmadd_ps(a, m, c);
  }
  return gflops_since(t0, acc, 8, iters);
}

double fma_peak_gflops(int threads) {
  static std::map<int, double> cache;
  if (auto it = cache.find(threads); it != cache.end()) return it->second;
  const bool avx512 = __builtin_cpu_supports("avx512f");
  constexpr int64_t kIters = 300'000'000;
  std::vector<double> per(static_cast<size_t>(threads));
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {  // best of 3: the first runs while the clock ramps up
      for (int r = 0; r < 3; ++r)
        per[t] = std::max(per[t], avx512 ? fma_peak_512(kIters) : fma_peak_256(kIters));
    });
  }
  for (auto& t : ts) t.join();
  double sum = 0;
  for (double v : per) sum += v;
  return cache[threads] = sum;
}

enum class GemmPath { kGemm, kPacked, kMatmul };

// One F16 weight [n_out][n_in] times 750 token rows, through gemm_f16, gemm_f16_packed (weight packed
// before the timing) or matmul.
void bm_gemm(benchmark::State& state, int64_t n_in, int64_t n_out, int threads, GemmPath path) {
  constexpr int64_t kTok = 750;                  // one 30 s audio chunk
  const double peak = fma_peak_gflops(threads);  // before the pool exists: its idle workers spin a while
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<hark::fp16_t> w(static_cast<size_t>(n_in * n_out));  // [n_out][n_in]
  for (auto& v : w) v = hark::f32_to_fp16(0.05f * dist(rng));
  std::vector<float> x(static_cast<size_t>(n_in * kTok)), y(static_cast<size_t>(n_out * kTok));  // [kTok][.]
  for (auto& v : x) v = dist(rng);
  hark::ThreadPool pool(threads);
  const hark::kernels::WeightView wv{GgmlType::F16, w.data(), n_in, n_out};
  hark::kernels::PackedF16 packed;
  if (path == GemmPath::kPacked) {
    packed = hark::kernels::pack_f16(n_in, n_out, [&](int64_t row0, int64_t n, hark::fp16_t* dst) {
      std::memcpy(dst, w.data() + row0 * n_in, static_cast<size_t>(n * n_in) * sizeof(hark::fp16_t));
    });
    if (packed.empty()) {
      state.SkipWithError("no packed GEMM on this CPU (needs AVX-512 without AMX)");
      return;
    }
  }
  for (auto _ : state) {
    if (path == GemmPath::kGemm) {
      hark::kernels::gemm_f16(wv, x.data(), kTok, y.data(), &pool);
    } else if (path == GemmPath::kPacked) {
      hark::kernels::gemm_f16_packed(packed, x.data(), kTok, y.data(), &pool);
    } else {
      hark::kernels::matmul(wv, x.data(), kTok, y.data(), &pool);
    }
    benchmark::DoNotOptimize(y.data());
  }
  const double gflop = static_cast<double>(state.iterations()) * 2.0 * n_in * n_out * kTok / 1e9;
  state.counters["GFLOP"] = benchmark::Counter(gflop, benchmark::Counter::kIsRate);
  state.counters["peak_frac"] = benchmark::Counter(gflop / peak, benchmark::Counter::kIsRate);
  state.SetLabel(hark::kernels::isa_name(hark::kernels::active_isa()));
}

const int kRegistered = [] {
  const std::pair<GemmPath, const char*> paths[] = {{GemmPath::kGemm, "gemm_f16/"},
                                                    {GemmPath::kPacked, "gemm_f16_packed/"},
                                                    {GemmPath::kMatmul, "matmul_f16/"}};
  for (const auto& [n_in, n_out] : {std::pair<int64_t, int64_t>{1024, 4096}, {4096, 1024}}) {
    for (const auto& [path, prefix] : paths) {
      for (int threads : {1, 2}) {
        const std::string name = std::string(prefix) + std::to_string(n_in) + "x" + std::to_string(n_out) +
                                 "/tok:750/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), bm_gemm, n_in, n_out, threads, path)
            ->Unit(benchmark::kMillisecond)
            ->MinTime(0.5)
            ->UseRealTime();
      }
    }
  }
  const GgmlType types[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                            GgmlType::Q6_K, GgmlType::Q5_K, GgmlType::Q5_0, GgmlType::Q5_1,
                            GgmlType::Q4_K, GgmlType::Q4_0, GgmlType::Q4_1};
  for (GgmlType t : types) {
    for (int64_t n_tok : {1, 64, 512}) {
      for (int threads : {1, 2}) {
        const std::string name = "matmul/" + std::string(hark::ggml_type_name(t)) +
                                 "/tok:" + std::to_string(n_tok) + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), bm_matmul, t, n_tok, threads)
            ->Unit(benchmark::kMillisecond)
            ->MinTime(0.2)
            ->UseRealTime();
      }
    }
  }
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
