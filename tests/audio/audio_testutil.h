// Helpers for the audio decoder tests: reference speech, alignment, synthetic WAV files.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hark::audio::test {

// jfk.wav's samples read straight from the headerless fixture (s16 / 32768): a reference that does not
// depend on the decoder under test. [176000] 16 kHz mono.
const std::vector<float>& jfk_reference();

// Normalised cross-correlation of `x` against `ref` at the lag in [-max_lag, max_lag] that maximises it
// (x[i + lag] pairs with ref[i]); the lag is searched on an excerpt, then scored on the whole overlap.
struct Alignment {
  int lag = 0;
  double correlation = 0;
};
Alignment best_alignment(std::span<const float> ref, std::span<const float> x, int max_lag);

// A RIFF/WAVE file: fmt chunk (16 bytes, or WAVE_FORMAT_EXTENSIBLE when `extensible`), then a data chunk
// holding `data`. `data_size` overrides the size written in the data chunk header.
struct WavSpec {
  uint16_t format_tag = 1;  // 1 PCM, 3 IEEE float, 7 mu-law
  uint16_t channels = 1;
  uint32_t sample_rate = 16000;
  uint16_t bits = 16;
  bool extensible = false;
  uint32_t channel_mask = 0;
  int64_t data_size = -1;  // -1: the real size
};
std::vector<uint8_t> make_wav(const WavSpec& spec, std::span<const uint8_t> data);

// s16le bytes of interleaved float samples (clamped to [-1, 1]).
std::vector<uint8_t> to_s16le(std::span<const float> samples);
// A sine of `seconds` at `freq` Hz sampled at `rate`, peak `amp`. [seconds * rate]
std::vector<float> sine(double freq, double rate, double seconds, double amp);
// RMS of x[begin, end).
double rms(std::span<const float> x, size_t begin, size_t end);

}  // namespace hark::audio::test
