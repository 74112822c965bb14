#include "wav_util.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "testutil/testutil.h"

namespace hark::test {

std::vector<float> read_pcm16_wav(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  const auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, bytes.data() + at, 4);
    return v;
  };
  const auto u16 = [&](size_t at) {
    uint16_t v;
    std::memcpy(&v, bytes.data() + at, 2);
    return v;
  };
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 ||
      std::memcmp(bytes.data() + 8, "WAVE", 4))
    throw std::runtime_error(path + ": not a RIFF/WAVE file");
  bool fmt_ok = false;
  for (size_t at = 12; at + 8 <= bytes.size();) {
    const uint32_t size = u32(at + 4);
    if (std::memcmp(bytes.data() + at, "fmt ", 4) == 0)
      fmt_ok = u16(at + 8) == 1 && u16(at + 10) == 1 && u32(at + 12) == 16000 && u16(at + 22) == 16;
    if (std::memcmp(bytes.data() + at, "data", 4) == 0) {
      if (!fmt_ok) throw std::runtime_error(path + ": not 16 kHz mono 16-bit PCM");
      const size_t n = std::min<size_t>(size, bytes.size() - at - 8) / 2;
      std::vector<float> out(n);  // [n]
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<int16_t>(u16(at + 8 + 2 * i)) / 32768.0f;
      return out;
    }
    at += 8 + size + (size & 1);
  }
  throw std::runtime_error(path + ": no data chunk");
}

}  // namespace hark::test
