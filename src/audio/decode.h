// Turns whatever audio a user sends (WAV, MP3, FLAC, Ogg/Vorbis, Opus, WebM, M4A/MP4 AAC, ...) into
// 16 kHz mono float samples, the only input the models take. Containers are recognised from the bytes
// (never the file name), decoded with FFmpeg's libraries from memory, downmixed and resampled.
//
// Everything here treats the input as hostile: sizes and durations are bounded by DecodeLimits, probing
// reads a bounded prefix, a wall-clock deadline aborts any FFmpeg call that runs too long, and every
// problem ends as a hark::Error with an audio Errc (see core/error.h). All functions are thread-safe;
// concurrent decodes share nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hark::audio {

// The sample rate of every Decoded::samples.
inline constexpr int kSampleRate = 16000;

struct DecodeLimits {
  // Inputs larger than this are refused before any decoding (kAudioTooLarge).
  size_t max_bytes = size_t{1} << 30;
  // Decoding stops with kAudioTooLong as soon as more than this much audio came out.
  double max_seconds = 4 * 3600.0;
  // Wall-clock bound for one decode; crafted input that makes FFmpeg spin ends as kAudioCorrupt.
  double timeout_seconds = 300.0;
};

struct Decoded {
  std::vector<float> samples;  // [n] 16 kHz mono, nominally in [-1, 1]
  // The input ended early (cut mid-stream, or shorter than its header announces): `samples` holds what
  // decoded, and `warning` says what happened.
  bool truncated = false;
  std::string warning;    // empty when the input was clean
  std::string container;  // FFmpeg demuxer name ("wav", "mp3", "ogg", "mov,mp4,m4a,3gp,3g2,mj2") or "raw"
  std::string codec;      // FFmpeg codec name ("pcm_s16le", "mp3", "opus", "aac", ...)
  int source_sample_rate = 0;   // of the decoded stream, before resampling
  int source_channels = 0;      // before downmixing
  double duration_seconds = 0;  // of `samples`: samples.size() / kSampleRate
};

// Decodes an in-memory file of any supported container. Throws hark::Error(kAudio*).
Decoded decode_memory(std::span<const uint8_t> bytes, const DecodeLimits& limits = {});

// Decodes a file on disk (size checked before it is read). Also throws kNotFound / kIo.
Decoded decode_file(const std::string& path, const DecodeLimits& limits = {});

// Headerless little-endian signed 16-bit PCM, channels interleaved. A trailing partial frame is dropped
// with a warning. Throws kInvalidArgument for a bad rate or channel count, and the audio errors.
Decoded decode_raw_s16le(std::span<const uint8_t> bytes, int sample_rate, int channels,
                         const DecodeLimits& limits = {});

}  // namespace hark::audio
