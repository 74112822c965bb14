#include "audio/resampler.h"

#include <string>

#include "audio/decode.h"
#include "core/error.h"

extern "C" {
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

namespace hark::audio::detail {

Resampler::~Resampler() {
  swr_free(&swr_);
  av_channel_layout_uninit(&layout_);
}

void Resampler::configure(AVSampleFormat format, int rate, const AVChannelLayout& layout) {
  const int channels = layout.nb_channels;
  if (channels <= 0) throw Error(Errc::kAudioZeroChannels, "the audio stream has no channels");
  if (channels > kMaxChannels) {
    throw Error(Errc::kAudioUnsupportedCodec, "the audio stream has " + std::to_string(channels) +
                                                  " channels; hark takes at most " +
                                                  std::to_string(kMaxChannels));
  }
  if (rate < kMinSourceRate || rate > kMaxSourceRate) {
    throw Error(Errc::kAudioCorrupt, "the audio stream's sample rate " + std::to_string(rate) +
                                         " Hz is outside " + std::to_string(kMinSourceRate) + ".." +
                                         std::to_string(kMaxSourceRate) + " Hz");
  }
  swr_free(&swr_);
  av_channel_layout_uninit(&layout_);
  if (av_channel_layout_copy(&layout_, &layout) < 0) throw Error(Errc::kInternal, "out of memory");
  format_ = format;
  rate_ = rate;

  // A stream that names no speaker positions gets the usual layout for its channel count, so that
  // swresample can apply its standard downmix. If there is none (unusual counts), every channel is
  // weighted equally.
  AVChannelLayout in{};
  if (layout.order == AV_CHANNEL_ORDER_NATIVE) {
    av_channel_layout_copy(&in, &layout);
  } else {
    av_channel_layout_default(&in, channels);
  }
  const bool equal_weights = in.order != AV_CHANNEL_ORDER_NATIVE;
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  int r = swr_alloc_set_opts2(&swr_, &mono, AV_SAMPLE_FMT_FLT, kSampleRate, &in, format, rate, 0, nullptr);
  av_channel_layout_uninit(&in);
  if (r < 0 || !swr_) throw Error(Errc::kAudioCorrupt, "unsupported sample format or channel layout");

  // Quality: a 64-tap (at the output rate) Kaiser-windowed sinc, twice swresample's default length, so
  // the band edge is steep enough that content above 8 kHz does not alias into speech frequencies.
  av_opt_set_int(swr_, "filter_size", 64, 0);
  av_opt_set_int(swr_, "phase_shift", 10, 0);
  av_opt_set_int(swr_, "linear_interp", 1, 0);
  av_opt_set_double(swr_, "cutoff", 0.95, 0);
  av_opt_set_double(swr_, "kaiser_beta", 9, 0);
  // Normalise the downmix so that its coefficients sum to 1 (stereo -> 0.5 L + 0.5 R). Without this,
  // float output keeps swresample's unnormalised 0.707 L + 0.707 R, which can exceed full scale.
  av_opt_set_double(swr_, "rematrix_maxval", 1.0, 0);
  if (equal_weights) {
    std::vector<double> matrix(static_cast<size_t>(channels), 1.0 / channels);  // [1][channels]
    swr_set_matrix(swr_, matrix.data(), channels);
  }
  if (swr_init(swr_) < 0) {
    swr_free(&swr_);
    const char* name = av_get_sample_fmt_name(format);
    throw Error(Errc::kAudioCorrupt,
                "cannot convert this audio stream (format " + std::string(name ? name : "unknown") + ", " +
                    std::to_string(channels) + " channels, " + std::to_string(rate) + " Hz)");
  }
}

void Resampler::convert(const uint8_t* const* data, int n_samples, std::vector<float>& out) {
  const int bound = swr_get_out_samples(swr_, n_samples);
  if (bound < 0) throw Error(Errc::kAudioCorrupt, "resampling failed");
  const size_t old_size = out.size();
  out.resize(old_size + static_cast<size_t>(bound));
  auto* dst = reinterpret_cast<uint8_t*>(out.data() + old_size);
  const int got = swr_convert(swr_, &dst, bound, const_cast<const uint8_t**>(data), n_samples);
  if (got < 0) {
    out.resize(old_size);
    throw Error(Errc::kAudioCorrupt, "resampling failed");
  }
  out.resize(old_size + static_cast<size_t>(got));
}

void Resampler::push(const uint8_t* const* data, int n_samples, AVSampleFormat format, int rate,
                     const AVChannelLayout& layout, std::vector<float>& out) {
  if (n_samples <= 0) return;
  if (!swr_ || format != format_ || rate != rate_ || av_channel_layout_compare(&layout, &layout_) != 0) {
    flush(out);
    configure(format, rate, layout);
  }
  convert(data, n_samples, out);
}

void Resampler::flush(std::vector<float>& out) {
  if (!swr_) return;
  convert(nullptr, 0, out);
  swr_free(&swr_);
}

}  // namespace hark::audio::detail
