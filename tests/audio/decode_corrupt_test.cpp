// Hostile and broken inputs: each gives a typed result (partial audio with a flag, or a hark::Error with
// an audio code), never a crash, a hang or an untyped exception. Runs under ASan+UBSan in CI.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>

#include "audio/decode.h"
#include "audio_testutil.h"
#include "core/error.h"
#include "testutil/testutil.h"

namespace hark::audio {
namespace {

using test::jfk_reference;
using test::make_wav;
using test::WavSpec;

std::string corrupt(const std::string& name) {
  return hark::test::fixture("audio/corrupt/" + name);
}
std::string formats(const std::string& name) {
  return hark::test::fixture("audio/formats/" + name);
}

// Runs `fn`, expects a hark::Error with `code`, returns its message.
std::string expect_error(const std::function<void()>& fn, Errc code) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(errc_name(e.code()), std::string(errc_name(code))) << e.what();
    EXPECT_GT(std::strlen(e.what()), 10u);
    return e.what();
  }
  ADD_FAILURE() << "no error, expected " << errc_name(code);
  return {};
}

// Both entry points must agree on every fixture.
void expect_file_error(const std::string& path, Errc code) {
  SCOPED_TRACE(path);
  expect_error([&] { decode_file(path); }, code);
  const auto bytes = hark::test::read_file(path);
  expect_error([&] { decode_memory(bytes); }, code);
}

TEST(DecodeCorrupt, TypedErrorsForUnusableFixtures) {
  expect_file_error(corrupt("empty.wav"), Errc::kAudioEmpty);
  expect_file_error(corrupt("header_only.wav"), Errc::kAudioEmpty);
  expect_file_error(corrupt("zero_channels.wav"), Errc::kAudioZeroChannels);
  expect_file_error(corrupt("random.bin"), Errc::kAudioNotAudio);
  expect_file_error(corrupt("text.mp3"), Errc::kAudioNotAudio);
  // Headerless PCM is not self-describing: it needs decode_raw_s16le.
  expect_file_error(formats("jfk_16k_s16le.raw"), Errc::kAudioNotAudio);
}

TEST(DecodeCorrupt, TruncatedWavKeepsWhatIsThere) {
  const auto& ref = jfk_reference();
  const Decoded d = decode_file(corrupt("truncated.wav"));
  EXPECT_TRUE(d.truncated);
  EXPECT_NE(d.warning.find("announces 11.00 s"), std::string::npos) << d.warning;
  // 100000 bytes minus a 78-byte header (with a LIST chunk), whole 2-byte samples.
  ASSERT_EQ(d.samples.size(), (100000u - 78u) / 2);
  EXPECT_EQ(hark::test::max_abs_diff(ref.data(), d.samples.data(), d.samples.size()), 0.0);
}

TEST(DecodeCorrupt, TruncatedMp3KeepsWhatIsThere) {
  const auto& ref = jfk_reference();
  const Decoded d = decode_file(corrupt("truncated.mp3"));
  EXPECT_TRUE(d.truncated);
  EXPECT_FALSE(d.warning.empty());
  // 60000 of 89037 bytes at a constant 64 kb/s: about two thirds of 11 s.
  EXPECT_GT(d.duration_seconds, 7.0);
  EXPECT_LT(d.duration_seconds, 7.8);
  const auto a = test::best_alignment(ref, d.samples, 800);
  EXPECT_GT(a.correlation, 0.95);
}

