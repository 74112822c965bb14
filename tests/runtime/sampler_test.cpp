#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"

namespace hark::runtime {
namespace {

TEST(Sampler, GreedyTakesTheLowestIdOnTiesAndReportsLogprob) {
  Sampler s({});
  std::vector<float> logits = {1.0f, 3.0f, 3.0f, -2.0f};
  const auto pick = s.sample(logits);
  EXPECT_EQ(pick.id, 1);
  const double lse = std::log(std::exp(1.0) + 2 * std::exp(3.0) + std::exp(-2.0));
  EXPECT_NEAR(pick.logprob, 3.0 - lse, 1e-5);
}

TEST(Sampler, SeedMakesSamplingRepeatable) {
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(float(i)) * 3;
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.seed = 7;
  Sampler a(p), b(p);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.sample(logits).id, b.sample(logits).id);
}

TEST(Sampler, TopKOneIsGreedy) {
  std::vector<float> logits = {0.5f, 0.1f, 2.0f, 1.9f};
  SamplingParams p;
  p.temperature = 1.5f;
  p.top_k = 1;
  Sampler s(p);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(logits).id, 2);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  std::vector<float> logits = {0.0f, std::log(2.0f), std::log(5.0f), -50.0f};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.seed = 1;
  Sampler s(p);
  std::map<int, int> n;
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) n[s.sample(logits).id]++;
  // Expected 1/8, 2/8, 5/8; 5 standard deviations of a binomial at 40k draws is < 0.013.
  EXPECT_NEAR(n[0] / double(draws), 0.125, 0.013);
  EXPECT_NEAR(n[1] / double(draws), 0.25, 0.013);
  EXPECT_NEAR(n[2] / double(draws), 0.625, 0.013);
  EXPECT_EQ(n[3], 0);
}

TEST(Sampler, TopPAndMinPCutTheTail) {
  std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.85f;  // keeps 0.6 + 0.3
  p.seed = 3;
  Sampler s(p);
  for (int i = 0; i < 2000; ++i) EXPECT_NE(s.sample(logits).id, 2);
  p.top_p = 1.0f;
  p.min_p = 0.6f;  // keeps only tokens with p >= 0.36
  Sampler m(p);
  for (int i = 0; i < 2000; ++i) EXPECT_EQ(m.sample(logits).id, 0);
}

TEST(Sampler, OutOfRangeParametersAreRefusedByName) {
  SamplingParams p;
  p.temperature = -1;
  try {
    Sampler s(p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("temperature"), std::string::npos);
  }
  p = {};
  p.top_p = 0;
  EXPECT_THROW(Sampler{p}, Error);
}

}  // namespace
}  // namespace hark::runtime
