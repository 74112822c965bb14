#include "audio/wav_repair.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "core/error.h"

namespace hark::audio::detail {
namespace {

uint32_t rd32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24);
}
uint16_t rd16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
void wr32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
}
void wr_tag(std::vector<uint8_t>& v, const char* tag) {
  v.insert(v.end(), tag, tag + 4);
}
bool is_tag(const uint8_t* p, const char* tag) {
  return std::memcmp(p, tag, 4) == 0;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

// Writers that stream (pipes, recorders) leave the data size at one of these until they finish.
bool is_placeholder_size(uint32_t size) {
  return size == 0 || size == 0xFFFFFFFFu || size == 0x7FFFFFFFu;
}

}  // namespace

std::optional<WavRepair> repair_wav(std::span<const uint8_t> bytes) {
  const size_t n = bytes.size();
  const uint8_t* b = bytes.data();
  if (n < 12 || !is_tag(b, "RIFF") || !is_tag(b + 8, "WAVE")) return std::nullopt;

  WavRepair out;
  std::span<const uint8_t> fmt;  // the fmt chunk's payload
  size_t data_at = 0;            // offset of the data chunk's payload; 0 = not found
  uint32_t data_claimed = 0;
  size_t pos = 12;
  while (pos + 8 <= n) {
    const uint8_t* chunk = b + pos;
    const uint32_t size = rd32(chunk + 4);
    if (is_tag(chunk, "data")) {
      data_at = pos + 8;
      data_claimed = size;
      break;
    }
    const size_t payload = pos + 8;
    if (is_tag(chunk, "fmt ") && size >= 16 && size <= n - payload) fmt = bytes.subspan(payload, size);
    const uint64_t next = uint64_t{payload} + size + (size & 1);
    if (next <= n) {
      pos = static_cast<size_t>(next);
      continue;
    }
    // The chunk claims to run past the end. If a data chunk follows anyway, the size is the lie.
    const std::string_view rest(reinterpret_cast<const char*>(b + payload), n - payload);
    const size_t found = rest.find("data");
    if (found == std::string_view::npos || payload + found + 8 > n) break;
    std::string tag(reinterpret_cast<const char*>(chunk), 4);
    for (char& c : tag) {
      if (c < 0x20 || c > 0x7E) c = '?';  // the id is input bytes; the warning must stay printable
    }
    out.warning = "a '" + tag + "' chunk claims " + std::to_string(size) +
                  " bytes, more than the file holds; skipped to the data chunk";
    pos = payload + found;
  }

  if (fmt.empty()) return std::nullopt;
  const uint16_t channels = rd16(fmt.data() + 2);
  const uint32_t byte_rate = rd32(fmt.data() + 8);
  const uint16_t block_align = rd16(fmt.data() + 12);
  if (channels == 0) throw Error(Errc::kAudioZeroChannels, "the WAV format chunk declares 0 channels");
  if (data_at == 0) throw Error(Errc::kAudioEmpty, "the WAV file holds no audio samples (no data chunk)");

  size_t available = n - data_at;
  size_t length = available;
  if (!is_placeholder_size(data_claimed) && data_claimed <= available) {
    length = data_claimed;
  } else if (!is_placeholder_size(data_claimed)) {
    out.truncated = true;
    if (byte_rate > 0) {
      out.warning = "the WAV header announces " + seconds(double(data_claimed) / byte_rate) +
                    " of audio but the file holds " + seconds(double(available) / byte_rate);
    } else {
      out.warning = "the WAV header announces " + std::to_string(data_claimed) +
                    " bytes of audio but the file holds " + std::to_string(available);
    }
  }
  // A cut file ends mid-block; decoders reject a partial block, so keep whole ones.
  if (block_align > 0) length -= length % block_align;
  out.data = bytes.subspan(data_at, length);

  const auto fmt_size = static_cast<uint32_t>(fmt.size());
  wr_tag(out.header, "RIFF");
  wr32(out.header,
       static_cast<uint32_t>(std::min<uint64_t>(0xFFFFFFFFu, 4 + 8 + fmt_size + 8 + uint64_t{length})));
  wr_tag(out.header, "WAVE");
  wr_tag(out.header, "fmt ");
  wr32(out.header, fmt_size);
  out.header.insert(out.header.end(), fmt.begin(), fmt.end());
  if (fmt_size & 1) out.header.push_back(0);
  wr_tag(out.header, "data");
  wr32(out.header, static_cast<uint32_t>(std::min<size_t>(length, 0xFFFFFFFEu)));
  return out;
}

}  // namespace hark::audio::detail