TEST(DecodeCorrupt, EveryCompressedFormatCutInHalfIsFlagged) {
  // Each container announces its length differently (Xing header, STREAMINFO, Matroska duration, the
  // Ogg end-of-stream page); a cut must be noticed in all of them.
  const auto& ref = jfk_reference();
  for (const char* f : {"jfk.mp3", "jfk.flac", "jfk.ogg", "jfk.opus", "jfk.webm"}) {
    SCOPED_TRACE(f);
    const auto bytes = hark::test::read_file(formats(f));
    const Decoded d = decode_memory({bytes.data(), bytes.size() / 2});
    EXPECT_TRUE(d.truncated);
    EXPECT_FALSE(d.warning.empty());
    EXPECT_GT(d.duration_seconds, 4.0);
    EXPECT_LT(d.duration_seconds, 7.0);
    EXPECT_GT(test::best_alignment(ref, d.samples, 200).correlation, 0.95);
  }
  // MP4 keeps its index (moov) at the end: without it nothing can be located.
  const auto m4a = hark::test::read_file(formats("jfk.m4a"));
  const std::string msg = expect_error(
      [&] {
        decode_memory({m4a.data(), m4a.size() / 2});
      },
      Errc::kAudioCorrupt);
  EXPECT_NE(msg.find("moov"), std::string::npos) << msg;
}

TEST(DecodeCorrupt, HugeChunkSizeDecodesWhatIsThere) {
  const auto& ref = jfk_reference();
  const Decoded d = decode_file(corrupt("riff_huge_size.wav"));
  EXPECT_FALSE(d.truncated);
  EXPECT_NE(d.warning.find("LIST"), std::string::npos) << d.warning;
  ASSERT_EQ(d.samples.size(), ref.size());
  EXPECT_EQ(hark::test::max_abs_diff(ref.data(), d.samples.data(), ref.size()), 0.0);
}

TEST(DecodeCorrupt, TinyFileDecodesExactly) {
  const Decoded d = decode_file(corrupt("tiny_50ms.wav"));
  EXPECT_EQ(d.samples.size(), 800u);
  EXPECT_FALSE(d.truncated);
  EXPECT_EQ(d.warning, "");
}

TEST(DecodeLimits, TooLargeIsRefusedBeforeDecoding) {
  const std::string path = formats("jfk.mp3");
  const auto bytes = hark::test::read_file(path);
  DecodeLimits limits;
  limits.max_bytes = bytes.size() - 1;
  expect_error([&] { decode_file(path, limits); }, Errc::kAudioTooLarge);
  expect_error([&] { decode_memory(bytes, limits); }, Errc::kAudioTooLarge);
  expect_error([&] { decode_raw_s16le(bytes, 16000, 1, limits); }, Errc::kAudioTooLarge);
  limits.max_bytes = bytes.size();
  EXPECT_EQ(decode_memory(bytes, limits).samples.size(), 176000u);
}

TEST(DecodeLimits, TooLongIsRefused) {
  DecodeLimits limits;
  limits.max_seconds = 5;
  for (const char* f : {"jfk.mp3", "jfk.opus", "jfk.m4a", "jfk_48k_f32.wav", "jfk.flac"}) {
    expect_error([&] { decode_file(formats(f), limits); }, Errc::kAudioTooLong);
  }
  const auto raw = hark::test::read_file(formats("jfk_16k_s16le.raw"));
  expect_error([&] { decode_raw_s16le(raw, 16000, 1, limits); }, Errc::kAudioTooLong);
  // Exactly at the limit is allowed.
  limits.max_seconds = 11.0;
  EXPECT_EQ(decode_file(hark::test::fixture("audio/jfk.wav"), limits).samples.size(), 176000u);
  EXPECT_EQ(decode_raw_s16le(raw, 16000, 1, limits).samples.size(), 176000u);
}

TEST(DecodeLimits, TooLongStopsEarly) {
  // 30 minutes of MP3 (jfk.mp3 repeated; decoders skip the repeated headers). With a 1 s limit the
  // decoder must stop after about a second of audio, not decode all and then refuse: it has to be far
  // cheaper than decoding 11 s once, whatever the machine's speed.
  const auto one = hark::test::read_file(formats("jfk.mp3"));
  std::vector<uint8_t> many;
  for (int i = 0; i < 164; ++i) many.insert(many.end(), one.begin(), one.end());
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  decode_memory(one);
  const auto full = Clock::now() - t0;
  DecodeLimits limits;
  limits.max_seconds = 1;
  t0 = Clock::now();
  expect_error([&] { decode_memory(many, limits); }, Errc::kAudioTooLong);
  const auto limited = Clock::now() - t0;
  EXPECT_LT(limited, full * 4) << "the limit did not stop decoding early";
}

