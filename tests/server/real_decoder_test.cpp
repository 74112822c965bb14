// The server with the product's decoder (hark::audio::decode_memory) on the shared audio fixtures: every
// container users send is accepted, and every broken file ends as a 400 with an audio_* code, never a 500.
#include <gtest/gtest.h>

#include "test_server.h"
#include "testutil/testutil.h"

namespace hark::test {
namespace {

using nlohmann::json;

std::string read(const std::string& rel) {
  const auto bytes = test::read_file(test::fixture(rel));
  return std::string(bytes.begin(), bytes.end());
}

TEST(ServerRealDecoder, EveryFormatTranscribes) {
  TestServer s({}, server::default_audio_decoder());
  auto c = s.client();
  for (const char* name :
       {"jfk.flac", "jfk.m4a", "jfk.mp3", "jfk.mp4", "jfk.ogg", "jfk.opus", "jfk.webm",
        "jfk_44k1_stereo_s24.wav", "jfk_48k_f32.wav", "jfk_8k_mulaw.wav", "jfk_8k_u8.wav"}) {
    const std::string file = read(std::string("audio/formats/") + name);
    auto r = c.Post("/v1/audio/transcriptions",
                    audio_form({{"model", "whisper-1"}, {"response_format", "verbose_json"}}, &file));
    ASSERT_TRUE(r) << name;
    ASSERT_EQ(r->status, 200) << name << ": " << r->body;
    // jfk.wav is 11.0 s; lossy codecs add or trim a few ms of padding.
    EXPECT_NEAR(json::parse(r->body)["duration"].get<double>(), 11.0, 0.1) << name;
  }
}

TEST(ServerRealDecoder, BrokenFilesAre400WithAnAudioCode) {
  TestServer s({}, server::default_audio_decoder());
  auto c = s.client();
  for (const char* name : {"empty.wav", "header_only.wav", "random.bin", "text.mp3", "zero_channels.wav",
                           "riff_huge_size.wav", "truncated.wav", "truncated.mp3", "tiny_50ms.wav"}) {
    const std::string file = read(std::string("audio/corrupt/") + name);
    auto r = c.Post("/v1/audio/transcriptions", audio_form({{"model", "whisper-1"}}, &file));
    ASSERT_TRUE(r) << name;
    // Partly valid files may transcribe what decodes (with a warning header); nothing may be a server error.
    ASSERT_TRUE(r->status == 200 || r->status == 400) << name << ": " << r->status << " " << r->body;
    if (r->status == 400) {
      const json e = json::parse(r->body)["error"];
      EXPECT_EQ(e["code"].get<std::string>().rfind("audio_", 0), 0u) << name << ": " << r->body;
      EXPECT_EQ(e["param"], "file") << name;
    }
  }
  for (const char* name : {"empty.wav", "random.bin", "text.mp3", "zero_channels.wav"}) {
    const std::string file = read(std::string("audio/corrupt/") + name);
    EXPECT_EQ(c.Post("/v1/audio/transcriptions", audio_form({{"model", "whisper-1"}}, &file))->status, 400)
        << name;
  }
}

TEST(ServerRealDecoder, MaxAudioSecondsIs400AudioTooLong) {
  server::ServerOptions o;
  o.max_audio_seconds = 5.0;
  TestServer s(o, server::default_audio_decoder());
  auto c = s.client();
  const std::string file = read("audio/jfk.wav");
  auto r = c.Post("/v1/audio/transcriptions", audio_form({{"model", "whisper-1"}}, &file));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "audio_too_long");
}

}  // namespace
}  // namespace hark::test
