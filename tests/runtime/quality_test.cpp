#include "runtime/quality.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace hark::runtime