TEST(DecodeLimits, NonsensicalLimitsAreRefused) {
  const auto wav = hark::test::read_file(hark::test::fixture("audio/jfk.wav"));
  for (double bad : {-1.0, std::nan(""), 1e300, double{INFINITY}}) {
    DecodeLimits limits;
    limits.max_seconds = bad;
    expect_error([&] { decode_memory(wav, limits); }, Errc::kInvalidArgument);
    expect_error([&] { decode_raw_s16le(wav, 16000, 1, limits); }, Errc::kInvalidArgument);
    limits = {};
    limits.timeout_seconds = bad;
    expect_error([&] { decode_memory(wav, limits); }, Errc::kInvalidArgument);
  }
}

TEST(DecodeLimits, DeadlineStopsDecoding) {
  DecodeLimits limits;
  limits.timeout_seconds = 0;
  const std::string msg = expect_error([&] { decode_file(formats("jfk.ogg"), limits); }, Errc::kAudioCorrupt);
  EXPECT_NE(msg.find("gave up"), std::string::npos) << msg;
}

// --- crafted WAV files ---------------------------------------------------------------------------------

TEST(DecodeCrafted, PlaceholderDataSizesReadToTheEnd) {
  const auto pcm = test::to_s16le(test::sine(440, 16000, 0.5, 0.5));
  for (int64_t placeholder : {int64_t{0}, int64_t{0xFFFFFFFF}}) {
    WavSpec spec;
    spec.data_size = placeholder;
    const Decoded d = decode_memory(make_wav(spec, pcm));
    EXPECT_EQ(d.samples.size(), 8000u) << placeholder;
    EXPECT_FALSE(d.truncated) << placeholder;
  }
}

TEST(DecodeCrafted, CutMidSampleKeepsWholeSamples) {
  auto wav = make_wav({}, test::to_s16le(test::sine(440, 16000, 0.5, 0.5)));
  wav.resize(wav.size() - 1001);
  const Decoded d = decode_memory(wav);
  EXPECT_TRUE(d.truncated);
  EXPECT_EQ(d.samples.size(), 8000u - 501u);
}

TEST(DecodeCrafted, MultichannelLayoutsDownmix) {
  const auto& ref = jfk_reference();
  const size_t n = 3 * 16000;
  // 5.1 (mask 0x3F: FL FR FC LFE BL BR) with speech in the centre only, the usual film mix.
  std::vector<float> six(n * 6, 0.0f);  // [n][6]
  for (size_t i = 0; i < n; ++i) six[6 * i + 2] = ref[i];
  WavSpec spec;
  spec.channels = 6;
  spec.extensible = true;
  spec.channel_mask = 0x3F;
  Decoded d = decode_memory(make_wav(spec, test::to_s16le(six)));
  ASSERT_EQ(d.samples.size(), n);
  EXPECT_EQ(d.source_channels, 6);
  EXPECT_GT(test::best_alignment({ref.data(), n}, d.samples, 4).correlation, 0.999);
  EXPECT_GT(test::rms(d.samples, 0, n), 0.1 * test::rms(ref, 0, n));
  // Three identical channels with no speaker positions: equal weights give the signal back.
  std::vector<float> three(n * 3);  // [n][3]
  for (size_t i = 0; i < n; ++i) three[3 * i] = three[3 * i + 1] = three[3 * i + 2] = ref[i];
  spec = {};
  spec.channels = 3;
  d = decode_memory(make_wav(spec, test::to_s16le(three)));
  ASSERT_EQ(d.samples.size(), n);
  EXPECT_LT(hark::test::max_abs_diff(ref.data(), d.samples.data(), n), 2.0 / 32768);
}

