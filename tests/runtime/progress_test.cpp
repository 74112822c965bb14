// Progress and streaming of long audio on the tiny model: one progress call after every window (and for the
// pauses skipped between windows), never going back, ending at the input's duration; each window's deltas
// arrive before the progress call that covers it, so a client sees text window by window.
#include <gtest/gtest.h>

#include "audio/decode.h"
#include "runtime/gemma4_engine.h"
#include "testutil/testutil.h"
#include "tiny_engine.h"

namespace hark::runtime {
namespace {

// What the callbacks saw, in order: the text streamed between two progress calls, then that call.
struct Log {
  std::vector<std::string> text_before;  // [k] deltas received after progress call k-1 and before call k
  std::vector<double> done, total;       // [k] arguments of progress call k
  std::string pending;
  Callbacks callbacks() {
    Callbacks cb;
    cb.on_delta = [this](std::string_view d, std::span<const TokenLogprob>) { pending += d; };
    cb.on_progress = [this](double d, double t) {
      done.push_back(d);
      total.push_back(t);
      text_before.push_back(pending);
      pending.clear();
    };
    return cb;
  }
};

// jfk (11 s) three times, after pauses of 20 s: three windows, each behind a pause the VAD skips.
std::vector<float> three_windows() {
  const auto jfk = audio::decode_file(test::fixture("audio/jfk.wav"), {}).samples;
  std::vector<float> pcm;
  for (int k = 0; k < 3; ++k) {
    pcm.resize(pcm.size() + 20 * 16000, 0.0f);
    pcm.insert(pcm.end(), jfk.begin(), jfk.end());
  }
  pcm.resize(pcm.size() + 5 * 16000, 0.0f);
  return pcm;
}

TEST(Progress, AfterEveryWindowMonotonicAndEndingAtTheDuration) {
  TranscribeRequest req;
  req.pcm16k = three_windows();
  Log log;
  const TranscribeResult r = tiny_engine()->transcribe(req, log.callbacks());
  ASSERT_EQ(r.segments.size(), 3u);
  EXPECT_EQ(r.windows, 3);
  EXPECT_TRUE(log.pending.empty()) << "text streamed after the last progress call";
  // A call for each skipped pause (before each window), one after each window, one for the trailing pause.
  ASSERT_EQ(log.done.size(), 7u);
  for (size_t k = 0; k < log.done.size(); ++k) {
    EXPECT_DOUBLE_EQ(log.total[k], r.duration);
    if (k > 0) {
      EXPECT_GT(log.done[k], log.done[k - 1]) << "call " << k;
    }
  }
  EXPECT_DOUBLE_EQ(log.done.back(), r.duration);
  // Calls 1, 3, 5 close windows: the text streamed just before each is that window's segment, and the call
  // covers the segment's end; calls 0, 2, 4, 6 cover a pause and come before any of the next window's text.
  for (size_t w = 0; w < 3; ++w) {
    const Segment& s = r.segments[w];
    EXPECT_EQ(log.text_before[2 * w], "") << "pause before window " << w;
    EXPECT_LE(log.done[2 * w], s.start) << "window " << w;
    EXPECT_EQ(log.text_before[2 * w + 1], (w == 0 ? "" : " ") + s.text) << "window " << w;
    EXPECT_GE(log.done[2 * w + 1], s.end) << "window " << w;
  }
  EXPECT_EQ(log.text_before[6], "");
}

TEST(Progress, TranslationStreamsWholeWindowsBeforeTheirProgressCall) {
  TranscribeRequest req;
  req.pcm16k = three_windows();
  req.translate = true;
  Log log;
  const TranscribeResult r = tiny_engine()->transcribe(req, log.callbacks());
  ASSERT_EQ(log.done.size(), 7u);
  std::string all;
  for (const auto& t : log.text_before) all += t;
  EXPECT_EQ(all, r.text);
  EXPECT_DOUBLE_EQ(log.done.back(), r.duration);
}

TEST(Progress, SilenceIsOneCallAtTheEnd) {
  TranscribeRequest req;
  req.pcm16k.assign(45 * 16000, 0.0f);
  Log log;
  tiny_engine()->transcribe(req, log.callbacks());
  EXPECT_EQ(log.done, std::vector<double>{45.0});
  EXPECT_EQ(log.total, std::vector<double>{45.0});
}

}  // namespace
}  // namespace hark::runtime
