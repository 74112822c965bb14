#include "server/audio_request.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "server/api_error.h"
#include "server/languages.h"

namespace hark::server {
namespace {

using runtime::ChunkingOptions;

double parse_number(const std::string& param, std::string_view text) {
  const std::string s(text);
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v))
    throw invalid_param(param, "'" + s.substr(0, 40) + "' is not a number");
  return v;
}

bool parse_bool(const std::string& param, std::string_view text) {
  if (text == "true" || text == "True" || text == "1") return true;
  if (text == "false" || text == "False" || text == "0") return false;
  throw invalid_param(param, "expected true or false, got '" + std::string(text.substr(0, 40)) + "'");
}

ResponseFormat parse_format(std::string_view s) {
  if (s == "json") return ResponseFormat::kJson;
  if (s == "text") return ResponseFormat::kText;
  if (s == "srt") return ResponseFormat::kSrt;
  if (s == "verbose_json") return ResponseFormat::kVerboseJson;
  if (s == "vtt") return ResponseFormat::kVtt;
  if (s == "diarized_json")
    throw invalid_param("response_format",
                        "response_format 'diarized_json' is not supported: hark does not diarize",
                        "unsupported_value");
  throw invalid_param("response_format",
                      "response_format must be one of json, text, srt, verbose_json, vtt; got '" +
                          std::string(s.substr(0, 40)) + "'");
}

// One VAD setting, from JSON (`chunking_strategy={"type":"server_vad",...}`) or from a bracketed form field
// (`chunking_strategy[threshold]=0.5`, how OpenAI's SDKs encode objects in forms).
void set_vad_field(ChunkingOptions& c, const std::string& key, double v) {
  const std::string param = "chunking_strategy." + key;
  if (key == "threshold") {
    if (v < 0.0 || v > 1.0) throw invalid_param(param, "threshold must be between 0 and 1");
    c.threshold = static_cast<float>(v);
  } else if (key == "prefix_padding_ms" || key == "silence_duration_ms") {
    if (v < 0.0 || v > 60000.0 || v != std::floor(v))
      throw invalid_param(param, key + " must be an integer number of milliseconds between 0 and 60000");
    (key == "prefix_padding_ms" ? c.prefix_padding_ms : c.silence_duration_ms) = static_cast<int>(v);
  } else {
    throw invalid_param(param, "unknown chunking_strategy field '" + key + "'");
  }
}

ChunkingOptions parse_chunking_json(std::string_view text) {
  ChunkingOptions c;
  if (text == "auto") {
    c.mode = ChunkingOptions::Mode::kAuto;
    return c;
  }
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_string() && j.get<std::string>() == "auto") {
    c.mode = ChunkingOptions::Mode::kAuto;
    return c;
  }
  if (!j.is_object())
    throw invalid_param("chunking_strategy",
                        "chunking_strategy must be \"auto\" or an object {\"type\":\"server_vad\", ...}");
  if (!j.contains("type") || j["type"] != "server_vad")
    throw invalid_param("chunking_strategy.type", "chunking_strategy.type must be \"server_vad\"");
  c.mode = ChunkingOptions::Mode::kServerVad;
  for (const auto& [key, value] : j.items()) {
    if (key == "type") continue;
    if (!value.is_number()) throw invalid_param("chunking_strategy." + key, key + " must be a number");
    set_vad_field(c, key, value.get<double>());
  }
  return c;
}

// Fields OpenAI defines for transcriptions that hark cannot honour: refused rather than ignored.
const std::set<std::string, std::less<>> kUnsupportedFields = {"languages",
                                                               "languages[]",
                                                               "keywords",
                                                               "keywords[]",
                                                               "known_speaker_names",
                                                               "known_speaker_names[]",
                                                               "known_speaker_references",
                                                               "known_speaker_references[]"};

}  // namespace

