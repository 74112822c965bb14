#include "server/chat.h"

#include <array>
#include <set>

#include "server/api_error.h"

namespace hark::server {
namespace {

using nlohmann::json;

// Fields that do not change what is generated: accepted and not used.
const std::set<std::string, std::less<>> kNoEffect = {"user",
                                                      "metadata",
                                                      "store",
                                                      "service_tier",
                                                      "parallel_tool_calls",
                                                      "safety_identifier",
                                                      "prompt_cache_key"};

// Fields hark cannot honour, and the value each may carry without changing anything (null always may).
bool is_default(const std::string& key, const json& v) {
  if (v.is_null()) return true;
  if (key == "n") return v == 1;
  if (key == "top_p") return v == 1;
  if (key == "frequency_penalty" || key == "presence_penalty") return v == 0;
  if (key == "logprobs") return v == false;
  if (key == "tools" || key == "functions" || key == "stop" || key == "logit_bias") return v.empty();
  if (key == "tool_choice" || key == "function_call") return v == "none";
  if (key == "response_format") return v.is_object() && v.value("type", "") == "text";
  if (key == "modalities") return v == json::array({"text"});
  return false;
}
const std::set<std::string, std::less<>> kUnsupported = {
    "n",     "top_p",      "frequency_penalty", "presence_penalty",   "logprobs",  "top_logprobs",
    "tools", "functions",  "tool_choice",       "function_call",      "stop",      "logit_bias",
    "seed",  "prediction", "reasoning_effort",  "web_search_options", "verbosity", "response_format",
    "audio", "modalities"};

int64_t token_limit(const std::string& key, const json& v) {
  if (v.is_null()) return 0;
  if (!v.is_number_integer() || v.get<int64_t>() < 1)
    throw invalid_param(key, key + " must be a positive integer");
  return v.get<int64_t>();
}

ChatInput::Message parse_message(const json& m, size_t index) {
  const std::string where = "messages[" + std::to_string(index) + "]";
  if (!m.is_object()) throw invalid_param(where, where + " must be an object");
  if (!m.contains("role") || !m["role"].is_string())
    throw invalid_param(where + ".role", "a message needs a role");
  ChatInput::Message msg;
  const std::string role = m["role"];
  if (role == "system" || role == "developer")
    msg.role = "system";
  else if (role == "user" || role == "assistant")
    msg.role = role;
  else
    throw invalid_param(where + ".role",
                        "role '" + role + "' is not supported (system, developer, user, assistant)",
                        "unsupported_value");
  if (m.contains("tool_calls") && !m["tool_calls"].empty())
    throw invalid_param(where + ".tool_calls", "tool calls are not supported", "unsupported_parameter");

  const json content = m.value("content", json(nullptr));
  if (content.is_string()) {
    msg.parts.push_back({runtime::ChatPart::Kind::kText, content.get<std::string>(), {}});
    return msg;
  }
  if (content.is_null() && role == "assistant") return msg;
  if (!content.is_array() || content.empty())
    throw invalid_param(where + ".content", "content must be a string or a non-empty array of parts");
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string pw = where + ".content[" + std::to_string(i) + "]";
    const std::string type = part.is_object() ? part.value("type", "") : "";
    if (type == "text") {
      if (!part.contains("text") || !part["text"].is_string())
        throw invalid_param(pw + ".text", "a text part needs a string 'text'");
      msg.parts.push_back({runtime::ChatPart::Kind::kText, part["text"].get<std::string>(), {}});
    } else if (type == "input_audio") {
      if (msg.role != "user") throw invalid_param(pw, "audio is accepted in user messages only");
      const json audio = part.value("input_audio", json(nullptr));
      if (!audio.is_object() || !audio.contains("data") || !audio["data"].is_string())
        throw invalid_param(pw + ".input_audio.data", "input_audio needs base64 'data'");
      if (audio.contains("format") && !audio["format"].is_string())
        throw invalid_param(pw + ".input_audio.format", "input_audio.format must be a string such as 'wav'");
      msg.parts.push_back({runtime::ChatPart::Kind::kAudio,
                           {},
                           base64_decode(audio["data"].get<std::string>(), pw + ".input_audio.data")});
    } else {
      throw invalid_param(pw + ".type",
                          "content part type '" + type + "' is not supported (text, input_audio)",
                          "unsupported_value");
    }
  }
  return msg;
}

}  // namespace

