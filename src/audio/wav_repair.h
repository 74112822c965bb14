// Internal to the audio layer: a tolerant reader of RIFF/WAVE chunk structure. WAV is what most tools
// write, and what they get wrong (a data size left at its placeholder, a metadata chunk whose size runs
// past the end, a cut file); FFmpeg's WAV demuxer gives up on several of these. We locate the fmt and
// data chunks ourselves and hand FFmpeg a canonical header in front of the data bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hark::audio::detail {

struct WavRepair {
  std::vector<uint8_t> header;  // [44 + fmt size - 16] "RIFF" <size> "WAVE" "fmt " <fmt chunk> "data" <size>
  std::span<const uint8_t> data;  // the data chunk's bytes still present, whole blocks, in the input
  bool truncated = false;         // the data chunk announces more bytes than the input holds
  std::string warning;            // what was wrong and what was done about it
};

// For a RIFF/WAVE input whose fmt and data chunks can be found, the canonical form; std::nullopt for
// anything else (not WAV, or too broken to locate the chunks: FFmpeg then reads the original bytes).
// Throws Error(kAudioZeroChannels) for a format chunk with 0 channels and Error(kAudioEmpty) for a WAV
// file that ends without a data chunk.
std::optional<WavRepair> repair_wav(std::span<const uint8_t> bytes);

}  // namespace hark::audio::detail
