// Every container and codec users send decodes to the same speech as jfk.wav; the raw, memory and file
// paths agree; resampling and downmixing behave as documented.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

#include "audio/decode.h"
#include "audio_testutil.h"
#include "core/error.h"
#include "testutil/testutil.h"

namespace hark::audio {
namespace {

using test::best_alignment;
using test::jfk_reference;

std::string formats_dir() {
  return hark::test::fixture("audio/formats");
}

std::vector<std::string> format_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(formats_dir())) {
    if (e.path().extension() != ".raw") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(DecodeFormats, EveryFormatDecodesToTheSameSpeech) {
  const auto& ref = jfk_reference();
  ASSERT_EQ(ref.size(), 176000u);
  const auto files = format_files();
  ASSERT_GE(files.size(), 11u);
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const Decoded d = decode_file(path);
    // Codec delay is trimmed by the decoders; AAC leaves at most one 1024-sample frame at 16 kHz (64 ms
    // would be a frame more), everything else matches to the sample.
    EXPECT_NEAR(d.duration_seconds, 11.0, 0.009);
    EXPECT_EQ(d.duration_seconds, static_cast<double>(d.samples.size()) / kSampleRate);
    EXPECT_FALSE(d.truncated);
    EXPECT_EQ(d.warning, "");
    EXPECT_FALSE(d.container.empty());
    EXPECT_FALSE(d.codec.empty());
    EXPECT_GT(d.source_sample_rate, 0);
    EXPECT_GE(d.source_channels, 1);
    const auto a = best_alignment(ref, d.samples, 200);
    EXPECT_GT(a.correlation, 0.95) << "lag " << a.lag;
    // Lossy codecs may shift by a few ms (none does today: every lag is 0); more would mean encoder
    // priming samples left in the output.
    EXPECT_LE(std::abs(a.lag), 64);
  }
}

TEST(DecodeFormats, ReportsSourceContainerAndCodec) {
  struct Case {
    const char* file;
    const char* container;
    const char* codec;
    int rate;
    int channels;
  };
  const Case cases[] = {
      {"jfk.mp3", "mp3", "mp3", 16000, 1},
      {"jfk.flac", "flac", "flac", 16000, 1},
      {"jfk.ogg", "ogg", "vorbis", 16000, 1},
      {"jfk.opus", "ogg", "opus", 48000, 1},
      {"jfk.webm", "matroska,webm", "opus", 48000, 1},
      {"jfk.m4a", "mov,mp4,m4a,3gp,3g2,mj2", "aac", 16000, 1},
      {"jfk_44k1_stereo_s24.wav", "wav", "pcm_s24le", 44100, 2},
      {"jfk_48k_f32.wav", "wav", "pcm_f32le", 48000, 1},
      {"jfk_8k_mulaw.wav", "wav", "pcm_mulaw", 8000, 1},
      {"jfk_8k_u8.wav", "wav", "pcm_u8", 8000, 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const Decoded d = decode_file(formats_dir() + "/" + c.file);
    EXPECT_EQ(d.container, c.container);
    EXPECT_EQ(d.codec, c.codec);
    EXPECT_EQ(d.source_sample_rate, c.rate);
    EXPECT_EQ(d.source_channels, c.channels);
  }
}

TEST(DecodeFormats, LosslessSixteenKilohertzIsBitExact) {
  // The mel goldens were computed from s16 / 32768; any deviation here would move every later stage.
  const auto& ref = jfk_reference();
  for (const char* path : {"audio/jfk.wav", "audio/formats/jfk.flac"}) {
    SCOPED_TRACE(path);
    const Decoded d = decode_file(hark::test::fixture(path));
    ASSERT_EQ(d.samples.size(), ref.size());
    EXPECT_EQ(hark::test::max_abs_diff(ref.data(), d.samples.data(), ref.size()), 0.0);
  }
}

TEST(DecodeFormats, ResampledPcmIsCloseSampleBySample) {
  // 48 kHz float and 44.1 kHz stereo s24 carry jfk without codec loss, so after resampling they must
  // match sample by sample (no lag) up to the resampler's band edge. The stereo file was made with
  // FFmpeg's mono-to-stereo upmix (each side at 1/sqrt 2), which a mean downmix keeps.
  const auto& ref = jfk_reference();
  struct Case {
    const char* file;
    double gain;
  };
  for (const Case c : {Case{"jfk_48k_f32.wav", 1.0}, Case{"jfk_44k1_stereo_s24.wav", 0.70710678}}) {
    SCOPED_TRACE(c.file);
    const Decoded d = decode_file(formats_dir() + "/" + c.file);
    ASSERT_EQ(d.samples.size(), ref.size());
    std::vector<float> scaled(ref.size());
    for (size_t i = 0; i < ref.size(); ++i) scaled[i] = static_cast<float>(ref[i] * c.gain);
    EXPECT_LT(hark::test::rel_rms(scaled.data(), d.samples.data(), ref.size()), 0.02);
    EXPECT_EQ(best_alignment(scaled, d.samples, 32).lag, 0);
  }
}

TEST(DecodeFormats, Mp3BehindCoverArtLargerThanTheProbeWindow) {
  // Podcasts carry cover art in an ID3v2 tag that can exceed the 1 MiB content probe.
  const auto mp3 = hark::test::read_file(formats_dir() + "/jfk.mp3");
  const size_t art = 1'500'000;
  std::vector<uint8_t> file = {'I', 'D', '3', 3, 0, 0};
  const size_t frame_size = 10 + art;  // an APIC frame: 10-byte header, then the picture
  for (int shift : {21, 14, 7, 0}) file.push_back(static_cast<uint8_t>((frame_size >> shift) & 0x7F));
  const uint8_t frame[] = {'A',
                           'P',
                           'I',
                           'C',
                           static_cast<uint8_t>(art >> 24),
                           static_cast<uint8_t>(art >> 16),
                           static_cast<uint8_t>(art >> 8),
                           static_cast<uint8_t>(art),
                           0,
                           0};
  file.insert(file.end(), frame, frame + sizeof frame);
  file.insert(file.end(), art, 0);
  file.insert(file.end(), mp3.begin(), mp3.end());
  const Decoded d = decode_memory(file);
  EXPECT_EQ(d.container, "mp3");
  EXPECT_EQ(d.samples, decode_memory(mp3).samples);
}

TEST(DecodeFormats, ChainedOggWithNewParametersMidStream) {
  // Two Ogg Vorbis files back to back (a chained stream, as radio recorders write): 11 s at 16 kHz mono,
  // then 0.15 s at 44.1 kHz stereo. The converter must follow the change, not keep the first setup.
  auto bytes = hark::test::read_file(formats_dir() + "/jfk.ogg");
  const auto second = hark::test::read_file(hark::test::source_dir() + "/fuzz/corpus/audio/short_stereo.ogg");
  bytes.insert(bytes.end(), second.begin(), second.end());
  const Decoded d = decode_memory(bytes);
  EXPECT_NEAR(d.duration_seconds, 11.15, 0.01);
  EXPECT_FALSE(d.truncated);
  EXPECT_GT(best_alignment(jfk_reference(), d.samples, 200).correlation, 0.95);
}

TEST(DecodeFormats, MemoryAndFilePathsAgree) {
  for (const auto& path : format_files()) {
    SCOPED_TRACE(path);
    const auto bytes = hark::test::read_file(path);
    const Decoded m = decode_memory(bytes);
    const Decoded f = decode_file(path);
    EXPECT_EQ(m.samples, f.samples);
    EXPECT_EQ(m.container, f.container);
    EXPECT_EQ(m.codec, f.codec);
  }
}

TEST(DecodeFormats, RawS16leMatchesWav) {
  const auto raw = hark::test::read_file(formats_dir() + "/jfk_16k_s16le.raw");
  const Decoded r = decode_raw_s16le(raw, 16000, 1);
  const Decoded w = decode_file(hark::test::fixture("audio/jfk.wav"));
  EXPECT_EQ(r.samples, w.samples);
  EXPECT_EQ(r.container, "raw");
  EXPECT_EQ(r.codec, "pcm_s16le");
  EXPECT_EQ(r.source_sample_rate, 16000);
  EXPECT_EQ(r.source_channels, 1);
  EXPECT_DOUBLE_EQ(r.duration_seconds, 11.0);
  EXPECT_EQ(r.warning, "");
}

TEST(DecodeFormats, RawStereoDownmixesToTheMean) {
  // Left = jfk, right = jfk / 2: the mono result must be 3/4 jfk.
  const auto& ref = jfk_reference();
  std::vector<float> inter(ref.size() * 2);  // [n][2]
  for (size_t i = 0; i < ref.size(); ++i) {
    inter[2 * i] = ref[i];
    inter[2 * i + 1] = ref[i] * 0.5f;
  }
  const Decoded d = decode_raw_s16le(test::to_s16le(inter), 16000, 2);
  ASSERT_EQ(d.samples.size(), ref.size());
  EXPECT_EQ(d.source_channels, 2);
  double max_err = 0;
  for (size_t i = 0; i < ref.size(); ++i) max_err = std::max(max_err, std::abs(d.samples[i] - 0.75 * ref[i]));
  EXPECT_LT(max_err, 2.0 / 32768);  // two s16 roundings
}

TEST(DecodeFormats, RawTrailingPartialFrameIsDroppedWithWarning) {
  std::vector<uint8_t> raw = test::to_s16le(test::sine(440, 16000, 0.1, 0.5));
  raw.push_back(0x12);
  const Decoded d = decode_raw_s16le(raw, 16000, 1);
  EXPECT_EQ(d.samples.size(), 1600u);
  EXPECT_NE(d.warning.find("partial"), std::string::npos);
}

TEST(DecodeFormats, RawRejectsBadParameters) {
  const std::vector<uint8_t> raw(320, 0);
  for (int rate : {0, -16000, 999, 768001}) {
    try {
      decode_raw_s16le(raw, rate, 1);
      ADD_FAILURE() << rate;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kInvalidArgument) << rate;
    }
  }
  for (int ch : {0, -1, 65}) {
    try {
      decode_raw_s16le(raw, 16000, ch);
      ADD_FAILURE() << ch;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kInvalidArgument) << ch;
    }
  }
  try {
    decode_raw_s16le({}, 16000, 1);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kAudioEmpty);
  }
  try {
    decode_raw_s16le(std::vector<uint8_t>(3, 0), 16000, 2);  // less than one frame
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kAudioEmpty);
  }
}

