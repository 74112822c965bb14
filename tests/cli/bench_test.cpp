// `hark bench` (one clip) on the tiny fixture model: every row of the issue-8 table is in the JSON, the
// pipeline rows really transcribe (capped at --n-gen tokens), and the numbers agree with each other.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testutil/testutil.h"

namespace hark {
namespace {

nlohmann::json run_bench(const std::string& extra) {
  const std::string m = test::fixture("gemma4-tiny/");
  const std::string json_file = test::temp_dir() + "/bench.json";
  const auto r = test::run_command(test::hark_binary() + " bench -t 2 --reps 1 --n-gen 8 -m " + m +
                                   "model.gguf --mmproj " + m + "mmproj.gguf --json " + json_file + " " +
                                   extra + " " + test::fixture("audio/jfk.wav"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("end to end"), std::string::npos) << r.output;  // the table
  const auto bytes = test::read_file(json_file);
  return nlohmann::json::parse(bytes.begin(), bytes.end());
}

TEST(Bench, EveryRowWithConcurrentRequests) {
  const auto j = run_bench("--concurrent 2");
  EXPECT_DOUBLE_EQ(j["audio_seconds"].get<double>(), 11.0);  // jfk.wav
  EXPECT_GT(j["audio_tokens"].get<int>(), 0);
  EXPECT_GT(j["prompt_tokens"].get<int>(), j["audio_tokens"].get<int>());
  for (const char* k :
       {"mel_ms", "encoder_ms", "prefill_ms", "prefill_tokens_per_s", "decode_tokens_per_s", "peak_rss_mb"})
    EXPECT_GT(j[k].get<double>(), 0.0) << k;
  EXPECT_NEAR(j["end_to_end_ms"].get<double>(),
              j["mel_ms"].get<double>() + j["encoder_ms"].get<double>() + j["prefill_ms"].get<double>() +
                  8 / j["decode_tokens_per_s"].get<double>() * 1000.0,
              1e-6);
  EXPECT_EQ(j["pipeline"]["requests"], 1);
  ASSERT_EQ(j["pipeline"]["output_tokens"].size(), 1u);
  // jfk.wav is speech: the request decodes, and stops at the cap or earlier at end of turn.
  EXPECT_GE(j["pipeline"]["output_tokens"][0].get<int>(), 1);
  EXPECT_LE(j["pipeline"]["output_tokens"][0].get<int>(), 8);
  EXPECT_EQ(j["concurrent"]["requests"], 2);
  ASSERT_EQ(j["concurrent"]["output_tokens"].size(), 2u);
  // Greedy decoding: the two concurrent requests produce what the lone one did.
  for (const auto& n : j["concurrent"]["output_tokens"]) EXPECT_EQ(n, j["pipeline"]["output_tokens"][0]);
  EXPECT_GT(j["concurrent"]["wall_ms"].get<double>(), 0.0);
}

TEST(Bench, ConcurrentZeroSkipsTheRow) {
  const auto j = run_bench("--concurrent 0");
  EXPECT_TRUE(j["concurrent"].is_null());
  EXPECT_EQ(j["pipeline"]["requests"], 1);
}

}  // namespace
}  // namespace hark
