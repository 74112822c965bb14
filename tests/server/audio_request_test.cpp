#include "server/audio_request.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace hark::server {
namespace {

using Mode = runtime::ChunkingOptions::Mode;

// Form parts from (name, value) pairs; "file" becomes a file part.
std::vector<FormPart> form(const std::vector<std::pair<std::string, std::string>>& fields) {
  static std::vector<std::string> storage;  // keeps the views alive for the test
  storage.reserve(1000);
  std::vector<FormPart> parts;
  for (const auto& [name, value] : fields) {
    storage.push_back(value);
    FormPart p;
    p.name = name;
    p.is_file = name == "file";
    if (p.is_file) p.filename = "a.wav";
    p.data = storage.back();
    parts.push_back(p);
  }
  return parts;
}

ApiError refusal(const std::vector<std::pair<std::string, std::string>>& fields, bool translation = false) {
  try {
    parse_audio_request(form(fields), translation);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted";
  return ApiError(0, "", "", "", "");
}

TEST(AudioRequest, MinimalFormHasOpenAiDefaults) {
  const AudioRequest r = parse_audio_request(form({{"file", "RIFF"}, {"model", "whisper-1"}}), false);
  EXPECT_EQ(r.file, "RIFF");
  EXPECT_EQ(r.filename, "a.wav");
  EXPECT_EQ(r.model, "whisper-1");
  EXPECT_EQ(r.format, ResponseFormat::kJson);
  EXPECT_EQ(r.temperature, 0.0f);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.logprobs);
  EXPECT_EQ(r.chunking.mode, Mode::kNone);
}

TEST(AudioRequest, EveryHonouredField) {
  const AudioRequest r = parse_audio_request(form({{"file", "x"},
                                                   {"model", "m"},
                                                   {"language", "German"},
                                                   {"prompt", "Hallo"},
                                                   {"response_format", "json"},
                                                   {"temperature", "0.4"},
                                                   {"stream", "true"},
                                                   {"include[]", "logprobs"},
                                                   {"chunking_strategy", "auto"}}),
                                             false);
  EXPECT_EQ(r.language, "de");
  EXPECT_EQ(r.prompt, "Hallo");
  EXPECT_FLOAT_EQ(r.temperature, 0.4f);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.chunking.mode, Mode::kAuto);
  const AudioRequest v = parse_audio_request(form({{"file", "x"},
                                                   {"model", "m"},
                                                   {"response_format", "verbose_json"},
                                                   {"timestamp_granularities[]", "segment"}}),
                                             false);
  EXPECT_EQ(v.format, ResponseFormat::kVerboseJson);
}

TEST(AudioRequest, ChunkingStrategyAsJsonOrAsSdkBracketFields) {
  const AudioRequest j = parse_audio_request(
      form({{"file", "x"},
            {"model", "m"},
            {"chunking_strategy", R"({"type":"server_vad","threshold":0.7,"silence_duration_ms":500})"}}),
      false);
  EXPECT_EQ(j.chunking.mode, Mode::kServerVad);
  EXPECT_FLOAT_EQ(j.chunking.threshold, 0.7f);
  EXPECT_EQ(j.chunking.silence_duration_ms, 500);
  EXPECT_EQ(j.chunking.prefix_padding_ms, 300);
  const AudioRequest b = parse_audio_request(form({{"file", "x"},
                                                   {"model", "m"},
                                                   {"chunking_strategy[type]", "server_vad"},
                                                   {"chunking_strategy[prefix_padding_ms]", "100"}}),
                                             false);
  EXPECT_EQ(b.chunking.mode, Mode::kServerVad);
  EXPECT_EQ(b.chunking.prefix_padding_ms, 100);
}

TEST(AudioRequest, RefusalsNameTheField) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> fields;
    std::string param;
  };
  const std::vector<Case> cases = {
      {{{"model", "m"}}, "file"},
      {{{"file", ""}, {"model", "m"}}, "file"},
      {{{"file", "x"}}, "model"},
      {{{"file", "x"}, {"model", "m"}, {"response_format", "xml"}}, "response_format"},
      {{{"file", "x"}, {"model", "m"}, {"response_format", "diarized_json"}}, "response_format"},
      {{{"file", "x"}, {"model", "m"}, {"temperature", "hot"}}, "temperature"},
      {{{"file", "x"}, {"model", "m"}, {"temperature", "1.5"}}, "temperature"},
      {{{"file", "x"}, {"model", "m"}, {"temperature", "nan"}}, "temperature"},
      {{{"file", "x"}, {"model", "m"}, {"language", "klingon"}}, "language"},
      {{{"file", "x"}, {"model", "m"}, {"stream", "maybe"}}, "stream"},
      {{{"file", "x"},
        {"model", "m"},
        {"response_format", "verbose_json"},
        {"timestamp_granularities[]", "word"}},
       "timestamp_granularities"},
      {{{"file", "x"}, {"model", "m"}, {"timestamp_granularities[]", "segment"}}, "timestamp_granularities"},
      {{{"file", "x"}, {"model", "m"}, {"include[]", "logprobs"}, {"response_format", "text"}}, "include"},
      {{{"file", "x"}, {"model", "m"}, {"include[]", "tokens"}}, "include"},
      {{{"file", "x"}, {"model", "m"}, {"stream", "true"}, {"response_format", "srt"}}, "stream"},
      {{{"file", "x"}, {"model", "m"}, {"chunking_strategy", "manual"}}, "chunking_strategy"},
      {{{"file", "x"}, {"model", "m"}, {"chunking_strategy", R"({"type":"server_vad","threshold":2})"}},
       "chunking_strategy.threshold"},
      {{{"file", "x"}, {"model", "m"}, {"chunking_strategy", R"({"type":"semantic"})"}},
       "chunking_strategy.type"},
      {{{"file", "x"},
        {"model", "m"},
        {"chunking_strategy[type]", "server_vad"},
        {"chunking_strategy[foo]", "1"}},
       "chunking_strategy.foo"},
      {{{"file", "x"}, {"model", "m"}, {"keywords[]", "hark"}}, "keywords[]"},
      {{{"file", "x"}, {"model", "m"}, {"colour", "blue"}}, "colour"},
      {{{"file", "x"}, {"model", "m"}, {"model", "n"}}, "model"},
  };
  for (const Case& c : cases) {
    const ApiError e = refusal(c.fields);
    EXPECT_EQ(e.status, 400) << c.param;
    EXPECT_EQ(e.type, "invalid_request_error") << c.param;
    EXPECT_EQ(e.param, c.param) << e.what();
    EXPECT_FALSE(std::string(e.what()).empty());
  }
}

TEST(AudioRequest, TranslationsAcceptOnlyTheirFields) {
  const AudioRequest r = parse_audio_request(
      form(
          {{"file", "x"}, {"model", "m"}, {"prompt", "p"}, {"response_format", "srt"}, {"temperature", "0"}}),
      true);
  EXPECT_EQ(r.format, ResponseFormat::kSrt);
  EXPECT_EQ(refusal({{"file", "x"}, {"model", "m"}, {"language", "de"}}, true).param, "language");
  EXPECT_EQ(refusal({{"file", "x"}, {"model", "m"}, {"stream", "true"}}, true).param, "stream");
}

}  // namespace
}  // namespace hark::server
