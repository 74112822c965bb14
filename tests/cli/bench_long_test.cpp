// `hark bench --audio-minutes` on the tiny fixture model: one run per length, each in its own process, with
// the fields RESULTS.md quotes, and numbers that agree with each other.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testutil/testutil.h"

namespace hark {
namespace {

TEST(BenchLong, OneRunPerLengthWithConsistentFields) {
  const std::string m = test::fixture("gemma4-tiny/");
  const std::string json_file = test::temp_dir() + "/bench.json";
  const auto r =
      test::run_command(test::hark_binary() + " bench -t 2 -m " + m + "model.gguf --mmproj " + m +
                        "mmproj.gguf --audio-minutes 0.5,1 --max-tokens-per-window 8 --json " + json_file +
                        " " + test::fixture("audio/jfk.wav") + " " +
                        test::fixture("audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("s/audio min"), std::string::npos) << r.output;  // the table
  const auto bytes = test::read_file(json_file);
  const auto j = nlohmann::json::parse(bytes.begin(), bytes.end());
  EXPECT_EQ(j["max_tokens_per_window"], 8);
  EXPECT_EQ(j["clips"].size(), 2u);
  ASSERT_EQ(j["runs"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& run = j["runs"][i];
    const double minutes = i == 0 ? 0.5 : 1.0;
    EXPECT_DOUBLE_EQ(run["audio_minutes"].get<double>(), minutes);
    const int windows = run["windows"].get<int>();
    EXPECT_GE(windows, 1);
    // Every window is at most 30 s: a minute of mostly speech needs at least two.
    EXPECT_GE(windows, static_cast<int>(minutes * 2));
    EXPECT_LE(run["output_tokens"].get<int>(), 8 * windows);
    const double wall = run["wall_s"].get<double>();
    EXPECT_GT(wall, 0.0);
    EXPECT_NEAR(run["s_per_audio_minute"].get<double>(), wall / minutes, 1e-9);
    EXPECT_NEAR(run["s_per_window"].get<double>(), wall / windows, 1e-9);
    EXPECT_GT(run["load_s"].get<double>(), 0.0);
    EXPECT_GT(run["cpu_s"].get<double>(), 0.0);
    EXPECT_NEAR(run["cpu_s_per_audio_minute"].get<double>(), run["cpu_s"].get<double>() / minutes, 1e-9);
    EXPECT_NEAR(run["cpu_s_per_window"].get<double>(), run["cpu_s"].get<double>() / windows, 1e-9);
    EXPECT_NEAR(run["pcm_mb"].get<double>(), minutes * 60 * 16000 * 4 / (1024.0 * 1024.0), 1e-6);
    EXPECT_NEAR(run["peak_rss_minus_pcm_mb"].get<double>(),
                run["peak_rss_mb"].get<double>() - run["pcm_mb"].get<double>(), 1e-9);
    EXPECT_EQ(run["threads"], 2);
    // The child's own peak: at least the mapped tiny model, far below anything leaking per window.
    EXPECT_GT(run["peak_rss_mb"].get<double>(), 5.0);
    EXPECT_LT(run["peak_rss_mb"].get<double>(), 2000.0);
    // The split sampled per window: the input alone is anonymous memory; the mapped model file-backed.
    EXPECT_GT(run["peak_anon_mb"].get<double>(), run["pcm_mb"].get<double>());
    EXPECT_GT(run["peak_file_mb"].get<double>(), 0.0);
    EXPECT_LE(run["peak_anon_mb"].get<double>(), run["peak_rss_mb"].get<double>());
    EXPECT_LE(run["peak_file_mb"].get<double>(), run["peak_rss_mb"].get<double>());
  }
  EXPECT_GT(j["runs"][1]["windows"].get<int>(), j["runs"][0]["windows"].get<int>());
}

TEST(BenchLong, NoClipIsAOneLineError) {
  const std::string m = test::fixture("gemma4-tiny/");
  const auto r = test::run_command(test::hark_binary() + " bench -m " + m + "model.gguf --mmproj " + m +
                                   "mmproj.gguf --audio-minutes 1");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--audio-minutes needs at least one speech clip"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hark
