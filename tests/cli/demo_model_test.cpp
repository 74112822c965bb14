// The demo model bundled in models/demo/ (trained by tools/demo-model): what the README's first command and
// `hark serve` without -m run. Its sample is a held-out clip: a sentence, voice and speaking rate that never
// occur in the training data.
#include <gtest/gtest.h>

#include <string>

#include "testutil/testutil.h"

namespace hark {
namespace {

const char* const kSampleText = "The flight lands at 8:49 on March 15th.";

std::string sample() {
  return test::source_dir() + "/models/demo/sample.wav";
}

TEST(DemoModel, TranscribesItsSample) {
  const auto r = test::run_command("(env -u HARK_MODEL_DIR " + test::hark_binary() +
                                   " transcribe -t 2 -f text " + sample() + " 2>/dev/null)");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, std::string(kSampleText) + "\n");
}

TEST(DemoModel, ServeWithoutModelFlagsServesIt) {
  const std::string script =
      "d=$(mktemp -d); env -u HARK_MODEL_DIR " + test::hark_binary() +
      " serve -t 2 --port 0 >$d/log 2>&1 & P=$!; "
      "for i in $(seq 300); do grep -q serving $d/log && break; sleep 0.1; done; "
      "port=$(sed -n 's/.*127\\.0\\.0\\.1:\\([0-9]*\\).*/\\1/p' $d/log); "
      "curl -s -F file=@" +
      sample() +
      " -F model=whisper-1 -F response_format=text http://127.0.0.1:$port/v1/audio/transcriptions; "
      "kill $P; wait $P; rm -r $d";
  const auto r = test::run_command("(" + script + ")");
  EXPECT_NE(r.output.find(kSampleText), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hark
