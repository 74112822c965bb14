// Black-box tests of `hark serve`'s command line (the HTTP surface is tested in tests/server).
#include <gtest/gtest.h>

#include "testutil/testutil.h"

namespace hark {
namespace {

TEST(Serve, HelpListsTheLlamaServerStyleFlags) {
  const auto r = test::run_command(test::hark_binary() + " serve --help");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* flag :
       {"--model", "--mmproj", "--host", "--port", "--threads", "--ctx-size", "--parallel", "--queue",
        "--api-key", "--alias", "--max-upload-mb", "--max-audio-seconds", "--timeout"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
  EXPECT_NE(r.output.find("127.0.0.1"), std::string::npos);  // local by default
}

TEST(Serve, MissingModelFailsWithAClearMessage) {
  const auto r = test::run_command(test::hark_binary() +
                                   " serve -m /nonexistent/model.gguf --mmproj /nonexistent/mm.gguf");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/model.gguf"), std::string::npos) << r.output;
}

TEST(Serve, BadFlagValuesAreRefused) {
  const std::string model = test::fixture("gemma4-tiny/model.gguf"),
                    mmproj = test::fixture("gemma4-tiny/mmproj.gguf");
  for (const char* bad : {"--max-upload-mb 0", "--port 70000", "--timeout 0", "--max-audio-seconds -1"}) {
    const auto r =
        test::run_command(test::hark_binary() + " serve -m " + model + " --mmproj " + mmproj + " " + bad);
    EXPECT_EQ(r.status, 1) << bad << ": " << r.output;
    EXPECT_NE(r.output.find("must"), std::string::npos) << bad << ": " << r.output;
  }
}

TEST(Serve, SigtermStopsCleanlyWithTheEngineLoaded) {
  // The engine's threads exist before the server starts; the signal must still reach the graceful path.
  const std::string cmd = test::hark_binary() + " serve -m " + test::fixture("gemma4-tiny/model.gguf") +
                          " --mmproj " + test::fixture("gemma4-tiny/mmproj.gguf") +
                          " --port 0 & P=$!; sleep 3; kill -TERM $P; wait $P; echo exit=$?";
  const auto r = test::run_command("(" + cmd + ")");
  EXPECT_NE(r.output.find("hark: stopped"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("exit=0"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hark
