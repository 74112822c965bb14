// Issue 7: five minutes without speech (digital silence, or steady white, pink or brown noise) give an empty
// transcript and no segments, through the whole pipeline on the tiny model. Usage counts the audio tokens
// that reached the model, so zero there proves no window was ever encoded or decoded.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/gemma4_engine.h"
#include "tiny_engine.h"

namespace hark::runtime {
namespace {

constexpr size_t kRate = 16000;
constexpr size_t kFiveMinutes = 300 * kRate;

// Scales `x` to the given RMS so every colour of noise sits at the same steady level.
std::vector<float> at_rms(std::vector<float> x, double rms) {
  double sum = 0;
  for (float v : x) sum += static_cast<double>(v) * v;
  const double gain = rms / std::sqrt(sum / static_cast<double>(x.size()));
  for (float& v : x) v = static_cast<float>(v * gain);
  return x;
}

std::vector<float> white(unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(kFiveMinutes);
  for (float& v : x) v = d(rng);
  return x;
}

// 1/f noise: white noise through Paul Kellett's economy three-pole filter (within 0.25 dB of -3 dB/octave
// over the speech band).
std::vector<float> pink(unsigned seed) {
  std::vector<float> x = white(seed);
  double b0 = 0, b1 = 0, b2 = 0;
  for (float& v : x) {
    b0 = 0.99765 * b0 + v * 0.0990460;
    b1 = 0.96300 * b1 + v * 0.2965164;
    b2 = 0.57000 * b2 + v * 1.0526913;
    v = static_cast<float>(b0 + b1 + b2 + v * 0.1848);
  }
  return x;
}

// 1/f^2 noise: leaky integration of white noise (the leak, a pole at 0.998 i.e. about 5 Hz, keeps it from
// drifting so the level stays steady over the five minutes).
std::vector<float> brown(unsigned seed) {
  std::vector<float> x = white(seed);
  double acc = 0;
  for (float& v : x) {
    acc = 0.998 * acc + v;
    v = static_cast<float>(acc);
  }
  return x;
}

void expect_nothing(const std::vector<float>& pcm, const char* what) {
  TranscribeRequest req;
  req.pcm16k = pcm;
  std::vector<double> progress;
  Callbacks cb;
  cb.on_delta = [&](std::string_view d, std::span<const TokenLogprob>) {
    ADD_FAILURE() << what << ": streamed '" << d << "'";
  };
  cb.on_progress = [&](double done, double) { progress.push_back(done); };
  const TranscribeResult r = tiny_engine()->transcribe(req, cb);
  EXPECT_EQ(r.text, "") << what;
  EXPECT_TRUE(r.segments.empty()) << what << ": " << r.segments.size() << " segments, the first at "
                                  << r.segments.front().start << " s";
  EXPECT_EQ(r.windows, 0) << what;
  EXPECT_EQ(r.usage.input_audio_tokens, 0) << what << ": the model was given audio";
  EXPECT_EQ(r.usage.output_tokens, 0) << what;
  EXPECT_DOUBLE_EQ(r.duration, 300.0);
  EXPECT_EQ(progress, std::vector<double>{300.0}) << what << ": no window, one call at the end";
}

TEST(NoSpeech, FiveMinutesOfDigitalSilence) {
  expect_nothing(std::vector<float>(kFiveMinutes, 0.0f), "silence");
}

TEST(NoSpeech, FiveMinutesOfWhiteNoise) {
  for (double rms : {0.001, 0.03, 0.2}) expect_nothing(at_rms(white(11), rms), "white noise");
}

TEST(NoSpeech, FiveMinutesOfPinkNoise) {
  for (double rms : {0.001, 0.03, 0.2}) expect_nothing(at_rms(pink(12), rms), "pink noise");
}

TEST(NoSpeech, FiveMinutesOfBrownNoise) {
  for (double rms : {0.001, 0.03, 0.2}) expect_nothing(at_rms(brown(13), rms), "brown noise");
}

}  // namespace
}  // namespace hark::runtime
