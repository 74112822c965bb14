// Issue 7's acceptance shape on the tiny model: ten minutes built from real recordings separated by silences
// of known length. Every recording must fall inside a segment, segments come in order, their edges lie within
// 0.3 s of the inserted speech boundaries, and nothing is emitted for the silences.
#include <gtest/gtest.h>

#include <random>

#include "audio/decode.h"
#include "runtime/gemma4_engine.h"
#include "testutil/testutil.h"
#include "tiny_engine.h"

namespace hark::runtime {
namespace {

TEST(LongAudio, TenMinutesOfSpeechAndSilenceGiveOrderedSegmentsAtTheSpeech) {
  const auto engine = tiny_engine();
  std::vector<std::vector<float>> clips;
  for (const char* f : {"jfk.wav", "librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
                        "librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
                        "librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
                        "librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
                        "librivox/sense_and_sensibility_01_austen_64kb-0930.wav"})
    clips.push_back(audio::decode_file(test::fixture(std::string("audio/") + f), {}).samples);
  // Recordings in a fixed shuffled order, separated by 1.5-12 s of digital silence, until 10 minutes.
  std::mt19937 rng(7);
  std::vector<std::pair<double, double>> truth;  // seconds of each inserted recording
  TranscribeRequest req;
  const size_t total = 600 * 16000;
  while (true) {
    const size_t gap = static_cast<size_t>((1.5 + 10.5 * (rng() % 1000) / 1000.0) * 16000);
    const auto& c = clips[rng() % clips.size()];
    if (req.pcm16k.size() + gap + c.size() > total) break;
    req.pcm16k.resize(req.pcm16k.size() + gap, 0.0f);
    truth.emplace_back(req.pcm16k.size() / 16000.0, (req.pcm16k.size() + c.size()) / 16000.0);
    req.pcm16k.insert(req.pcm16k.end(), c.begin(), c.end());
  }
  req.pcm16k.resize(total, 0.0f);
  ASSERT_GT(truth.size(), 40u);

  const TranscribeResult r = engine->transcribe(req, {});
  ASSERT_FALSE(r.segments.empty());
  EXPECT_DOUBLE_EQ(r.duration, 600.0);
  const double tol = 0.3;  // issue 7: within 0.3 s of the inserted speech boundaries
  for (size_t i = 0; i < r.segments.size(); ++i) {
    const Segment& s = r.segments[i];
    EXPECT_FALSE(s.text.empty());
    EXPECT_LE(s.end - s.start, 30.0);
    if (i > 0) {
      EXPECT_GE(s.start, r.segments[i - 1].end) << "segment " << i;
    }
    // Each edge sits at an inserted recording's edge.
    bool start_ok = false, end_ok = false;
    for (const auto& [a, b] : truth) {
      start_ok |= std::abs(s.start - a) <= tol;
      end_ok |= std::abs(s.end - b) <= tol;
    }
    EXPECT_TRUE(start_ok) << "segment " << i << " starts at " << s.start << " in no recording's onset";
    EXPECT_TRUE(end_ok) << "segment " << i << " ends at " << s.end << " at no recording's end";
  }
  // Every recording lies inside one segment: its text is present, in order, and silences are not decoded.
  for (const auto& [a, b] : truth) {
    bool covered = false;
    for (const auto& s : r.segments) covered |= s.start <= a + tol && s.end >= b - tol;
    EXPECT_TRUE(covered) << "recording at " << a << "-" << b << " s is in no segment";
  }
}

}  // namespace
}  // namespace hark::runtime
