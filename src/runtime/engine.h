// The seam between the HTTP server and the model: the server parses, validates and formats; an Engine turns
// 16 kHz mono samples (and chat messages) into text. Interface only: the Gemma 4 engine implements it in
// src/runtime, tests implement a deterministic fake.
//
// Threading: `transcribe` and `chat` may be called concurrently from up to ServerOptions::parallel threads,
// each call with its own request; an engine shares its weights between them and keeps per-call state apart.
// Errors: user-caused problems throw hark::Error (e.g. Errc::kAudioTooLong, Errc::kResourceExhausted when the
// context is too small); when `Callbacks::cancelled` returns true the engine stops soon (between tokens) and
// throws hark::Error(Errc::kCancelled, ...).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hark::runtime {

// How long audio is cut before decoding (OpenAI's `chunking_strategy`).
struct ChunkingOptions {
  enum class Mode {
    kNone,       // one block (the engine may still split at its own maximum window)
    kAuto,       // engine-chosen VAD parameters
    kServerVad,  // VAD with the parameters below
  };
  Mode mode = Mode::kNone;
  int prefix_padding_ms = 300;    // audio kept before detected speech
  int silence_duration_ms = 200;  // silence that ends a speech region
  float threshold = 0.5f;         // VAD sensitivity in [0, 1]
};

// One generated token with its log probability (natural log) and its UTF-8 bytes.
struct TokenLogprob {
  std::string token;
  float logprob = 0.0f;
  std::vector<uint8_t> bytes;
};

// A stretch of transcript with Whisper-style diagnostics (OpenAI's TranscriptionSegment).
struct Segment {
  int id = 0;
  int64_t seek = 0;    // offset of the window this segment was decoded from, in 10 ms frames (Whisper's unit)
  double start = 0.0;  // seconds from the start of the input
  double end = 0.0;
  std::string text;
  std::vector<int32_t> tokens;     // generated token ids of this segment
  float temperature = 0.0f;        // sampling temperature that produced it
  float avg_logprob = 0.0f;        // mean natural-log probability of its tokens
  float compression_ratio = 0.0f;  // UTF-8 bytes of text / bytes of its zlib compression (Whisper's measure)
  float no_speech_prob = 0.0f;     // probability that the window holds no speech
};

struct Usage {
  int64_t input_text_tokens = 0;   // prompt tokens that are text (template, instructions, user prompt)
  int64_t input_audio_tokens = 0;  // prompt tokens that are audio embeddings
  int64_t output_tokens = 0;       // generated tokens
};

struct TranscribeRequest {
  std::vector<float> pcm16k;   // [n_samples] mono at 16 kHz, in [-1, 1]
  std::string language;        // ISO-639-1 code of the input, or empty to let the model decide
  std::string prompt;          // text to guide style or continue a previous segment; may be empty
  float temperature = 0.0f;    // 0 = greedy
  bool translate = false;      // true: produce English whatever the input language
  bool want_logprobs = false;  // fill TranscribeResult::logprobs and the streamed logprobs
  ChunkingOptions chunking;
};

struct TranscribeResult {
  std::string text;               // the whole transcript
  std::vector<Segment> segments;  // in time order; their texts concatenate to `text`
  std::string language;           // ISO-639-1 code of the input language (requested or detected)
  double duration = 0.0;          // seconds of input audio
  int windows = 0;                // pieces of the audio sent to the model (pauses between them are not)
  Usage usage;
  std::vector<TokenLogprob> logprobs;  // every generated token, when want_logprobs
};

// One part of a chat message: text or audio.
struct ChatPart {
  enum class Kind { kText, kAudio };
  Kind kind = Kind::kText;
  std::string text;           // kText
  std::vector<float> pcm16k;  // kAudio: [n_samples] mono at 16 kHz
};

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant" ("developer" arrives as "system")
  std::vector<ChatPart> parts;
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  float temperature = 1.0f;
  int64_t max_tokens = 0;  // 0 = until end of generation or the context is full
};

struct ChatResult {
  std::string text;
  std::string finish_reason;  // "stop" (end of generation) or "length" (max_tokens or context reached)
  Usage usage;
};

// Hooks the engine calls while it works.
struct Callbacks {
  // New text as it is generated, never half a UTF-8 character; `logprobs` holds the tokens that produced it
  // when they were asked for. May be empty.
  std::function<void(std::string_view delta, std::span<const TokenLogprob> logprobs)> on_delta;
  // Polled between tokens; true means the client went away or the server is stopping.
  std::function<bool()> cancelled;
  // Transcription progress in seconds of input audio: called once a stretch of audio is dealt with (a
  // decoded window, or a pause that needs no decoding), with `done_s` never decreasing and the last call
  // at done_s == total_s. The deltas of a window come before the progress call that covers it.
  std::function<void(double done_s, double total_s)> on_progress;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // The id the model is served under (GGUF general.name or the file name).
  virtual std::string model_id() const = 0;
  // False while the weights are still loading (an engine may load in the background so that the server
  // already answers, /health with 503); the server sends no work to an engine that is not ready.
  virtual bool ready() const = 0;
  virtual TranscribeResult transcribe(const TranscribeRequest& request, const Callbacks& callbacks) = 0;
  virtual ChatResult chat(const ChatRequest& request, const Callbacks& callbacks) = 0;
};

}  // namespace hark::runtime
