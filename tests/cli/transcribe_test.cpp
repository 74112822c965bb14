// Black-box tests of `hark transcribe` on the tiny fixture model (random weights: the text is meaningless,
// the formats, timestamps and error paths are what is checked here).
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>

#include "testutil/testutil.h"

namespace hark {
namespace {

test::CommandResult transcribe(const std::string& args) {
  const std::string m = test::fixture("gemma4-tiny/");
  return test::run_command(test::hark_binary() + " transcribe -t 2 -m " + m + "model.gguf --mmproj " + m +
                           "mmproj.gguf " + args);
}

TEST(Transcribe, EveryFormatIsWellFormed) {
  const std::string jfk = test::fixture("audio/jfk.wav");
  auto srt = transcribe(jfk + " -f srt");
  ASSERT_EQ(srt.status, 0) << srt.output;
  EXPECT_TRUE(std::regex_search(srt.output, std::regex("^1\\n00:00:0\\d,\\d{3} --> 00:00:1\\d,\\d{3}\\n")))
      << srt.output;
  auto vtt = transcribe(jfk + " -f vtt");
  ASSERT_EQ(vtt.status, 0) << vtt.output;
  EXPECT_EQ(vtt.output.rfind("WEBVTT\n\n", 0), 0u) << vtt.output;
  EXPECT_TRUE(std::regex_search(vtt.output, std::regex("00:00:0\\d\\.\\d{3} --> 00:00:1\\d\\.\\d{3}")));
  auto json = transcribe(jfk + " -f json");
  ASSERT_EQ(json.status, 0) << json.output;
  const auto j = nlohmann::json::parse(json.output);
  EXPECT_TRUE(j["text"].is_string());
  EXPECT_FALSE(j["text"].get<std::string>().empty());
  auto verbose = transcribe(jfk + " -f verbose_json");
  ASSERT_EQ(verbose.status, 0) << verbose.output;
  const auto v = nlohmann::json::parse(verbose.output);
  EXPECT_EQ(v["task"], "transcribe");
  EXPECT_DOUBLE_EQ(v["duration"].get<double>(), 11.0);
  ASSERT_FALSE(v["segments"].empty());
  EXPECT_EQ(v["text"], j["text"]);  // one formatter, one engine: the same transcript in every format
}

TEST(Transcribe, OtherContainersGiveTheSameSpeechTokensCount) {
  auto r = transcribe(test::fixture("audio/formats/jfk.webm") + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["usage"]["input_token_details"]["audio_tokens"], 275);
}

TEST(Transcribe, SilenceGivesEmptyText) {
  auto r = transcribe(test::fixture("audio/silence_1s.wav") + " -f json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["text"], "");
}

// `hark transcribe ARGS` with stdout captured and stderr written to `err_file`.
test::CommandResult transcribe_stdout(const std::string& args, const std::string& err_file) {
  const std::string m = test::fixture("gemma4-tiny/");
  return test::run_command("{ " + test::hark_binary() + " transcribe -t 2 -m " + m + "model.gguf --mmproj " +
                           m + "mmproj.gguf " + args + " 2>" + err_file + "; }");
}

// Progress goes to stderr only: stdout is the response body whether or not the bar is drawn (forced here for
// an 11 s clip, which gets no bar by default).
TEST(Transcribe, ProgressBarOnStderrLeavesStdoutAlone) {
  const std::string dir = test::temp_dir();
  const std::string clip = test::fixture("audio/jfk.wav") + " -f json";
  auto plain = transcribe_stdout(clip + " --no-progress", dir + "/plain.err");
  auto forced = transcribe_stdout(clip + " --progress", dir + "/forced.err");
  ASSERT_EQ(plain.status, 0) << plain.output;
  ASSERT_EQ(forced.status, 0) << forced.output;
  EXPECT_EQ(forced.output, plain.output);
  const auto err = test::read_file(dir + "/forced.err");
  const std::string bar(err.begin(), err.end());
  EXPECT_NE(bar.find("[##############################] 100%  0:11 / 0:11 of audio\n"), std::string::npos)
      << bar;
  EXPECT_EQ(bar.rfind('\n'), bar.size() - 1) << "the bar's line must be ended";
  EXPECT_TRUE(test::read_file(dir + "/plain.err").empty());
  // Not a terminal (a file here): no bar by default.
  auto piped = transcribe_stdout(clip, dir + "/piped.err");
  EXPECT_EQ(piped.output, plain.output);
  EXPECT_TRUE(test::read_file(dir + "/piped.err").empty());
}

// Default on a terminal: stderr on a pseudo-terminal (util-linux `script`) shows the bar for 33 s of audio.
TEST(Transcribe, ProgressBarByDefaultOnATerminalForLongAudio) {
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "no `script` to make a pty";
  const std::string dir = test::temp_dir();
  const std::string m = test::fixture("gemma4-tiny/");
  const auto on_tty = [&](const std::string& extra) {
    const std::string cmd = test::hark_binary() + " transcribe -t 2 -m " + m + "model.gguf --mmproj " + m +
                            "mmproj.gguf " + test::fixture("audio/jfk_x3.wav") + extra + " >" + dir +
                            "/out.txt";
    return test::run_command("script -qec '" + cmd + "' /dev/null");
  };
  auto tty = on_tty("");
  ASSERT_EQ(tty.status, 0) << tty.output;
  EXPECT_NE(tty.output.find("100%  0:33 / 0:33 of audio"), std::string::npos) << tty.output;
  const auto out = test::read_file(dir + "/out.txt");
  EXPECT_EQ(std::string(out.begin(), out.end()).find("of audio"), std::string::npos);
  // Streamed text would share the screen with the bar: no bar unless asked for.
  auto streamed = on_tty(" --stream");
  ASSERT_EQ(streamed.status, 0) << streamed.output;
  EXPECT_EQ(streamed.output.find("of audio"), std::string::npos) << streamed.output;
}

TEST(Transcribe, BadInputIsAOneLineError) {
  for (const char* f : {"audio/corrupt/random.bin", "audio/corrupt/empty.wav", "audio/corrupt/text.mp3"}) {
    auto r = transcribe(test::fixture(f));
    EXPECT_EQ(r.status, 1) << f << ": " << r.output;
    EXPECT_EQ(r.output.rfind("hark: error: ", 0), 0u) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  auto swapped = test::run_command(
      test::hark_binary() + " transcribe -m " + test::fixture("gemma4-tiny/mmproj.gguf") + " --mmproj " +
      test::fixture("gemma4-tiny/model.gguf") + " " + test::fixture("audio/jfk.wav"));
  EXPECT_EQ(swapped.status, 1);
  EXPECT_NE(swapped.output.find("--mmproj"), std::string::npos) << swapped.output;
}

}  // namespace
}  // namespace hark
