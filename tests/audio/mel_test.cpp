// The Gemma 4 log-mel against llama.cpp's (goldens `mel.<c>` of every golden clip), with the tolerances
// of ../shared/fixtures/README.md, plus its frame counts and invariants.
#include "audio/mel.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "gguf/gguf.h"
#include "testutil/testutil.h"
#include "wav_util.h"

namespace hark {
namespace {

struct MelDiff {
  double max_abs = 0, mean_abs = 0, max_abs_above_m5 = 0;
};

MelDiff compare(const float* golden, const float* ours, size_t n) {
  MelDiff d;
  for (size_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(golden[i]) - ours[i]);
    d.max_abs = std::max(d.max_abs, a);
    d.mean_abs += a;
    if (golden[i] > -5.0f) d.max_abs_above_m5 = std::max(d.max_abs_above_m5, a);
  }
  d.mean_abs /= static_cast<double>(n);
  return d;
}

void check_clip(const std::string& clip, const std::vector<int>& frames, ThreadPool* pool) {
  const auto pcm = test::read_pcm16_wav(test::fixture("audio/" + clip + ".wav"));
  const auto mel = audio::gemma4_log_mel(pcm, pool);
  const auto golden = gguf::File::open(test::fixture("gemma4-tiny/golden-" + clip + ".gguf"));
  ASSERT_EQ(mel.size(), frames.size()) << clip;
  for (size_t c = 0; c < mel.size(); ++c) {
    SCOPED_TRACE(clip + " chunk " + std::to_string(c));
    const auto* t = golden.find_tensor("mel." + std::to_string(c));
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->ne, (std::vector<int64_t>{frames[c], audio::kMelBins}));
    ASSERT_EQ(mel[c].n_frames, frames[c]);
    ASSERT_EQ(mel[c].data.size(), static_cast<size_t>(t->n_elements()));
    const auto* g = reinterpret_cast<const float*>(golden.tensor_data(*t).data());
    const MelDiff d = compare(g, mel[c].data.data(), mel[c].data.size());
    EXPECT_LE(d.max_abs, 5e-3);
    EXPECT_LE(d.mean_abs, 2e-5);
    EXPECT_LE(d.max_abs_above_m5, 1e-4);
    // Informational: with the same FFT rounding the mel is normally bitwise equal (max_abs 0).
    testing::Test::RecordProperty("max_abs_" + clip + "_" + std::to_string(c),
                                  testing::PrintToString(d.max_abs));
  }
}

TEST(Gemma4Mel, MatchesLlamaCppOnJfk) {
  check_clip("jfk", {1099}, nullptr);
}
TEST(Gemma4Mel, MatchesLlamaCppOnJfkX3TwoChunks) {
  check_clip("jfk_x3", {2999, 299}, nullptr);
}
TEST(Gemma4Mel, MatchesLlamaCppOnSilence) {
  check_clip("silence_1s", {99}, nullptr);
}
TEST(Gemma4Mel, MatchesLlamaCppOnNoise) {
  check_clip("noise_1s", {99}, nullptr);
}

TEST(Gemma4Mel, SilenceIsTheFloorEverywhere) {
  const std::vector<float> zeros(16000, 0.0f);
  const auto mel = audio::gemma4_log_mel(zeros);
  ASSERT_EQ(mel.size(), 1u);
  for (float v : mel[0].data) EXPECT_FLOAT_EQ(v, std::log(1e-3f));
}

TEST(Gemma4Mel, ThreadCountDoesNotChangeTheResult) {
  const auto pcm = test::read_pcm16_wav(test::fixture("audio/jfk_x3.wav"));
  ThreadPool pool(3);
  const auto a = audio::gemma4_log_mel(pcm, nullptr);
  const auto b = audio::gemma4_log_mel(pcm, &pool);
  ASSERT_EQ(a.size(), b.size());
  for (size_t c = 0; c < a.size(); ++c) EXPECT_EQ(a[c].data, b[c].data);
}

TEST(Gemma4Mel, FrameCountsFollowLlamaCpp) {
  EXPECT_EQ(audio::gemma4_mel_frames(176000), 1099);
  EXPECT_EQ(audio::gemma4_mel_frames(480000), 2999);
  EXPECT_EQ(audio::gemma4_mel_frames(48000), 299);
  EXPECT_EQ(audio::gemma4_mel_frames(16000), 99);
  EXPECT_EQ(audio::gemma4_mel_frames(2), 1);
  EXPECT_EQ(audio::gemma4_mel_frames(1), 0);
  // A 30 s chunk plus one sample: the lone sample makes no frame and is dropped.
  const std::vector<float> pcm(audio::kMelChunkSamples + 1, 0.0f);
  const auto mel = audio::gemma4_log_mel(pcm);
  ASSERT_EQ(mel.size(), 1u);
  EXPECT_EQ(mel[0].n_frames, 2999);
}

TEST(Gemma4Mel, NoSamplesIsAnAudioEmptyError) {
  try {
    audio::gemma4_log_mel(std::span<const float>());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kAudioEmpty);
  }
}

}  // namespace
}  // namespace hark
