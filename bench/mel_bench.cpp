// Audio front end on 10 minutes of audio, reported as x real-time (counter "x_realtime"): decoding a
// 48 kHz stereo WAV to 16 kHz mono (FFmpeg decode + downmix + resample), the Gemma 4 log-mel, voice
// activity detection, and all of decode + mel together.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "audio/decode.h"
#include "audio/mel.h"
#include "audio/vad.h"

namespace {

constexpr double kSeconds = 600.0;

// A speech-like signal: a few harmonics of a wandering pitch, switched on and off every ~2 s, plus low
// noise. The mel costs the same for any content; this keeps values off the floor and gives VAD pauses.
float sample_at(double t, std::mt19937& rng) {
  std::normal_distribution<float> noise(0.0f, 0.003f);
  // Pitch 120 +- 30 Hz at 0.5 Hz: the phase is the integral of 2 pi f(t).
  const double phase = 2 * M_PI * 120 * t - 60 * std::cos(M_PI * t);
  const double gate = std::fmod(t, 2.1) < 1.5 ? 1.0 : 0.0;
  const double voiced = 0.3 * std::sin(phase) + 0.1 * std::sin(3 * phase) + 0.05 * std::sin(7 * phase);
  return static_cast<float>(gate * voiced) + noise(rng);
}

std::vector<float> pcm16k() {
  std::vector<float> pcm(static_cast<size_t>(kSeconds * hark::audio::kMelSampleRate));  // [n]
  std::mt19937 rng(1);
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = sample_at(static_cast<double>(i) / 16000, rng);
  return pcm;
}

// The same signal as a 48 kHz stereo 16-bit WAV file in memory.
std::vector<uint8_t> wav48k_stereo() {
  const uint32_t rate = 48000, channels = 2, n = static_cast<uint32_t>(kSeconds * rate);
  const uint32_t data_bytes = n * channels * 2;
  std::vector<uint8_t> out(44 + data_bytes);  // [44 + data_bytes]
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&out[at], &v, 4); };
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&out[at], &v, 2); };
  std::memcpy(&out[0], "RIFF", 4);
  put32(4, 36 + data_bytes);
  std::memcpy(&out[8], "WAVEfmt ", 8);
  put32(16, 16);
  put16(20, 1);
  put16(22, channels);
  put32(24, rate);
  put32(28, rate * channels * 2);
  put16(32, channels * 2);
  put16(34, 16);
  std::memcpy(&out[36], "data", 4);
  put32(40, data_bytes);
  std::mt19937 rng(1);
  for (uint32_t i = 0; i < n; ++i) {
    const auto s = static_cast<int16_t>(std::lrint(sample_at(static_cast<double>(i) / rate, rng) * 32767));
    for (uint32_t c = 0; c < channels; ++c) std::memcpy(&out[44 + (i * channels + c) * 2], &s, 2);
  }
  return out;
}

void set_rate(benchmark::State& state) {
  state.counters["x_realtime"] =
      benchmark::Counter(kSeconds * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Decode48kStereoWav(benchmark::State& state) {
  const auto wav = wav48k_stereo();
  for (auto _ : state) benchmark::DoNotOptimize(hark::audio::decode_memory(wav).samples.data());
  set_rate(state);
}
BENCHMARK(BM_Decode48kStereoWav)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Gemma4LogMel(benchmark::State& state) {
  const auto pcm = pcm16k();
  const int threads = static_cast<int>(state.range(0));
  hark::ThreadPool pool(threads);
  for (auto _ : state) benchmark::DoNotOptimize(hark::audio::gemma4_log_mel(pcm, &pool).data());
  set_rate(state);
}
BENCHMARK(BM_Gemma4LogMel)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DecodeAndLogMel(benchmark::State& state) {
  const auto wav = wav48k_stereo();
  const int threads = static_cast<int>(state.range(0));
  hark::ThreadPool pool(threads);
  for (auto _ : state) {
    const auto decoded = hark::audio::decode_memory(wav);
    benchmark::DoNotOptimize(hark::audio::gemma4_log_mel(decoded.samples, &pool).data());
  }
  set_rate(state);
}
BENCHMARK(BM_DecodeAndLogMel)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DetectSpeech(benchmark::State& state) {
  const auto pcm = pcm16k();
  for (auto _ : state) benchmark::DoNotOptimize(hark::audio::detect_speech(pcm).data());
  set_rate(state);
}
BENCHMARK(BM_DetectSpeech)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
