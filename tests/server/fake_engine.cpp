#include "fake_engine.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "core/error.h"

namespace hark::test {
namespace {

// " <n>", built without operator+ on a literal (GCC 12 reports a false -Wrestrict there).
std::string spaced(int n, const char* suffix = "") {
  std::string s(1, ' ');
  s.append(std::to_string(n)).append(suffix);
  return s;
}

struct RunningGuard {
  FakeEngine& e;
  explicit RunningGuard(FakeEngine& engine) : e(engine) {
    const int now = ++e.running;
    int seen = e.max_running.load();
    while (now > seen && !e.max_running.compare_exchange_weak(seen, now)) {
    }
  }
  ~RunningGuard() { --e.running; }
};

}  // namespace

void FakeEngine::word(const std::string& w, const runtime::Callbacks& callbacks, std::string& text,
                      int64_t& n_tokens) {
  if (callbacks.cancelled && callbacks.cancelled()) {
    ++cancelled_calls;
    throw Error(Errc::kCancelled, "cancelled");
  }
  if (delay_ms_per_word > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_per_word.load()));
  text += w;
  ++n_tokens;
  if (callbacks.on_delta) {
    const runtime::TokenLogprob lp{w, -0.25f, std::vector<uint8_t>(w.begin(), w.end())};
    callbacks.on_delta(w, std::span<const runtime::TokenLogprob>(&lp, 1));
  }
}

runtime::TranscribeResult FakeEngine::transcribe(const runtime::TranscribeRequest& request,
                                                 const runtime::Callbacks& callbacks) {
  RunningGuard guard(*this);
  ++calls;
  last_translate = request.translate;
  last_chunking_mode = static_cast<int>(request.chunking.mode);
  if (request.pcm16k.empty()) throw Error(Errc::kAudioEmpty, "no samples");
  runtime::TranscribeResult r;
  r.duration = static_cast<double>(request.pcm16k.size()) / 16000.0;
  r.language = request.translate ? "en" : (request.language.empty() ? "en" : request.language);
  const int n = static_cast<int>(std::ceil(r.duration / 2.0));
  int64_t n_tokens = 0;
  windows_done = 0;
  for (int i = 0; i < n; ++i) {
    runtime::Segment s;
    s.id = i;
    s.seek = i * 200;
    s.start = 2.0 * i;
    s.end = std::min(2.0 * (i + 1), r.duration);
    const std::string words[] = {request.translate ? " Translated" : " Segment", spaced(i + 1), " of",
                                 spaced(n, ".")};
    for (const std::string& w : words) {
      const int64_t before = n_tokens;
      word(w, callbacks, s.text, n_tokens);
      if (request.prompt == "fail after one word")
        throw Error(Errc::kResourceExhausted, "the audio and prompt do not fit in the context");
      s.tokens.push_back(static_cast<int32_t>(1000 + before));
      if (request.want_logprobs) r.logprobs.push_back({w, -0.25f, std::vector<uint8_t>(w.begin(), w.end())});
    }
    s.temperature = request.temperature;
    s.avg_logprob = -0.25f;
    s.compression_ratio = 1.0f;
    s.no_speech_prob = 0.01f;
    r.text += s.text;
    ++windows_done;
    if (callbacks.on_progress) callbacks.on_progress(s.end, r.duration);
    r.segments.push_back(std::move(s));
  }
  r.usage.input_audio_tokens = static_cast<int64_t>(std::ceil(r.duration * 25.0));
  r.usage.input_text_tokens = 12;
  r.usage.output_tokens = n_tokens;
  return r;
}

runtime::ChatResult FakeEngine::chat(const runtime::ChatRequest& request,
                                     const runtime::Callbacks& callbacks) {
  RunningGuard guard(*this);
  ++calls;
  int audio_parts = 0;
  std::string user_text;
  for (const auto& m : request.messages)
    for (const auto& p : m.parts) {
      if (p.kind == runtime::ChatPart::Kind::kAudio) ++audio_parts;
      if (p.kind == runtime::ChatPart::Kind::kText && m.role == "user") user_text += p.text;
    }
  runtime::ChatResult r;
  r.finish_reason = "stop";
  int64_t n_tokens = 0;
  std::string reply = "Heard " + std::to_string(audio_parts) + " audio part(s) and: " + user_text;
  size_t pos = 0;
  while (pos < reply.size()) {
    if (request.max_tokens > 0 && n_tokens >= request.max_tokens) {
      r.finish_reason = "length";
      break;
    }
    size_t next = reply.find(' ', pos + 1);
    if (next == std::string::npos) next = reply.size();
    word(reply.substr(pos, next - pos), callbacks, r.text, n_tokens);
    pos = next;
  }
  r.usage.input_text_tokens = 20;
  r.usage.input_audio_tokens = 25 * audio_parts;
  r.usage.output_tokens = n_tokens;
  return r;
}

server::DecodedAudio fake_wav_decoder(std::span<const uint8_t> bytes, size_t max_bytes, double max_seconds) {
  if (bytes.size() > max_bytes) throw Error(Errc::kAudioTooLarge, "too large");
  if (bytes.size() < 44 || std::memcmp(bytes.data(), "RIFF", 4) != 0 ||
      std::memcmp(bytes.data() + 8, "WAVE", 4) != 0)
    throw Error(Errc::kAudioNotAudio, "the upload is not a recognised audio file");
  server::DecodedAudio a;
  const size_t n = (bytes.size() - 44) / 2;  // [n] 16-bit samples after the canonical header
  if (max_seconds > 0 && static_cast<double>(n) / 16000.0 > max_seconds)
    throw Error(Errc::kAudioTooLong, "the audio is longer than " + std::to_string(max_seconds) + " s");
  a.pcm16k.resize(n);
  for (size_t i = 0; i < n; ++i) {
    int16_t s;
    std::memcpy(&s, bytes.data() + 44 + 2 * i, 2);
    a.pcm16k[i] = static_cast<float>(s) / 32768.0f;
  }
  return a;
}

std::string make_wav(double seconds) {
  const uint32_t n = static_cast<uint32_t>(seconds * 16000.0);
  std::string w(44 + 2 * static_cast<size_t>(n), '\0');
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&w[at], &v, 4); };
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&w[at], &v, 2); };
  std::memcpy(&w[0], "RIFF", 4);
  put32(4, 36 + 2 * n);
  std::memcpy(&w[8], "WAVEfmt ", 8);
  put32(16, 16);
  put16(20, 1);      // PCM
  put16(22, 1);      // mono
  put32(24, 16000);  // sample rate
  put32(28, 32000);  // byte rate
  put16(32, 2);      // block align
  put16(34, 16);     // bits per sample
  std::memcpy(&w[36], "data", 4);
  put32(40, 2 * n);
  for (uint32_t i = 0; i < n; ++i) {
    const int16_t s = static_cast<int16_t>(1000.0 * std::sin(2.0 * M_PI * 440.0 * i / 16000.0));
    put16(44 + 2 * i, static_cast<uint16_t>(s));
  }
  return w;
}

}  // namespace hark::test
