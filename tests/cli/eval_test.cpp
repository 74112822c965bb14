// Black-box tests of `hark eval` and of the bundled-model fallback of the model-loading commands, on the
// tiny random-weight fixture model (its transcripts are meaningless; the bookkeeping is what is checked).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testutil/testutil.h"

namespace hark {
namespace {
namespace fs = std::filesystem;

std::string tiny_model_flags() {
  const std::string m = test::fixture("gemma4-tiny/");
  return " -t 2 -m " + m + "model.gguf --mmproj " + m + "mmproj.gguf ";
}

std::string write_file(const std::string& name, const std::string& content, std::string dir = "") {
  if (dir.empty()) dir = test::temp_dir();
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(Eval, PerFileResultsAndTotals) {
  const std::string dir = test::temp_dir();
  fs::copy_file(test::fixture("audio/jfk.wav"), dir + "/jfk_copy.wav", fs::copy_options::overwrite_existing);
  const std::string manifest =
      write_file("eval_manifest.tsv",
                 "# audio<TAB>reference\n\n" + test::fixture("audio/jfk.wav") +
                     "\tAnd so, my fellow Americans, ask not what your country can do for you.\r\n"
                     "jfk_copy.wav\tAsk what you can do for your country.\n"
                     "does_not_exist.wav\tHello there, world\n",
                 dir);
  const std::string json_path = dir + "/eval.json";
  const auto r = test::run_command(test::hark_binary() + " eval" + tiny_model_flags() + manifest +
                                   " --json " + json_path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("does_not_exist.wav"), std::string::npos) << r.output;
  std::ifstream in(json_path);
  const auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j["files"].size(), 3u);
  const auto& f0 = j["files"][0];
  EXPECT_DOUBLE_EQ(f0["duration_s"].get<double>(), 11.0);
  EXPECT_EQ(f0["line"], 3);
  EXPECT_EQ(f0["reference_normalized"],
            "and so my fellow americans ask not what your country can do for you");
  EXPECT_EQ(f0["word_errors"]["reference_length"], 14);
  EXPECT_GT(f0["real_time_factor"].get<double>(), 0.0);
  // The relative path resolves beside the manifest, and decodes the same audio.
  EXPECT_EQ(j["files"][1]["audio"], dir + "/jfk_copy.wav");
  EXPECT_EQ(j["files"][1]["hypothesis"], f0["hypothesis"]);
  // A file that cannot be read counts as an empty transcript: every reference word deleted.
  const auto& f2 = j["files"][2];
  EXPECT_TRUE(f2.contains("error"));
  EXPECT_EQ(f2["hypothesis"], "");
  EXPECT_EQ(f2["word_errors"]["deletions"], 3);
  EXPECT_DOUBLE_EQ(f2["wer"].get<double>(), 1.0);
  // Totals are sums over files, and the rate is errors over reference words.
  const auto& t = j["total"];
  EXPECT_EQ(t["files"], 3);
  EXPECT_EQ(t["failed"], 1);
  int64_t ref = 0, errors = 0;
  for (const auto& f : j["files"]) {
    ref += f["word_errors"]["reference_length"].get<int64_t>();
    for (const char* k : {"substitutions", "deletions", "insertions"})
      errors += f["word_errors"][k].get<int64_t>();
  }
  EXPECT_EQ(t["word_errors"]["reference_length"], ref);
  EXPECT_DOUBLE_EQ(t["wer"].get<double>(), static_cast<double>(errors) / static_cast<double>(ref));
  EXPECT_DOUBLE_EQ(t["audio_s"].get<double>(), 22.0);
}

TEST(Eval, MaxWerSetsTheExitStatus) {
  const std::string manifest =
      write_file("eval_maxwer.tsv", test::fixture("audio/jfk.wav") + "\tAnd so, my fellow Americans.\n");
  const auto fail = test::run_command(test::hark_binary() + " eval" + tiny_model_flags() + manifest +
                                      " --max-wer 0 --json -");
  EXPECT_EQ(fail.status, 1) << fail.output;
  EXPECT_NE(fail.output.find("above --max-wer"), std::string::npos) << fail.output;
  const auto pass =
      test::run_command(test::hark_binary() + " eval" + tiny_model_flags() + manifest + " --max-wer 1000");
  EXPECT_EQ(pass.status, 0) << pass.output;
}

TEST(Eval, BadManifestsAreNamed) {
  const auto no_tab = test::run_command(test::hark_binary() + " eval" + tiny_model_flags() +
                                        write_file("eval_notab.tsv", "# header\njust-a-path.wav\n"));
  EXPECT_EQ(no_tab.status, 1);
  EXPECT_NE(no_tab.output.find("eval_notab.tsv:2: expected 'AUDIO_PATH<TAB>REFERENCE TEXT'"),
            std::string::npos)
      << no_tab.output;
  const auto empty = test::run_command(test::hark_binary() + " eval" + tiny_model_flags() +
                                       write_file("eval_empty.tsv", "# nothing\n\n"));
  EXPECT_EQ(empty.status, 1);
  EXPECT_NE(empty.output.find("lists no files"), std::string::npos) << empty.output;
  const auto missing =
      test::run_command(test::hark_binary() + " eval" + tiny_model_flags() + "/nonexistent.tsv");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("cannot open manifest"), std::string::npos) << missing.output;
}

TEST(BundledModel, FoundThroughHarkModelDir) {
  const std::string dir = test::temp_dir() + "/bundled";
  fs::create_directories(dir);
  for (const char* name : {"model.gguf", "mmproj.gguf"}) {
    fs::remove(dir + "/" + name);
    fs::create_symlink(test::fixture(std::string("gemma4-tiny/") + name), dir + "/" + name);
  }
  const auto r = test::run_command("HARK_MODEL_DIR=" + dir + " " + test::hark_binary() + " transcribe -t 2 " +
                                   test::fixture("audio/jfk.wav") + " -f json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"text\""), std::string::npos);
}

TEST(BundledModel, MissingModelIsExplained) {
  const std::string empty = test::temp_dir() + "/no_model_here";
  fs::create_directories(empty);
  const auto r = test::run_command("HARK_MODEL_DIR=" + empty + " " + test::hark_binary() + " transcribe " +
                                   test::fixture("audio/jfk.wav"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no bundled model"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(empty), std::string::npos) << r.output;
  const auto half =
      test::run_command(test::hark_binary() + " transcribe -m " + test::fixture("gemma4-tiny/model.gguf") +
                        " " + test::fixture("audio/jfk.wav"));
  EXPECT_EQ(half.status, 1);
  EXPECT_NE(half.output.find("-m needs --mmproj"), std::string::npos) << half.output;
}

}  // namespace
}  // namespace hark
