#include "audio_testutil.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "testutil/testutil.h"

namespace hark::audio::test {

const std::vector<float>& jfk_reference() {
  static const std::vector<float> ref = [] {
    const auto bytes = hark::test::read_file(hark::test::fixture("audio/formats/jfk_16k_s16le.raw"));
    std::vector<float> out(bytes.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
      int16_t v;
      std::memcpy(&v, bytes.data() + 2 * i, 2);
      out[i] = static_cast<float>(v) / 32768.0f;
    }
    return out;
  }();
  return ref;
}

namespace {

double correlation_at(std::span<const float> ref, std::span<const float> x, int lag, size_t begin,
                      size_t end) {
  double rx = 0, rr = 0, xx = 0;
  for (size_t i = begin; i < end; ++i) {
    const int64_t j = static_cast<int64_t>(i) + lag;
    if (j < 0 || j >= static_cast<int64_t>(x.size())) continue;
    const double a = ref[i], b = x[static_cast<size_t>(j)];
    rx += a * b;
    rr += a * a;
    xx += b * b;
  }
  return (rr > 0 && xx > 0) ? rx / std::sqrt(rr * xx) : 0.0;
}

}  // namespace

Alignment best_alignment(std::span<const float> ref, std::span<const float> x, int max_lag) {
  // Search on 2 s of speech from the middle (cheap enough for sanitizer builds), then score it all.
  const bool long_ref = ref.size() >= 5 * 16000;
  const size_t begin = long_ref ? 3 * 16000 : 0;
  const size_t end = long_ref ? 5 * 16000 : ref.size();
  Alignment best;
  best.correlation = -2;
  for (int lag = -max_lag; lag <= max_lag; ++lag) {
    const double c = correlation_at(ref, x, lag, begin, end);
    if (c > best.correlation) best = {lag, c};
  }
  best.correlation = correlation_at(ref, x, best.lag, 0, ref.size());
  return best;
}

std::vector<uint8_t> make_wav(const WavSpec& s, std::span<const uint8_t> data) {
  std::vector<uint8_t> out;
  auto u16 = [&](uint32_t v) {
    out.push_back(static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(v >> 8));
  };
  auto u32 = [&](uint32_t v) {
    u16(v & 0xFFFF);
    u16(v >> 16);
  };
  auto tag = [&](const char* t) { out.insert(out.end(), t, t + 4); };
  const uint32_t fmt_size = s.extensible ? 40 : 16;
  const uint16_t block_align = static_cast<uint16_t>(s.channels * (s.bits / 8));
  tag("RIFF");
  u32(static_cast<uint32_t>(4 + 8 + fmt_size + 8 + data.size()));
  tag("WAVE");
  tag("fmt ");
  u32(fmt_size);
  u16(s.extensible ? 0xFFFE : s.format_tag);
  u16(s.channels);
  u32(s.sample_rate);
  u32(s.sample_rate * block_align);
  u16(block_align);
  u16(s.bits);
  if (s.extensible) {
    u16(22);  // extension size
    u16(s.bits);
    u32(s.channel_mask);
    // Subformat GUID: the format tag, then the fixed tail 00 00 00 00 10 00 80 00 00 AA 00 38 9B 71.
    u16(s.format_tag);
    const uint8_t tail[14] = {0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71};
    out.insert(out.end(), tail, tail + 14);
  }
  tag("data");
  u32(s.data_size >= 0 ? static_cast<uint32_t>(s.data_size) : static_cast<uint32_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> to_s16le(std::span<const float> samples) {
  std::vector<uint8_t> out(samples.size() * 2);
  for (size_t i = 0; i < samples.size(); ++i) {
    const float c = std::clamp(samples[i], -1.0f, 1.0f);
    const auto v = static_cast<int16_t>(std::lrint(c * 32767.0f));
    std::memcpy(out.data() + 2 * i, &v, 2);
  }
  return out;
}

std::vector<float> sine(double freq, double rate, double seconds, double amp) {
  std::vector<float> out(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<float>(amp * std::sin(2 * std::numbers::pi * freq * static_cast<double>(i) / rate));
  }
  return out;
}

double rms(std::span<const float> x, size_t begin, size_t end) {
  double s = 0;
  for (size_t i = begin; i < end; ++i) s += double(x[i]) * x[i];
  return end > begin ? std::sqrt(s / static_cast<double>(end - begin)) : 0.0;
}

}  // namespace hark::audio::test
