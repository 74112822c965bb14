// Internal to the audio layer: converts decoded frames of any sample format, rate and channel layout to
// 16 kHz mono float with libswresample. Not part of the public API (it exposes FFmpeg types).
#pragma once

#include <cstdint>
#include <vector>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
}

struct SwrContext;

namespace hark::audio::detail {

// Highest and lowest source sample rates hark accepts. The upper bound also bounds the resampling filter
// (its length grows with the rate ratio), so a crafted header cannot make us allocate gigabytes.
inline constexpr int kMinSourceRate = 1000;
inline constexpr int kMaxSourceRate = 768000;
// swresample's own channel limit.
inline constexpr int kMaxChannels = 64;

class Resampler {
 public:
  Resampler() = default;
  ~Resampler();
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  // Appends the 16 kHz mono version of `n_samples` input samples to `out`. `data` is FFmpeg's plane
  // array (one plane when `format` is packed). A change of format, rate or layout between calls flushes
  // the old converter first, so streams whose parameters change mid-way decode whole.
  // Throws Error(kAudioCorrupt / kAudioZeroChannels) for parameters swresample cannot take.
  void push(const uint8_t* const* data, int n_samples, AVSampleFormat format, int rate,
            const AVChannelLayout& layout, std::vector<float>& out);
  // Emits the samples still held in the filter's delay line (call once, at the end).
  void flush(std::vector<float>& out);

 private:
  void configure(AVSampleFormat format, int rate, const AVChannelLayout& layout);
  void convert(const uint8_t* const* data, int n_samples, std::vector<float>& out);

  SwrContext* swr_ = nullptr;
  AVSampleFormat format_ = AV_SAMPLE_FMT_NONE;
  int rate_ = 0;
  AVChannelLayout layout_{};
};

}  // namespace hark::audio::detail
