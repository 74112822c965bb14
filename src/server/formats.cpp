#include "server/formats.h"

#include <cmath>
#include <cstdio>

#include "server/languages.h"

namespace hark::server {
namespace {

using nlohmann::json;
using runtime::Segment;
using runtime::TokenLogprob;
using runtime::TranscribeResult;

json logprobs_json(std::span<const TokenLogprob> logprobs) {
  json a = json::array();
  for (const TokenLogprob& t : logprobs)
    a.push_back({{"token", t.token}, {"logprob", t.logprob}, {"bytes", t.bytes}});
  return a;
}

std::string trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.remove_suffix(1);
  return std::string(s);
}

// Subtitle cue text: "-->" inside a cue would end it early (Whisper writes "->" instead).
std::string cue_text(std::string_view text) {
  std::string s = trim_spaces(text);
  for (size_t p = s.find("-->"); p != std::string::npos; p = s.find("-->", p)) s.replace(p, 3, "->");
  return s;
}

// The cues of a result: its segments, or the whole text as one cue when the engine gave none.
std::vector<Segment> cues(const TranscribeResult& r) {
  if (!r.segments.empty() || r.text.empty()) return r.segments;
  Segment s;
  s.start = 0.0;
  s.end = r.duration;
  s.text = r.text;
  return {s};
}

std::string subtitles(const TranscribeResult& r, bool vtt) {
  std::string out = vtt ? "WEBVTT\n\n" : "";
  int index = 1;
  for (const Segment& s : cues(r)) {
    if (!vtt) out += std::to_string(index++) + "\n";
    const char sep = vtt ? '.' : ',';
    out += subtitle_timestamp(s.start, sep) + " --> " + subtitle_timestamp(s.end, sep) + "\n";
    out += cue_text(s.text) + "\n\n";
  }
  return out;
}

json verbose_json(const TranscribeResult& r, bool translation) {
  std::string language = "english";
  if (!translation) {
    const std::string_view name = language_name(r.language);
    language = name.empty() ? r.language : std::string(name);
  }
  json segments = json::array();
  for (const Segment& s : r.segments) {
    segments.push_back({{"id", s.id},
                        {"seek", s.seek},
                        {"start", s.start},
                        {"end", s.end},
                        {"text", s.text},
                        {"tokens", s.tokens},
                        {"temperature", s.temperature},
                        {"avg_logprob", s.avg_logprob},
                        {"compression_ratio", s.compression_ratio},
                        {"no_speech_prob", s.no_speech_prob}});
  }
  json j = {{"task", translation ? "translate" : "transcribe"},
            {"language", language},
            {"duration", r.duration},
            {"text", r.text},
            {"segments", segments}};
  // Billed by duration like whisper-1: whole seconds, rounded up.
  if (!translation) j["usage"] = {{"type", "duration"}, {"seconds", std::ceil(r.duration)}};
  return j;
}

}  // namespace

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string sse(const json& j) {
  return "data: " + dump(j) + "\n\n";
}

std::string subtitle_timestamp(double seconds, char sep) {
  const long long ms = seconds > 0.0 ? std::llround(seconds * 1000.0) : 0;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld%c%03lld", ms / 3600000, ms / 60000 % 60,
                ms / 1000 % 60, sep, ms % 1000);
  return buf;
}

json usage_tokens(const runtime::Usage& u) {
  const int64_t input = u.input_text_tokens + u.input_audio_tokens;
  return {
      {"type", "tokens"},
      {"input_tokens", input},
      {"input_token_details", {{"text_tokens", u.input_text_tokens}, {"audio_tokens", u.input_audio_tokens}}},
      {"output_tokens", u.output_tokens},
      {"total_tokens", input + u.output_tokens}};
}

Body format_transcription(const TranscribeResult& r, ResponseFormat format, bool with_logprobs,
                          bool translation) {
  switch (format) {
    case ResponseFormat::kText:
      return {r.text + "\n", "text/plain; charset=utf-8"};
    case ResponseFormat::kSrt:
      return {subtitles(r, false), "text/plain; charset=utf-8"};
    case ResponseFormat::kVtt:
      return {subtitles(r, true), "text/plain; charset=utf-8"};
    case ResponseFormat::kVerboseJson:
      return {dump(verbose_json(r, translation)), "application/json"};
    case ResponseFormat::kJson:
      break;
  }
  json j = {{"text", r.text}};
  if (with_logprobs) j["logprobs"] = logprobs_json(r.logprobs);
  if (!translation) j["usage"] = usage_tokens(r.usage);
  return {dump(j), "application/json"};
}

json delta_event(std::string_view delta, std::span<const TokenLogprob> logprobs, bool with_logprobs) {
  json j = {{"type", "transcript.text.delta"}, {"delta", std::string(delta)}};
  if (with_logprobs) j["logprobs"] = logprobs_json(logprobs);
  return j;
}

json done_event(const TranscribeResult& r, bool with_logprobs) {
  json j = {{"type", "transcript.text.done"}, {"text", r.text}};
  if (with_logprobs) j["logprobs"] = logprobs_json(r.logprobs);
  j["usage"] = usage_tokens(r.usage);
  return j;
}

}  // namespace hark::server
