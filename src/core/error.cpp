#include "core/error.h"

namespace hark {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid_argument";
    case Errc::kNotFound:
      return "not_found";
    case Errc::kIo:
      return "io_error";
    case Errc::kCorruptFile:
      return "corrupt_file";
    case Errc::kUnsupported:
      return "unsupported";
    case Errc::kModelInvalid:
      return "model_invalid";
    case Errc::kAudioEmpty:
      return "audio_empty";
    case Errc::kAudioNotAudio:
      return "audio_not_audio";
    case Errc::kAudioUnsupportedCodec:
      return "audio_unsupported_codec";
    case Errc::kAudioCorrupt:
      return "audio_corrupt";
    case Errc::kAudioNoStream:
      return "audio_no_stream";
    case Errc::kAudioZeroChannels:
      return "audio_zero_channels";
    case Errc::kAudioTooLong:
      return "audio_too_long";
    case Errc::kAudioTooLarge:
      return "audio_too_large";
    case Errc::kCancelled:
      return "cancelled";
    case Errc::kResourceExhausted:
      return "resource_exhausted";
    case Errc::kInternal:
      return "internal_error";
  }
  return "unknown";
}

}  // namespace hark
