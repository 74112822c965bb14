// Decode + downmix + resample speed for 10 minutes of audio in the formats users send most, reported as
// x_realtime (seconds of audio per second of wall time, one thread). Inputs are built in memory from the
// jfk fixtures at start-up: jfk.mp3 concatenated (decoders skip the repeated headers), and WAV files
// holding the samples of the 16 kHz, 48 kHz float and 44.1 kHz stereo 24-bit fixtures repeated.
// Fixtures: $HARK_SHARED_DIR, else ../shared beside the source tree.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "audio/decode.h"

namespace {

constexpr double kTargetSeconds = 600;

std::string fixture(const std::string& rel) {
  const char* env = std::getenv("HARK_SHARED_DIR");
  const std::filesystem::path shared =
      env ? std::filesystem::path(env) : std::filesystem::path(__FILE__).parent_path() / "../../shared";
  return (shared / "fixtures/audio" / rel).string();
}

std::vector<uint8_t> read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path + " (set HARK_SHARED_DIR)");
  return {std::istreambuf_iterator<char>(f), {}};
}

std::vector<uint8_t> repeat_file(const std::string& rel, int times) {
  const auto one = read(fixture(rel));
  std::vector<uint8_t> out;
  out.reserve(one.size() * static_cast<size_t>(times));
  for (int i = 0; i < times; ++i) out.insert(out.end(), one.begin(), one.end());
  return out;
}

// A WAV whose data chunk is the fixture's data chunk `times` over (the header is reused, sizes fixed).
std::vector<uint8_t> repeat_wav(const std::string& rel, int times) {
  const auto one = read(fixture(rel));
  const std::string_view view(reinterpret_cast<const char*>(one.data()), one.size());
  const size_t data_tag = view.rfind("data");
  if (data_tag == std::string_view::npos) throw std::runtime_error(rel + ": no data chunk");
  const size_t payload = data_tag + 8;
  std::vector<uint8_t> out(one.begin(), one.begin() + static_cast<std::ptrdiff_t>(payload));
  const auto body = one.size() - payload;
  for (int i = 0; i < times; ++i)
    out.insert(out.end(), one.begin() + static_cast<std::ptrdiff_t>(payload), one.end());
  const auto data_size = static_cast<uint32_t>(body * static_cast<size_t>(times));
  const auto riff_size = static_cast<uint32_t>(out.size() - 8);
  std::memcpy(out.data() + data_tag + 4, &data_size, 4);
  std::memcpy(out.data() + 4, &riff_size, 4);
  return out;
}

void run(benchmark::State& state, const std::vector<uint8_t>& bytes) {
  double audio_seconds = 0;
  for (auto _ : state) {
    const hark::audio::Decoded d = hark::audio::decode_memory(bytes);
    audio_seconds = d.duration_seconds;
    benchmark::DoNotOptimize(d.samples.data());
  }
  state.counters["audio_s"] = audio_seconds;
  state.counters["x_realtime"] = benchmark::Counter(audio_seconds * static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
  state.counters["MB"] = static_cast<double>(bytes.size()) / 1e6;
}

// jfk is 11 s: 55 copies make 605 s.
constexpr int kCopies = static_cast<int>(kTargetSeconds / 11) + 1;

void BM_DecodeMp3(benchmark::State& state) {
  static const auto bytes = repeat_file("formats/jfk.mp3", kCopies);
  run(state, bytes);
}
void BM_DecodeWav16kS16(benchmark::State& state) {
  static const auto bytes = repeat_wav("jfk.wav", kCopies);
  run(state, bytes);
}
void BM_DecodeWav48kF32(benchmark::State& state) {
  static const auto bytes = repeat_wav("formats/jfk_48k_f32.wav", kCopies);
  run(state, bytes);
}
void BM_DecodeWav44k1StereoS24(benchmark::State& state) {
  static const auto bytes = repeat_wav("formats/jfk_44k1_stereo_s24.wav", kCopies);
  run(state, bytes);
}

BENCHMARK(BM_DecodeMp3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeWav16kS16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeWav48kF32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeWav44k1StereoS24)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