TEST(DecodeCrafted, AbsurdFormatFieldsGiveTypedErrors) {
  const std::vector<uint8_t> pcm(6400, 0x11);
  struct Case {
    const char* what;
    WavSpec spec;
  };
  auto with = [](auto f) {
    WavSpec s;
    f(s);
    return s;
  };
  const Case cases[] = {
      {"rate 0", with([](WavSpec& s) { s.sample_rate = 0; })},
      {"rate 4 GHz", with([](WavSpec& s) { s.sample_rate = 0xFFFFFFFF; })},
      {"rate 2 GHz", with([](WavSpec& s) { s.sample_rate = 2'000'000'000; })},
      {"rate 10 Hz", with([](WavSpec& s) { s.sample_rate = 10; })},
      {"100 channels", with([](WavSpec& s) { s.channels = 100; })},
      {"65535 channels", with([](WavSpec& s) { s.channels = 65535; })},
      {"0 bits", with([](WavSpec& s) { s.bits = 0; })},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    try {
      const Decoded d = decode_memory(make_wav(c.spec, pcm));
      ADD_FAILURE() << "decoded " << d.samples.size() << " samples";
    } catch (const Error& e) {
      const std::string name = errc_name(e.code());
      EXPECT_EQ(name.rfind("audio_", 0), 0u) << name << ": " << e.what();
    }
  }
}

TEST(DecodeCrafted, UnknownCodecAndMissingAudioStream) {
  WavSpec spec;
  spec.format_tag = 0x7777;
  expect_error([&] { decode_memory(make_wav(spec, std::vector<uint8_t>(6400, 0x11))); },
               Errc::kAudioUnsupportedCodec);
  // An FLV file (an admitted container) holding three video tags and no audio.
  std::vector<uint8_t> flv = {'F', 'L', 'V', 1, 0x01, 0, 0, 0, 9, 0, 0, 0, 0};
  for (uint8_t k = 0; k < 3; ++k) {
    const uint8_t size = 125;
    const uint8_t tag[] = {9, 0, 0, size, 0, 0, static_cast<uint8_t>(40 * k), 0, 0, 0, 0, 0x17, 1, 0, 0, 0};
    flv.insert(flv.end(), tag, tag + sizeof tag);
    flv.insert(flv.end(), size - 5, 0);
    const uint8_t prev[] = {0, 0, 0, 11 + size};
    flv.insert(flv.end(), prev, prev + 4);
  }
  expect_error([&] { decode_memory(flv); }, Errc::kAudioNoStream);
}

TEST(DecodeCrafted, DamagedPacketsAreSkipped) {
  // 400 random bytes in the middle of the stream: what cannot be read is dropped and decoding goes on.
  // The MP3 decoder reports the bad frame (counted in the warning); FLAC's parser discards frames whose
  // CRC fails before the decoder sees them, so there only the length shows it.
  for (const char* f : {"jfk.mp3", "jfk.flac"}) {
    SCOPED_TRACE(f);
    auto bytes = hark::test::read_file(formats(f));
    std::mt19937 rng(7);
    for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 400; ++i) bytes[i] = static_cast<uint8_t>(rng());
    const Decoded d = decode_memory(bytes);
    EXPECT_FALSE(d.truncated);
    if (std::string(f) == "jfk.mp3") {
      EXPECT_NE(d.warning.find("damaged packet"), std::string::npos) << d.warning;
    }
    EXPECT_NEAR(d.duration_seconds, 11.0, 0.2);
    // Before the damage the speech is intact (after it, a dropped frame shifts the rest).
    EXPECT_GT(test::best_alignment({jfk_reference().data(), 4 * 16000}, d.samples, 200).correlation, 0.95);
  }
}

TEST(DecodeCrafted, NonFiniteFloatSamplesBecomeSilence) {
  std::vector<float> x = test::sine(440, 16000, 0.1, 0.5);
  x[10] = std::nanf("");
  x[20] = INFINITY;
  x[30] = -INFINITY;
  std::vector<uint8_t> bytes(x.size() * 4);
  std::memcpy(bytes.data(), x.data(), bytes.size());
  WavSpec spec;
  spec.format_tag = 3;
  spec.bits = 32;
  const Decoded d = decode_memory(make_wav(spec, bytes));
  ASSERT_EQ(d.samples.size(), x.size());
  for (float v : d.samples) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(d.samples[10], 0.0f);
  EXPECT_EQ(d.samples[11], x[11]);
  EXPECT_NE(d.warning.find("non-finite"), std::string::npos) << d.warning;
}

TEST(DecodeCrafted, OtherMediaIsNotAudio) {
  // A PNG signature and header chunk: FFmpeg recognises it as an image, which hark refuses by name.
  const std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0,    0, 0, 13,
                                    'I',  'H', 'D', 'R', 0,    0,    0,    1,    0,    0, 0, 1,
                                    8,    2,   0,   0,   0,    0x90, 0x77, 0x53, 0xDE, 0, 0, 0,
                                    0,    'I', 'E', 'N', 'D',  0xAE, 0x42, 0x60, 0x82};
  const std::string msg = expect_error([&] { decode_memory(png); }, Errc::kAudioNotAudio);
  EXPECT_NE(msg.find("png"), std::string::npos) << msg;
  const std::string html = "<!DOCTYPE html><html><body>not audio</body></html>";
  expect_error(
      [&] {
        decode_memory({reinterpret_cast<const uint8_t*>(html.data()), html.size()});
      },
      Errc::kAudioNotAudio);
}

bool printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

TEST(DecodeCrafted, MessagesQuotingInputBytesStayPrintable) {
  // A chunk whose id is binary and whose size overruns the file: the warning names the chunk.
  auto wav = make_wav({}, test::to_s16le(test::sine(440, 16000, 0.1, 0.5)));
  const uint8_t junk[] = {0xFF, 0x00, '\n', 0x80, 0xFF, 0xFF, 0xFF, 0x7F};
  wav.insert(wav.begin() + 36, junk, junk + 8);  // before the data chunk
  const Decoded d = decode_memory(wav);
  EXPECT_EQ(d.samples.size(), 1600u);
  EXPECT_NE(d.warning.find("chunk claims"), std::string::npos) << d.warning;
  EXPECT_TRUE(printable(d.warning)) << d.warning;
}

// --- mutations of every real format: no crash, only typed outcomes -------------------------------------

void expect_typed_outcome(std::span<const uint8_t> bytes) {
  try {
    const Decoded d = decode_memory(bytes);
    ASSERT_FALSE(d.samples.empty());
    for (float v : d.samples) ASSERT_TRUE(std::isfinite(v));
    EXPECT_TRUE(printable(d.warning)) << d.warning;
  } catch (const Error& e) {
    const std::string name = errc_name(e.code());
    EXPECT_EQ(name.rfind("audio_", 0), 0u) << name << ": " << e.what();
    EXPECT_TRUE(printable(e.what())) << e.what();
  }
}

TEST(DecodeCrafted, TruncationsAndBitFlipsOfEveryFormat) {
  std::mt19937 rng(1234);
  for (const auto& e : std::filesystem::directory_iterator(hark::test::fixture("audio/formats"))) {
    SCOPED_TRACE(e.path().string());
    const auto bytes = hark::test::read_file(e.path().string());
    for (double cut : {0.001, 0.01, 0.05, 0.3, 0.77, 0.999}) {
      const auto n = static_cast<size_t>(static_cast<double>(bytes.size()) * cut);
      SCOPED_TRACE(n);
      expect_typed_outcome({bytes.data(), n});
    }
    for (int round = 0; round < 4; ++round) {
      auto copy = bytes;
      // Headers live at the front: flip there as often as in the body.
      std::uniform_int_distribution<size_t> head(0, std::min<size_t>(copy.size(), 4096) - 1);
      std::uniform_int_distribution<size_t> any(0, copy.size() - 1);
      for (int k = 0; k < 16; ++k) copy[(k % 2 ? head : any)(rng)] ^= static_cast<uint8_t>(1u << (k % 8));
      SCOPED_TRACE(round);
      expect_typed_outcome(copy);
    }
  }
}

}  // namespace
}  // namespace hark::audio
