// The product's upload decoder: hark::audio::decode_memory with the server's limits.
#include "audio/decode.h"
#include "server/server.h"

namespace hark::server {

AudioDecoder default_audio_decoder() {
  return [](std::span<const uint8_t> bytes, size_t max_bytes, double max_seconds) {
    audio::DecodeLimits limits;
    limits.max_bytes = max_bytes;
    if (max_seconds > 0.0) limits.max_seconds = max_seconds;
    audio::Decoded d = audio::decode_memory(bytes, limits);
    return DecodedAudio{std::move(d.samples), std::move(d.warning)};
  };
}

}  // namespace hark::server
