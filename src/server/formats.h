// Response bodies of the audio routes, exactly as OpenAI's schema and Whisper's subtitle formats have them.
// Pure functions of the engine's result, so each format is unit-tested without a server.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "runtime/engine.h"
#include "server/audio_request.h"

namespace hark::server {

// A body and its Content-Type.
struct Body {
  std::string content;
  std::string content_type;
};

// The non-streaming response in `format`. `translation` reports English as the language (OpenAI's
// CreateTranslationResponseVerboseJson) and leaves out usage, which translations do not have.
Body format_transcription(const runtime::TranscribeResult& r, ResponseFormat format, bool with_logprobs,
                          bool translation);

// "HH:MM:SS,mmm" (srt, sep ',') or "HH:MM:SS.mmm" (vtt, sep '.'); negative times clamp to zero.
std::string subtitle_timestamp(double seconds, char sep);

// TranscriptTextUsageTokens of a result.
nlohmann::json usage_tokens(const runtime::Usage& u);

// Streaming events: transcript.text.delta and transcript.text.done.
nlohmann::json delta_event(std::string_view delta, std::span<const runtime::TokenLogprob> logprobs,
                           bool with_logprobs);
nlohmann::json done_event(const runtime::TranscribeResult& r, bool with_logprobs);

// One server-sent event: "data: <json>\n\n".
std::string sse(const nlohmann::json& j);

// JSON text with invalid UTF-8 replaced rather than thrown on.
std::string dump(const nlohmann::json& j);

}  // namespace hark::server
