// One error policy for all of hark: anything a user supplies (a file, an upload, a parameter, a model)
// that is wrong ends as a hark::Error carrying an Errc. The server maps each Errc to an HTTP status and an
// OpenAI error object; the CLI prints the message and exits non-zero. Asserts are for our own invariants.
#pragma once

#include <stdexcept>
#include <string>

namespace hark {

enum class Errc {
  kInvalidArgument,  // a bad parameter value from a user
  kNotFound,         // a file or named thing that does not exist
  kIo,               // the OS refused a read or write
  kCorruptFile,      // a file whose bytes break its format (GGUF, ...)
  kUnsupported,      // well-formed, but a version or type hark does not handle
  kModelInvalid,     // a model with a missing/misshapen tensor or a bad hyperparameter
  kAudioEmpty,       // zero bytes or zero samples
  kAudioNotAudio,    // no container/codec recognised
  kAudioUnsupportedCodec,
  kAudioCorrupt,   // recognised, but undecodable or truncated with nothing usable
  kAudioNoStream,  // a container without an audio stream
  kAudioZeroChannels,
  kAudioTooLong,       // over the configured maximum duration
  kAudioTooLarge,      // over the configured maximum byte size
  kCancelled,          // the caller asked to stop (client disconnected, shutdown)
  kResourceExhausted,  // a context, queue or memory bound was reached
  kInternal,           // a bug in hark
};

// A short stable identifier for the code, e.g. "audio_too_long" (used in OpenAI error objects).
const char* errc_name(Errc code);

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Errc code() const { return code_; }

 private:
  Errc code_;
};

}  // namespace hark
