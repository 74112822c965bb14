#include "runtime/windowing.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace hark::runtime {
namespace {

TEST(Windowing, NoSpeechNoWindows) {
  EXPECT_TRUE(plan_windows({}, 300000, {}).empty());
}

TEST(Windowing, GroupsRegionsUpToThirtySecondsAndCutsInPauses) {
  // Speech every 10 s for 8 s: 0-8, 10-18, 20-28, 30-38, 40-48.
  std::vector<TimeRange> speech;
  for (int k = 0; k < 5; ++k) speech.push_back({k * 10000, k * 10000 + 8000});
  const auto w = plan_windows(speech, 50000, {});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].speech.size(), 3u);  // 0-28 fits in 29.6 s
  EXPECT_EQ(w[1].speech.size(), 2u);
  EXPECT_EQ(w[0].audio.start_ms, 0);
  EXPECT_EQ(w[0].audio.end_ms, 28200);  // padded into the pause, not past half of it
  EXPECT_EQ(w[1].audio.start_ms, 29800);
  EXPECT_EQ(w[1].audio.end_ms, 48200);
  for (const auto& x : w) EXPECT_LE(x.audio.length_ms(), 30000);
}

TEST(Windowing, PaddingNeverCrossesHalfAShortPause) {
  const auto w = plan_windows({{0, 20000}, {20100, 35000}}, 40000, {});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].audio.end_ms, 20050);
  EXPECT_EQ(w[1].audio.start_ms, 20050);
}

TEST(Windowing, OverlongSpeechIsSplitEvenly) {
  const auto w = plan_windows({{1000, 71000}}, 80000, {});
  ASSERT_EQ(w.size(), 3u);
  for (const auto& x : w) EXPECT_LE(x.audio.length_ms(), 30000);
  EXPECT_EQ(w[0].speech[0].start_ms, 1000);
  EXPECT_EQ(w[2].speech[0].end_ms, 71000);
  EXPECT_EQ(w[0].speech[0].end_ms, w[1].speech[0].start_ms);
}

TEST(Windowing, RegionsAreClampedToTheAudio) {
  const auto w = plan_windows({{-500, 2000}, {9000, 12000}}, 10000, {});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].audio.start_ms, 0);
  EXPECT_EQ(w[0].audio.end_ms, 10000);
}

TEST(Windowing, BadOptionsAreRefused) {
  WindowOptions o;
  o.max_window_ms = 100;
  o.pad_ms = 200;
  EXPECT_THROW(plan_windows({{0, 10}}, 100, o), Error);
}

}  // namespace
}  // namespace hark::runtime
