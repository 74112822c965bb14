#include "server/formats.h"

#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/chat.h"
#include "server/languages.h"

namespace hark::server {
namespace {

using nlohmann::json;

runtime::TranscribeResult sample() {
  runtime::TranscribeResult r;
  r.text = " Hello there. General --> Kenobi.";
  r.language = "en";
  r.duration = 3725.25;  // past an hour, to check the hour field
  runtime::Segment a;
  a.id = 0;
  a.seek = 0;
  a.start = 0.0;
  a.end = 1.5;
  a.text = " Hello there.";
  a.tokens = {10, 11, 12};
  a.avg_logprob = -0.5f;
  a.compression_ratio = 1.25f;
  a.no_speech_prob = 0.125f;
  runtime::Segment b = a;
  b.id = 1;
  b.seek = 150;
  b.start = 3723.0004;
  b.end = 3725.25;
  b.text = " General --> Kenobi.";
  r.segments = {a, b};
  r.usage = {7, 40, 9};
  r.logprobs = {{" Hello", -0.125f, {32, 72}}};
  return r;
}

TEST(Formats, SubtitleTimestamps) {
  EXPECT_EQ(subtitle_timestamp(0.0, ','), "00:00:00,000");
  EXPECT_EQ(subtitle_timestamp(3723.0004, ','), "01:02:03,000");
  EXPECT_EQ(subtitle_timestamp(61.9996, '.'), "00:01:02.000");
  EXPECT_EQ(subtitle_timestamp(-1.0, ','), "00:00:00,000");
}

TEST(Formats, JsonHasTextAndTokenUsage) {
  const json j = json::parse(format_transcription(sample(), ResponseFormat::kJson, false, false).content);
  EXPECT_EQ(j["text"], " Hello there. General --> Kenobi.");
  EXPECT_FALSE(j.contains("logprobs"));
  EXPECT_EQ(j["usage"], json::parse(R"({"type":"tokens","input_tokens":47,"input_token_details":
      {"text_tokens":7,"audio_tokens":40},"output_tokens":9,"total_tokens":56})"));
  const json l = json::parse(format_transcription(sample(), ResponseFormat::kJson, true, false).content);
  EXPECT_EQ(l["logprobs"], json::parse(R"([{"token":" Hello","logprob":-0.125,"bytes":[32,72]}])"));
  const json t = json::parse(format_transcription(sample(), ResponseFormat::kJson, false, true).content);
  EXPECT_EQ(t, json::parse(R"({"text":" Hello there. General --> Kenobi."})"));
}

TEST(Formats, VerboseJsonIsWhisperShaped) {
  const json j =
      json::parse(format_transcription(sample(), ResponseFormat::kVerboseJson, false, false).content);
  EXPECT_EQ(j["task"], "transcribe");
  EXPECT_EQ(j["language"], "english");
  EXPECT_DOUBLE_EQ(j["duration"].get<double>(), 3725.25);
  EXPECT_EQ(j["segments"].size(), 2u);
  EXPECT_EQ(j["segments"][1], json::parse(R"({"id":1,"seek":150,"start":3723.0004,"end":3725.25,
      "text":" General --> Kenobi.","tokens":[10,11,12],"temperature":0.0,"avg_logprob":-0.5,
      "compression_ratio":1.25,"no_speech_prob":0.125})"));
  EXPECT_EQ(j["usage"], json::parse(R"({"type":"duration","seconds":3726.0})"));
  const json t =
      json::parse(format_transcription(sample(), ResponseFormat::kVerboseJson, false, true).content);
  EXPECT_EQ(t["task"], "translate");
  EXPECT_EQ(t["language"], "english");
  EXPECT_FALSE(t.contains("usage"));
}

TEST(Formats, TextSrtVtt) {
  const Body text = format_transcription(sample(), ResponseFormat::kText, false, false);
  EXPECT_EQ(text.content, " Hello there. General --> Kenobi.\n");
  EXPECT_EQ(text.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(format_transcription(sample(), ResponseFormat::kSrt, false, false).content,
            "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n"
            "2\n01:02:03,000 --> 01:02:05,250\nGeneral -> Kenobi.\n\n");
  EXPECT_EQ(format_transcription(sample(), ResponseFormat::kVtt, false, false).content,
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n"
            "01:02:03.000 --> 01:02:05.250\nGeneral -> Kenobi.\n\n");
  runtime::TranscribeResult no_segments;
  no_segments.text = "only text";
  no_segments.duration = 2.0;
  EXPECT_EQ(format_transcription(no_segments, ResponseFormat::kSrt, false, false).content,
            "1\n00:00:00,000 --> 00:00:02,000\nonly text\n\n");
  EXPECT_EQ(format_transcription({}, ResponseFormat::kVtt, false, false).content, "WEBVTT\n\n");
}

TEST(Formats, StreamingEvents) {
  const runtime::TokenLogprob lp{"hi", -1.0f, {104, 105}};
  EXPECT_EQ(sse(delta_event("hi", {&lp, 1}, false)),
            "data: {\"delta\":\"hi\",\"type\":\"transcript.text.delta\"}\n\n");
  EXPECT_EQ(delta_event("hi", {&lp, 1}, true)["logprobs"][0]["bytes"], json::parse("[104,105]"));
  const json done = done_event(sample(), false);
  EXPECT_EQ(done["type"], "transcript.text.done");
  EXPECT_EQ(done["text"], sample().text);
  EXPECT_EQ(done["usage"]["total_tokens"], 56);
}

TEST(Formats, InvalidUtf8IsReplacedNotThrown) {
  runtime::TranscribeResult r;
  r.text = "bad \xff byte";
  EXPECT_NO_THROW(format_transcription(r, ResponseFormat::kJson, false, false));
}

TEST(Formats, ErrorBodyShape) {
  EXPECT_EQ(json::parse(error_body(invalid_param("language", "nope"))),
            json::parse(R"({"error":{"message":"nope","type":"invalid_request_error","param":"language",
                "code":"invalid_value"}})"));
  const json e = json::parse(error_body(ApiError(500, "server_error", "", "", "x")));
  EXPECT_TRUE(e["error"]["param"].is_null());
  EXPECT_TRUE(e["error"]["code"].is_null());
}

TEST(Formats, ErrcMapping) {
  EXPECT_EQ(from_error(Error(Errc::kAudioCorrupt, "x")).status, 400);
  EXPECT_EQ(from_error(Error(Errc::kAudioCorrupt, "x")).code, "audio_corrupt");
  EXPECT_EQ(from_error(Error(Errc::kAudioNotAudio, "x"), "file").param, "file");
  EXPECT_EQ(from_error(Error(Errc::kAudioTooLong, "x")).status, 400);
  EXPECT_EQ(from_error(Error(Errc::kAudioTooLarge, "x")).status, 413);
  EXPECT_EQ(from_error(Error(Errc::kNotFound, "x")).status, 404);
  EXPECT_EQ(from_error(Error(Errc::kInternal, "x")).status, 500);
}

TEST(Languages, CodesAndNames) {
  EXPECT_EQ(language_name("en"), "english");
  EXPECT_EQ(language_name("haw"), "hawaiian");
  EXPECT_EQ(language_name("xx"), "");
  EXPECT_EQ(language_code("EN"), "en");
  EXPECT_EQ(language_code("German"), "de");
  EXPECT_EQ(language_code(""), "");
  EXPECT_EQ(language_code("klingon"), "");
}

TEST(Chat, Base64) {
  EXPECT_EQ(base64_decode("aGFyaw==", "p"), "hark");
  EXPECT_EQ(base64_decode("aGFy\naw", "p"), "hark");
  EXPECT_EQ(base64_decode("", "p"), "");
  for (const char* bad : {"a", "aGFyaw=x", "a-b_", "aGFyaw==="})
    EXPECT_THROW(base64_decode(bad, "p"), ApiError) << bad;
}

TEST(Chat, RequestWithTextAndAudioParts) {
  const ChatInput in =
      parse_chat_request(R"({"model":"m","stream":true,"stream_options":{"include_usage":true},
      "temperature":0.2,"max_completion_tokens":50,"user":"u","n":1,
      "messages":[{"role":"developer","content":"Be brief."},
                  {"role":"user","content":[{"type":"text","text":"Summarise"},
                                            {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]},
                  {"role":"assistant","content":null}]})");
  EXPECT_EQ(in.model, "m");
  EXPECT_TRUE(in.stream);
  EXPECT_TRUE(in.include_usage);
  EXPECT_FLOAT_EQ(in.temperature, 0.2f);
  EXPECT_EQ(in.max_tokens, 50);
  ASSERT_EQ(in.messages.size(), 3u);
  EXPECT_EQ(in.messages[0].role, "system");
  ASSERT_EQ(in.messages[1].parts.size(), 2u);
  EXPECT_EQ(in.messages[1].parts[1].kind, runtime::ChatPart::Kind::kAudio);
  EXPECT_EQ(in.messages[1].parts[1].audio, "RIFF");
  EXPECT_TRUE(in.messages[2].parts.empty());
}

TEST(Chat, RefusalsNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", ""},
      {R"([1])", ""},
      {R"({"messages":[{"role":"user","content":"x"}]})", "model"},
      {R"({"model":"m"})", "messages"},
      {R"({"model":"m","messages":[]})", "messages"},
      {R"({"model":"m","messages":[{"role":"tool","content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]})",
       "messages[0].content[0].type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"!!"}}]}]})",
       "messages[0].content[0].input_audio.data"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":2})", "n"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]})", "tools"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3})", "temperature"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0})", "max_tokens"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}})",
       "stream_options"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"frobnicate":1})", "frobnicate"},
  };
  for (const auto& [body, param] : cases) {
    try {
      parse_chat_request(body);
      ADD_FAILURE() << body;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400) << body;
      EXPECT_EQ(e.param, param) << body << ": " << e.what();
    }
  }
}

TEST(Chat, ResponseObjects) {
  runtime::ChatResult r{"Hi.", "stop", {5, 25, 2}};
  const json c = chat_completion(r, "chatcmpl-1", 100, "m");
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_EQ(c["choices"][0]["message"]["content"], "Hi.");
  EXPECT_TRUE(c["choices"][0]["message"]["refusal"].is_null());
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(c["usage"]["prompt_tokens"], 30);
  EXPECT_EQ(c["usage"]["prompt_tokens_details"]["audio_tokens"], 25);
  EXPECT_EQ(c["usage"]["total_tokens"], 32);
  const json k = chat_chunk("chatcmpl-1", 100, "m", {{"content", "Hi"}}, std::nullopt, true);
  EXPECT_EQ(k["object"], "chat.completion.chunk");
  EXPECT_TRUE(k["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(k.contains("usage") && k["usage"].is_null());
  EXPECT_FALSE(chat_chunk("i", 1, "m", json::object(), "stop", false).contains("usage"));
  EXPECT_TRUE(chat_usage_chunk("i", 1, "m", r.usage)["choices"].empty());
}

}  // namespace
}  // namespace hark::server
