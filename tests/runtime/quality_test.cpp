#include "runtime/quality.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace hark::runtime {
namespace {

TEST(Quality, CompressionRatioSeparatesSpeechFromLoops) {
  const std::string speech =
      "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your "
      "country.";
  EXPECT_LT(compression_ratio(speech), 2.0);
  std::string loop;
  for (int i = 0; i < 20; ++i) loop += "thank you for watching ";
  EXPECT_GT(compression_ratio(loop), 2.4);
  EXPECT_EQ(compression_ratio(""), 0.0);
}

TEST(Quality, RepetitionAtTheTailIsFound) {
  std::vector<int32_t> t = {5, 9, 3, 8, 1, 2};
  EXPECT_FALSE(ends_in_repetition(t));
  for (int i = 0; i < 30; ++i) t.push_back(7);
  EXPECT_TRUE(ends_in_repetition(t));
  std::vector<int32_t> phrase = {1, 2, 3, 4, 5};
  std::vector<int32_t> u = {9, 9, 8};
  for (int i = 0; i < 3; ++i) u.insert(u.end(), phrase.begin(), phrase.end());
  EXPECT_FALSE(ends_in_repetition(u));  // 3 copies: natural repetition is allowed
  for (int i = 0; i < 3; ++i) u.insert(u.end(), phrase.begin(), phrase.end());
  EXPECT_TRUE(ends_in_repetition(u));
  u.push_back(42);  // the loop was broken
  EXPECT_FALSE(ends_in_repetition(u));
}

TEST(Quality, LoopTailKeepsOneCopy) {
  std::vector<int32_t> t = {5, 9, 4};
  for (int i = 0; i < 8; ++i) t.insert(t.end(), {1, 2, 3});
  ASSERT_TRUE(ends_in_repetition(t));
  EXPECT_EQ(loop_tail(t), 21u);  // 8 copies of {1, 2, 3}: 7 dropped
  EXPECT_EQ(loop_tail(std::vector<int32_t>{1, 2, 3, 4}), 0u);
  EXPECT_EQ(repeat_tail(std::vector<int32_t>{1, 2, 3, 4}), 0u);
  EXPECT_EQ(repeat_tail(std::vector<int32_t>{1, 2, 3, 1}), 1u);  // may be the start of a {1, 2, 3} loop
  EXPECT_EQ(repeat_tail(std::vector<int32_t>{}), 0u);
}

// What the engine streams: after each token, every token before the repeat tail; when the loop guard
// fires, the loop tail is dropped. Nothing streamed may be dropped, on random text with loops of every
// period the guard knows, entered from random prefixes, some broken before the guard fires.
TEST(Quality, StreamingNeverShowsWhatTheLoopGuardDrops) {
  std::mt19937 rng(7);
  int loops = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const int alphabet = 2 + static_cast<int>(rng() % 30);
    std::vector<int32_t> source;
    for (int i = static_cast<int>(rng() % 40); i > 0; --i)
      source.push_back(static_cast<int32_t>(rng() % alphabet));
    const size_t n = 1 + rng() % 17;  // period; 17 is beyond the guard
    std::vector<int32_t> phrase;
    for (size_t i = 0; i < n; ++i) phrase.push_back(static_cast<int32_t>(rng() % alphabet));
    const int copies = static_cast<int>(rng() % 12);
    for (int c = 0; c < copies; ++c) source.insert(source.end(), phrase.begin(), phrase.end());
    for (int i = static_cast<int>(rng() % 10); i > 0; --i)
      source.push_back(static_cast<int32_t>(rng() % alphabet));

    std::vector<int32_t> t;
    size_t streamed = 0;
    for (int32_t id : source) {
      t.push_back(id);
      if (ends_in_repetition(t)) {
        ++loops;
        const size_t drop = loop_tail(t);
        ASSERT_GT(drop, 0u) << "trial " << trial;
        ASSERT_LE(streamed, t.size() - drop) << "trial " << trial << ": streamed text the guard dropped";
        break;
      }
      const size_t hold = repeat_tail(t);
      ASSERT_LE(hold, t.size());
      streamed = std::max(streamed, t.size() - hold);
    }
  }
  EXPECT_GT(loops, 500);  // the guard fired often enough for the check to mean something
}

}  // namespace
}  // namespace hark::runtime
