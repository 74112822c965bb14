// The fields of a POST /v1/audio/transcriptions or /v1/audio/translations form, checked and typed. Every
// field OpenAI defines is either honoured or refused with a 400 naming it; unknown fields are refused too,
// as OpenAI does, so a typo never goes unnoticed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/engine.h"
#include "server/multipart.h"

namespace hark::server {

enum class ResponseFormat { kJson, kText, kSrt, kVerboseJson, kVtt };

struct AudioRequest {
  std::string_view file;  // the uploaded bytes (a view into the request body)
  std::string filename;
  std::string model;
  std::string language;  // ISO-639-1, empty = detect
  std::string prompt;
  ResponseFormat format = ResponseFormat::kJson;
  float temperature = 0.0f;
  bool stream = false;
  bool logprobs = false;  // include[]=logprobs
  runtime::ChunkingOptions chunking;
};

// Throws ApiError (400) for a missing, malformed, unknown or unsupported field.
AudioRequest parse_audio_request(const std::vector<FormPart>& parts, bool translation);

}  // namespace hark::server
