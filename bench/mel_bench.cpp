// Gemma 4 log-mel throughput on 10 minutes of audio, reported as x real-time (counter "x_realtime").
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "audio/mel.h"

namespace {

constexpr double kSeconds = 600.0;

// 10 min of a speech-like signal: a few harmonics with a wandering pitch plus low noise. The mel costs the
// same for any content; this only keeps the values away from the floor.
std::vector<float> synthetic_audio() {
  std::vector<float> pcm(static_cast<size_t>(kSeconds * hark::audio::kMelSampleRate));  // [n]
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  double phase = 0;
  for (size_t i = 0; i < pcm.size(); ++i) {
    const double t = static_cast<double>(i) / hark::audio::kMelSampleRate;
    phase += 2 * M_PI * (120 + 30 * std::sin(2 * M_PI * 0.5 * t)) / hark::audio::kMelSampleRate;
    pcm[i] =
        static_cast<float>(0.3 * std::sin(phase) + 0.1 * std::sin(3 * phase) + 0.05 * std::sin(7 * phase)) +
        noise(rng);
  }
  return pcm;
}

void BM_Gemma4LogMel(benchmark::State& state) {
  const std::vector<float> pcm = synthetic_audio();
  const int threads = static_cast<int>(state.range(0));
  hark::ThreadPool pool(threads);
  for (auto _ : state) {
    auto mel = hark::audio::gemma4_log_mel(pcm, threads > 1 ? &pool : nullptr);
    benchmark::DoNotOptimize(mel.data());
  }
  state.counters["x_realtime"] =
      benchmark::Counter(kSeconds * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Gemma4LogMel)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
