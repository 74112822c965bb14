// A deterministic stand-in for the Gemma 4 engine, for server tests: text and segments follow from the
// audio length alone, words are streamed one by one, and counters record what the server asked for.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "runtime/engine.h"
#include "server/server.h"

namespace hark::test {

class FakeEngine : public runtime::Engine {
 public:
  std::string model_id() const override { return "fake-model"; }
  bool ready() const override { return ready_flag.load(); }
  // One segment per started 2 s of audio: " Segment <i> of <n>." (translation: " Translated <i> of <n>."),
  // each a window of its own: its words are streamed, then on_progress reports its end.
  // The prompt "fail after one word" makes it throw kResourceExhausted after the first word.
  runtime::TranscribeResult transcribe(const runtime::TranscribeRequest& request,
                                       const runtime::Callbacks& callbacks) override;
  // Replies "Heard <k> audio part(s) and: <user text>", one word per delta.
  runtime::ChatResult chat(const runtime::ChatRequest& request, const runtime::Callbacks& callbacks) override;

  std::atomic<bool> ready_flag{true};
  std::atomic<int> delay_ms_per_word{0};  // slows generation so tests can disconnect or fill the queue
  std::atomic<int> calls{0};
  std::atomic<int> cancelled_calls{0};
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  std::atomic<int> windows_done{0};  // windows of the current transcription finished so far
  // What the last transcription request carried.
  std::atomic<bool> last_translate{false};
  std::atomic<int> last_chunking_mode{0};

 private:
  void word(const std::string& w, const runtime::Callbacks& callbacks, std::string& text, int64_t& n_tokens);
};

// Test decoder: a canonical 44-byte-header WAV of 16-bit samples, read as 16 kHz mono; anything without a
// RIFF/WAVE header is kAudioNotAudio.
server::DecodedAudio fake_wav_decoder(std::span<const uint8_t> bytes, size_t max_bytes, double max_seconds);

// A canonical WAV file of `seconds` of a quiet tone at 16 kHz.
std::string make_wav(double seconds);

}  // namespace hark::test
