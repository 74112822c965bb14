// libFuzzer target for the audio decoder entry points: any bytes must decode to finite samples or throw
// hark::Error with an audio code, never crash, hang or leak. Limits are small so that one input costs
// milliseconds; the interesting work (probing, demuxing, the WAV repair, resampler setup) happens early.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "audio/decode.h"
#include "core/error.h"

namespace {

// Messages end up in JSON error objects and terminals: printable ASCII only.
void check_text(const char* text) {
  for (const char* c = text; *c; ++c) {
    if (*c < 0x20 || *c > 0x7E) std::abort();
  }
}

void check(const hark::audio::Decoded& d) {
  check_text(d.warning.c_str());
  for (float v : d.samples) {
    if (!std::isfinite(v)) std::abort();
  }
  if (d.samples.size() > 5 * hark::audio::kSampleRate) std::abort();  // the duration limit held
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hark::audio::DecodeLimits limits;
  limits.max_bytes = 1 << 20;
  limits.max_seconds = 5;
  limits.timeout_seconds = 5;
  try {
    check(hark::audio::decode_memory({data, size}, limits));
  } catch (const hark::Error& e) {
    if (e.code() == hark::Errc::kInternal) std::abort();
    check_text(e.what());
  }
  // Headerless PCM with parameters taken from the first bytes: a common rate (resampler setup for odd
  // ratios is slow enough to starve the fuzzer) and 1-8 channels.
  if (size >= 2) {
    constexpr int kRates[] = {8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000};
    const int rate = kRates[data[0] % 8];
    const int channels = 1 + data[1] % 8;
    try {
      check(hark::audio::decode_raw_s16le({data + 2, size - 2}, rate, channels, limits));
    } catch (const hark::Error& e) {
      if (e.code() == hark::Errc::kInternal) std::abort();
      check_text(e.what());
    }
  }
  return 0;
}