std::string base64_decode(std::string_view text, const std::string& param) {
  static const std::array<int8_t, 256> kValue = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t padding = 0;
  for (const char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int v = kValue[static_cast<uint8_t>(c)];
    if (v < 0 || padding > 0) throw invalid_param(param, "data is not valid base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits: 0 (complete), 2 (one byte + "=="), 4 (two bytes + "="); 6 cannot be a whole byte.
  if (bits == 6 || padding > 2) throw invalid_param(param, "data is not valid base64");
  return out;
}

ChatInput parse_chat_request(std::string_view body) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw invalid_param("", "the request body is not valid JSON", "invalid_json");
  if (!j.is_object()) throw invalid_param("", "the request body must be a JSON object", "invalid_json");
  ChatInput in;
  for (const auto& [key, v] : j.items()) {
    if (key == "model") {
      if (!v.is_string()) throw invalid_param(key, "model must be a string");
      in.model = v.get<std::string>();
    } else if (key == "messages") {
      if (!v.is_array() || v.empty()) throw invalid_param(key, "messages must be a non-empty array");
      for (size_t i = 0; i < v.size(); ++i) in.messages.push_back(parse_message(v[i], i));
    } else if (key == "stream") {
      if (!v.is_boolean() && !v.is_null()) throw invalid_param(key, "stream must be a boolean");
      in.stream = v.is_boolean() && v.get<bool>();
    } else if (key == "stream_options") {
      if (v.is_null()) continue;
      if (!v.is_object()) throw invalid_param(key, "stream_options must be an object");
      const json usage = v.value("include_usage", json(false));
      if (!usage.is_boolean()) throw invalid_param(key + ".include_usage", "include_usage must be a boolean");
      in.include_usage = usage.get<bool>();
    } else if (key == "temperature") {
      if (v.is_null()) continue;
      if (!v.is_number() || v.get<double>() < 0.0 || v.get<double>() > 2.0)
        throw invalid_param(key, "temperature must be a number between 0 and 2");
      in.temperature = v.get<float>();
    } else if (key == "max_tokens" || key == "max_completion_tokens") {
      in.max_tokens = token_limit(key, v);
    } else if (kNoEffect.count(key)) {
      continue;
    } else if (kUnsupported.count(key)) {
      if (!is_default(key, v))
        throw invalid_param(key, "'" + key + "' is not supported by hark", "unsupported_parameter");
    } else {
      throw invalid_param(key, "Unrecognized request argument supplied: " + key, "unknown_parameter");
    }
  }
  if (in.model.empty())
    throw invalid_param("model", "you must provide a model parameter", "missing_required_parameter");
  if (in.messages.empty())
    throw invalid_param("messages", "you must provide messages", "missing_required_parameter");
  if (in.include_usage && !in.stream)
    throw invalid_param("stream_options", "stream_options is only allowed when stream is true");
  return in;
}

json chat_usage(const runtime::Usage& u) {
  const int64_t prompt = u.input_text_tokens + u.input_audio_tokens;
  return {
      {"prompt_tokens", prompt},
      {"completion_tokens", u.output_tokens},
      {"total_tokens", prompt + u.output_tokens},
      {"prompt_tokens_details",
       {{"cached_tokens", 0}, {"audio_tokens", u.input_audio_tokens}, {"text_tokens", u.input_text_tokens}}},
      {"completion_tokens_details",
       {{"reasoning_tokens", 0},
        {"audio_tokens", 0},
        {"text_tokens", u.output_tokens},
        {"accepted_prediction_tokens", 0},
        {"rejected_prediction_tokens", 0}}}};
}

json chat_completion(const runtime::ChatResult& r, const std::string& id, int64_t created,
                     const std::string& model) {
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", 0},
                                    {"message",
                                     {{"role", "assistant"},
                                      {"content", r.text},
                                      {"refusal", nullptr},
                                      {"annotations", json::array()}}},
                                    {"logprobs", nullptr},
                                    {"finish_reason", r.finish_reason}}})},
          {"usage", chat_usage(r.usage)}};
}

json chat_chunk(const std::string& id, int64_t created, const std::string& model, json delta,
                const std::optional<std::string>& finish_reason, bool include_usage) {
  json j = {
      {"id", id},
      {"object", "chat.completion.chunk"},
      {"created", created},
      {"model", model},
      {"choices", json::array({{{"index", 0},
                                {"delta", std::move(delta)},
                                {"logprobs", nullptr},
                                {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)}}})}};
  if (include_usage) j["usage"] = nullptr;
  return j;
}

json chat_usage_chunk(const std::string& id, int64_t created, const std::string& model,
                      const runtime::Usage& u) {
  return {{"id", id},       {"object", "chat.completion.chunk"}, {"created", created},
          {"model", model}, {"choices", json::array()},          {"usage", chat_usage(u)}};
}

}  // namespace hark::server