AudioRequest parse_audio_request(const std::vector<FormPart>& parts, bool translation) {
  AudioRequest r;
  std::set<std::string> seen;
  bool has_file = false, has_model = false, has_granularities = false;
  std::map<std::string, double> vad_fields;
  std::string vad_type;

  for (const FormPart& p : parts) {
    const std::string& name = p.name;
    const bool repeatable = name.ends_with("[]") || name == "timestamp_granularities" || name == "include";
    if (!repeatable && !seen.insert(name).second)
      throw invalid_param(name, "field '" + name + "' is given twice");
    const std::string_view v = p.data;

    if (name == "file") {
      r.file = v;
      r.filename = p.filename;
      has_file = true;
    } else if (name == "model") {
      r.model = std::string(v);
      has_model = true;
    } else if (name == "prompt") {
      r.prompt = std::string(v);
    } else if (name == "response_format") {
      r.format = parse_format(v);
    } else if (name == "temperature") {
      const double t = parse_number(name, v);
      if (t < 0.0 || t > 1.0) throw invalid_param(name, "temperature must be between 0 and 1");
      r.temperature = static_cast<float>(t);
    } else if (translation) {
      throw invalid_param(name, "Unrecognized request argument supplied: " + name, "unknown_parameter");
    } else if (name == "language") {
      if (v.empty()) continue;
      r.language = language_code(v);
      if (r.language.empty())
        throw invalid_param(name, "language '" + std::string(v.substr(0, 40)) +
                                      "' is not a known ISO-639-1 code (e.g. en, de, fr)");
    } else if (name == "stream") {
      r.stream = parse_bool(name, v);
    } else if (name == "timestamp_granularities[]" || name == "timestamp_granularities") {
      has_granularities = true;
      if (v == "word")
        throw invalid_param("timestamp_granularities",
                            "word timestamps are not supported by this model yet; use 'segment'",
                            "unsupported_value");
      if (v != "segment")
        throw invalid_param("timestamp_granularities", "timestamp_granularities must be 'segment' or 'word'");
    } else if (name == "include[]" || name == "include") {
      if (v != "logprobs") throw invalid_param("include", "include[] accepts only 'logprobs'");
      r.logprobs = true;
    } else if (name == "chunking_strategy") {
      r.chunking = parse_chunking_json(v);
    } else if (name.starts_with("chunking_strategy[") && name.ends_with("]")) {
      const std::string key = name.substr(18, name.size() - 19);
      if (key == "type")
        vad_type = std::string(v);
      else
        vad_fields[key] = parse_number("chunking_strategy." + key, v);
    } else if (kUnsupportedFields.count(name)) {
      throw invalid_param(name, "'" + name + "' is not supported by hark", "unsupported_parameter");
    } else {
      throw invalid_param(name, "Unrecognized request argument supplied: " + name, "unknown_parameter");
    }
  }

  if (!vad_type.empty() || !vad_fields.empty()) {
    if (r.chunking.mode != ChunkingOptions::Mode::kNone)
      throw invalid_param("chunking_strategy", "chunking_strategy is given twice");
    if (vad_type != "server_vad")
      throw invalid_param("chunking_strategy.type", "chunking_strategy.type must be \"server_vad\"");
    r.chunking.mode = ChunkingOptions::Mode::kServerVad;
    for (const auto& [key, value] : vad_fields) set_vad_field(r.chunking, key, value);
  }
  if (!has_file)
    throw invalid_param("file", "you must provide an audio file in the 'file' field",
                        "missing_required_parameter");
  if (r.file.empty()) throw invalid_param("file", "the uploaded file is empty", "audio_empty");
  if (!has_model || r.model.empty())
    throw invalid_param("model", "you must provide a model parameter", "missing_required_parameter");
  if (has_granularities && r.format != ResponseFormat::kVerboseJson)
    throw invalid_param("timestamp_granularities",
                        "timestamp_granularities requires response_format=verbose_json");
  if (r.logprobs && r.format != ResponseFormat::kJson)
    throw invalid_param("include", "include[]=logprobs requires response_format=json");
  if (r.stream && r.format != ResponseFormat::kJson && r.format != ResponseFormat::kText)
    throw invalid_param("stream",
                        "stream=true sends transcript.text events; use response_format json or text");
  return r;
}

}  // namespace hark::server
