// Voice activity detection on real recordings joined by inserted silence and faint noise of known length:
// the regions must start and end within 0.3 s of where each recording was put, and nothing may be found
// inside the inserted gaps. Silence and noise alone give nothing.
#include "audio/vad.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "testutil/testutil.h"
#include "wav_util.h"

namespace hark {
namespace {

constexpr int kRate = 16000;
constexpr int64_t kToleranceMs = 300;

std::vector<float> recording(const std::string& name) {
  return test::read_pcm16_wav(test::fixture("audio/" + name));
}
std::string librivox(int id) {
  return "librivox/sense_and_sensibility_01_austen_64kb-0" + std::to_string(id) + ".wav";
}

// White noise of the given RMS, repeatable.
std::vector<float> noise(int64_t ms, float rms, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, rms);
  std::vector<float> out(ms * kRate / 1000);  // [n]
  for (float& v : out) v = d(rng);
  return out;
}

struct Placed {
  int64_t start_ms, end_ms;
};

// Appends pieces and remembers where each recording landed.
struct Builder {
  std::vector<float> pcm;  // [n] 16 kHz mono
  std::vector<Placed> speech;
  int64_t now_ms() const { return static_cast<int64_t>(pcm.size()) * 1000 / kRate; }
  void gap(const std::vector<float>& g) { pcm.insert(pcm.end(), g.begin(), g.end()); }
  void silence(int64_t ms) { pcm.resize(pcm.size() + ms * kRate / 1000, 0.0f); }
  void speak(const std::string& name) {
    const auto r = recording(name);
    const int64_t start = now_ms();
    pcm.insert(pcm.end(), r.begin(), r.end());
    speech.push_back({start, now_ms()});
  }
};

Builder mixed_clip() {
  Builder b;
  b.silence(1000);
  b.speak("jfk.wav");
  b.gap(noise(1500, 3e-4f, 1));  // the level of noise_1s.wav
  b.speak(librivox(870));
  b.silence(2000);
  b.speak(librivox(880));
  b.gap(noise(1200, 1e-3f, 2));
  b.speak(librivox(930));
  b.silence(800);
  return b;
}

// Every region lies within one placed recording (give or take the tolerance); each recording's regions
// start and end within the tolerance of its edges.
void expect_regions_match(const std::vector<audio::SpeechRegion>& regions,
                          const std::vector<Placed>& speech) {
  ASSERT_FALSE(regions.empty());
  for (const auto& r : regions) {
    bool inside = false;
    for (const auto& s : speech)
      inside |= r.start_ms >= s.start_ms - kToleranceMs && r.end_ms <= s.end_ms + kToleranceMs;
    EXPECT_TRUE(inside) << "region [" << r.start_ms << ", " << r.end_ms
                        << "] ms reaches into an inserted gap";
  }
  for (const auto& s : speech) {
    SCOPED_TRACE("recording at [" + std::to_string(s.start_ms) + ", " + std::to_string(s.end_ms) + "] ms");
    const audio::SpeechRegion* first = nullptr;
    const audio::SpeechRegion* last = nullptr;
    for (const auto& r : regions)
      if (r.end_ms > s.start_ms && r.start_ms < s.end_ms) {
        if (!first) first = &r;
        last = &r;
      }
    ASSERT_NE(first, nullptr) << "no speech found";
    EXPECT_NEAR(first->start_ms, s.start_ms, kToleranceMs);
    EXPECT_NEAR(last->end_ms, s.end_ms, kToleranceMs);
  }
}

TEST(Vad, FindsEachRecordingBetweenSilenceAndFaintNoise) {
  const Builder b = mixed_clip();
  expect_regions_match(audio::detect_speech(b.pcm), b.speech);
}

TEST(Vad, FindsEachRecordingUnderSteadyBackgroundNoise) {
  Builder b = mixed_clip();
  const auto hiss = noise(b.now_ms(), 3e-3f, 3);  // -50 dBFS everywhere, so the floor is noise, not zeros
  for (size_t i = 0; i < b.pcm.size(); ++i) b.pcm[i] += hiss[i];
  expect_regions_match(audio::detect_speech(b.pcm), b.speech);
}

TEST(Vad, FindsAQuietSpeaker) {
  Builder b = mixed_clip();
  for (float& v : b.pcm) v *= 0.1f;  // 20 dB down: speech peaks near -30 dBFS, the faint noise near -90
  expect_regions_match(audio::detect_speech(b.pcm), b.speech);
}

TEST(Vad, SplitsJfkAtItsPausesAndBridgesThemOnRequest) {
  const auto pcm = recording("jfk.wav");
  // "And so my fellow Americans | ask not | what your country can do for you | ask what you can do for
  // your country": three pauses of about a second.
  const auto regions = audio::detect_speech(pcm);
  ASSERT_EQ(regions.size(), 4u);
  const int64_t pause_mid_ms[] = {2700, 4850, 7850};
  for (int i = 0; i < 3; ++i) {
    EXPECT_LT(regions[i].end_ms, pause_mid_ms[i]);
    EXPECT_GT(regions[i + 1].start_ms, pause_mid_ms[i]);
  }
  audio::VadOptions bridge;
  bridge.min_silence_ms = 1500;
  const auto one = audio::detect_speech(pcm, bridge);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_NEAR(one[0].start_ms, 0, kToleranceMs);
  EXPECT_NEAR(one[0].end_ms, 11000, kToleranceMs);
}

TEST(Vad, PaddingWidensAndStaysInsideTheAudio) {
  const auto pcm = recording(librivox(880));
  audio::VadOptions tight, wide;
  tight.padding_ms = 0;
  wide.padding_ms = 400;
  const auto a = audio::detect_speech(pcm, tight);
  const auto b = audio::detect_speech(pcm, wide);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b.front().start_ms, std::max<int64_t>(0, a.front().start_ms - 400));
  EXPECT_EQ(b.back().end_ms, std::min<int64_t>(2990, a.back().end_ms + 400));
  for (size_t i = 1; i < b.size(); ++i) EXPECT_GT(b[i].start_ms, b[i - 1].end_ms);
}