// Resampling quality, measured on synthetic tones so the numbers mean something: a tone inside the
// speech band keeps its level, one above the new Nyquist frequency (8 kHz) is removed instead of
// folding back into the band.
double resampled_tone_gain(double freq, int rate) {
  const auto tone = test::sine(freq, rate, 1.0, 0.5);
  const Decoded d = decode_raw_s16le(test::to_s16le(tone), rate, 1);
  EXPECT_NEAR(static_cast<double>(d.samples.size()), kSampleRate, 1.0);
  // Skip the edges, where the filter sees the tone start and stop.
  return test::rms(d.samples, 1600, d.samples.size() - 1600) / (0.5 / std::sqrt(2.0));
}

TEST(DecodeFormats, ResamplerKeepsTheSpeechBandAndRejectsAliases) {
  for (int rate : {48000, 44100, 22050}) {
    SCOPED_TRACE(rate);
    for (double f : {300.0, 1000.0, 3400.0, 7000.0}) {
      EXPECT_NEAR(resampled_tone_gain(f, rate), 1.0, 0.012) << f << " Hz";  // within 0.1 dB
    }
    EXPECT_LT(resampled_tone_gain(9000, rate), 1e-3) << "9 kHz";  // below -60 dB
  }
  EXPECT_LT(resampled_tone_gain(12000, 48000), 1e-3);
  // Upsampling from 8 kHz keeps the band and adds nothing above it.
  EXPECT_NEAR(resampled_tone_gain(1000, 8000), 1.0, 0.012);
}

TEST(DecodeFormats, ConcurrentDecodesAreIndependent) {
  const Decoded mp3 = decode_file(formats_dir() + "/jfk.mp3");
  const Decoded ogg = decode_file(formats_dir() + "/jfk.ogg");
  const auto bad = hark::test::read_file(hark::test::fixture("audio/corrupt/random.bin"));
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        if (t % 2 == 0) {
          const bool is_mp3 = t % 4 == 0;
          const Decoded d = decode_file(formats_dir() + (is_mp3 ? "/jfk.mp3" : "/jfk.ogg"));
          ok[t] += d.samples == (is_mp3 ? mp3 : ogg).samples;
        } else {
          try {
            decode_memory(bad);
          } catch (const Error& e) {
            ok[t] += e.code() == Errc::kAudioNotAudio;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(ok[t], 3) << t;
}

}  // namespace
}  // namespace hark::audio
