// POST /v1/chat/completions: the request (text and input_audio parts) checked and typed, and the response
// and stream-chunk objects as OpenAI sends them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/engine.h"

namespace hark::server {

struct ChatInput {
  struct Part {
    runtime::ChatPart::Kind kind = runtime::ChatPart::Kind::kText;
    std::string text;   // kText
    std::string audio;  // kAudio: the encoded file bytes (base64-decoded input_audio.data)
  };
  struct Message {
    std::string role;
    std::vector<Part> parts;
  };
  std::string model;
  std::vector<Message> messages;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  float temperature = 1.0f;
  int64_t max_tokens = 0;  // 0 = no limit
};

// Throws ApiError (400) for malformed JSON, a bad field, or one hark cannot honour.
ChatInput parse_chat_request(std::string_view body);

// Standard base64 (RFC 4648, padding optional, whitespace skipped); throws ApiError naming `param`.
std::string base64_decode(std::string_view text, const std::string& param);

// CompletionUsage.
nlohmann::json chat_usage(const runtime::Usage& u);

// The chat.completion object.
nlohmann::json chat_completion(const runtime::ChatResult& r, const std::string& id, int64_t created,
                               const std::string& model);

// One chat.completion.chunk with a single choice: `delta` and `finish_reason` (null when absent).
// With include_usage every chunk carries "usage": null, as OpenAI sends it.
nlohmann::json chat_chunk(const std::string& id, int64_t created, const std::string& model,
                          nlohmann::json delta, const std::optional<std::string>& finish_reason,
                          bool include_usage);

// The last chunk when include_usage is set: no choices, the usage.
nlohmann::json chat_usage_chunk(const std::string& id, int64_t created, const std::string& model,
                                const runtime::Usage& u);

}  // namespace hark::server