TEST(Vad, SilenceAndNoiseAloneGiveNothing) {
  EXPECT_TRUE(audio::detect_speech(recording("silence_1s.wav")).empty());
  EXPECT_TRUE(audio::detect_speech(recording("noise_1s.wav")).empty());
  EXPECT_TRUE(audio::detect_speech(std::vector<float>(10 * kRate, 0.0f)).empty());
  for (float rms : {1e-4f, 3e-3f, 0.03f, 0.2f})
    EXPECT_TRUE(audio::detect_speech(noise(10000, rms, 7)).empty()) << "white noise of RMS " << rms;
  EXPECT_TRUE(audio::detect_speech(std::vector<float>(100, 0.5f)).empty());  // shorter than a frame
  // Faint noise bursts between stretches of digital silence: the floor is then floor_dbfs, not the noise.
  Builder b;
  for (int i = 0; i < 4; ++i) {
    b.silence(2000);
    b.gap(noise(1500, 1e-3f, 10 + i));
  }
  EXPECT_TRUE(audio::detect_speech(b.pcm).empty());
}

TEST(Vad, ThresholdAndMinimumSpeechAreHonoured) {
  const auto pcm = recording("jfk.wav");
  audio::VadOptions deaf;
  deaf.threshold_db = 80.0f;
  EXPECT_TRUE(audio::detect_speech(pcm, deaf).empty());
  audio::VadOptions strict;
  // Phrases last about 1.8, 1.0, 2.2 and 2.8 s: only "what your country can do for you" and the last remain.
  strict.min_speech_ms = 2000;
  const auto long_ones = audio::detect_speech(pcm, strict);
  ASSERT_EQ(long_ones.size(), 2u);
  EXPECT_GT(long_ones[0].start_ms, 4850);
}

TEST(Vad, NonFiniteSamplesCountAsSilence) {
  Builder b = mixed_clip();
  std::vector<float> broken(3 * kRate, NAN);
  for (size_t i = 0; i < broken.size(); i += 7) broken[i] = INFINITY;
  b.gap(broken);
  b.speak(librivox(920));
  expect_regions_match(audio::detect_speech(b.pcm), b.speech);
}

TEST(Vad, RejectsBadOptions) {
  const std::vector<float> pcm(16000, 0.0f);
  for (auto set :
       std::vector<void (*)(audio::VadOptions&)>{[](audio::VadOptions& o) { o.threshold_db = -1; },
                                                 [](audio::VadOptions& o) { o.threshold_db = NAN; },
                                                 [](audio::VadOptions& o) { o.min_speech_ms = -1; },
                                                 [](audio::VadOptions& o) { o.min_silence_ms = -5; },
                                                 [](audio::VadOptions& o) { o.padding_ms = -1; },
                                                 [](audio::VadOptions& o) { o.floor_dbfs = INFINITY; }}) {
    audio::VadOptions o;
    set(o);
    try {
      audio::detect_speech(pcm, o);
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace hark
