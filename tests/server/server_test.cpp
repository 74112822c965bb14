// The HTTP surface end to end, in process: every route, format and error code, driven by httplib's client.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "test_server.h"

namespace hark::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kWav5s = make_wav(5.0);

// Checks the OpenAI error shape and returns the error object.
json expect_error(const httplib::Result& r, int status) {
  EXPECT_TRUE(r) << "no response";
  if (!r) return {};
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  const json j = json::parse(r->body, nullptr, false);
  EXPECT_TRUE(j.is_object() && j.contains("error")) << r->body;
  if (!j.is_object() || !j.contains("error")) return {};
  const json& e = j["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty());
  EXPECT_TRUE(e["type"].is_string());
  EXPECT_TRUE(e.contains("param") && (e["param"].is_null() || e["param"].is_string()));
  EXPECT_TRUE(e.contains("code") && (e["code"].is_null() || e["code"].is_string()));
  return e;
}

// A raw TCP connection, for clients that misbehave.
int connect_raw(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

std::string multipart_request(const std::string& path, const std::string& extra_fields,
                              const std::string& file) {
  const std::string body =
      "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nfake-model\r\n" + extra_fields +
      "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n" + file +
      "\r\n--B--\r\n";
  return "POST " + path +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string base64(const std::string& in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    const size_t n = std::min<size_t>(3, in.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<uint8_t>(in[i + k]) : 0);
    for (size_t k = 0; k < 4; ++k) out += k <= n ? a[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

TEST(Server, HealthModelsMetrics) {
  TestServer s;
  auto c = s.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  const json models = json::parse(m->body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "fake-model");
  EXPECT_EQ(models["data"][0]["object"], "model");
  EXPECT_EQ(models["data"][0]["owned_by"], "hark");
  EXPECT_EQ(json::parse(c.Get("/v1/models/fake-model")->body)["id"], "fake-model");
  expect_error(c.Get("/v1/models/other"), 404);
  c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &kWav5s));
  // Requests are counted after their last byte went out, so the count may trail the response briefly.
  std::string metrics;
  EXPECT_TRUE(wait_for([&] {
    auto r = c.Get("/metrics");
    metrics = r ? r->body : "";
    return metrics.find("hark_requests_total{route=\"/v1/audio/transcriptions\",code=\"200\"} 1") !=
           std::string::npos;
  })) << metrics;
  EXPECT_NE(metrics.find("hark_audio_seconds_total 5.000"), std::string::npos);
  EXPECT_NE(metrics.find("hark_tokens_total{kind=\"output\"} 12"), std::string::npos);
  EXPECT_NE(metrics.find("hark_queue_depth 0"), std::string::npos);
}

TEST(Server, LoadingModelIs503WithRetryAfter) {
  TestServer s;
  s.engine->ready_flag = false;
  auto c = s.client();
  auto h = c.Get("/health");
  expect_error(h, 503);
  EXPECT_EQ(h->get_header_value("Retry-After"), "1");
  expect_error(c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &kWav5s)), 503);
}

TEST(Server, TranscriptionInEveryFormat) {
  TestServer s;
  auto c = s.client();
  const std::string text = " Segment 1 of 3. Segment 2 of 3. Segment 3 of 3.";
  auto j = c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &kWav5s));
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, 200);
  EXPECT_EQ(j->get_header_value("Content-Type"), "application/json");
  const json body = json::parse(j->body);
  EXPECT_EQ(body["text"], text);
  EXPECT_EQ(body["usage"]["type"], "tokens");
  EXPECT_EQ(body["usage"]["output_tokens"], 12);

  auto t = c.Post("/audio/transcriptions",
                  audio_form({{"model", "whisper-1"}, {"response_format", "text"}}, &kWav5s));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->body, text + "\n");
  EXPECT_EQ(t->get_header_value("Content-Type"), "text/plain; charset=utf-8");

  auto srt = c.Post("/v1/audio/transcriptions",
                    audio_form({{"model", "fake-model"}, {"response_format", "srt"}}, &kWav5s));
  EXPECT_EQ(srt->body.substr(0, 48), "1\n00:00:00,000 --> 00:00:02,000\nSegment 1 of 3.\n");
  EXPECT_NE(srt->body.find("3\n00:00:04,000 --> 00:00:05,000\nSegment 3 of 3.\n\n"), std::string::npos);
  auto vtt = c.Post("/v1/audio/transcriptions",
                    audio_form({{"model", "fake-model"}, {"response_format", "vtt"}}, &kWav5s));
  EXPECT_EQ(vtt->body.substr(0, 8), "WEBVTT\n\n");

  auto v = c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"},
                                                          {"response_format", "verbose_json"},
                                                          {"language", "de"},
                                                          {"timestamp_granularities[]", "segment"}},
                                                         &kWav5s));
  const json vj = json::parse(v->body);
  EXPECT_EQ(vj["task"], "transcribe");
  EXPECT_EQ(vj["language"], "german");
  EXPECT_DOUBLE_EQ(vj["duration"].get<double>(), 5.0);
  EXPECT_EQ(vj["segments"].size(), 3u);
  EXPECT_EQ(vj["segments"][2]["seek"], 400);
  EXPECT_EQ(vj["usage"]["seconds"], 5.0);

  auto l = c.Post("/v1/audio/transcriptions",
                  audio_form({{"model", "fake-model"}, {"include[]", "logprobs"}}, &kWav5s));
  EXPECT_EQ(json::parse(l->body)["logprobs"].size(), 12u);
}

TEST(Server, ChunkingStrategyReachesTheEngine) {
  TestServer s;
  auto c = s.client();
  auto r = c.Post(
      "/v1/audio/transcriptions",
      audio_form({{"model", "fake-model"}, {"chunking_strategy", R"({"type":"server_vad"})"}}, &kWav5s));
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(s.engine->last_chunking_mode, static_cast<int>(runtime::ChunkingOptions::Mode::kServerVad));
}

TEST(Server, Translation) {
  TestServer s;
  auto c = s.client();
  auto r = c.Post("/v1/audio/translations",
                  audio_form({{"model", "whisper-1"}, {"response_format", "verbose_json"}}, &kWav5s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const json j = json::parse(r->body);
  EXPECT_EQ(j["task"], "translate");
  EXPECT_EQ(j["language"], "english");
  EXPECT_EQ(j["text"], " Translated 1 of 3. Translated 2 of 3. Translated 3 of 3.");
  EXPECT_TRUE(s.engine->last_translate);
  expect_error(
      c.Post("/audio/translations", audio_form({{"model", "whisper-1"}, {"language", "de"}}, &kWav5s)), 400);
}

TEST(Server, StreamingTranscriptionEvents) {
  TestServer s;
  auto c = s.client();
  auto r =
      c.Post("/v1/audio/transcriptions",
             audio_form({{"model", "fake-model"}, {"stream", "true"}, {"include[]", "logprobs"}}, &kWav5s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  const auto events = sse_payloads(r->body);
  ASSERT_EQ(events.size(), 13u);
  std::string joined;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json e = json::parse(events[i]);
    EXPECT_EQ(e["type"], "transcript.text.delta");
    EXPECT_EQ(e["logprobs"].size(), 1u);
    joined += e["delta"].get<std::string>();
  }
  const json done = json::parse(events.back());
  EXPECT_EQ(done["type"], "transcript.text.done");
  EXPECT_EQ(done["text"], joined);
  EXPECT_EQ(done["usage"]["output_tokens"], 12);
}

TEST(Server, ChatCompletionsWithAudio) {
  TestServer s;
  auto c = s.client();
  const std::string b64 = base64(kWav5s);
  const json req = {{"model", "fake-model"},
                    {"messages",
                     {{{"role", "system"}, {"content", "Be brief."}},
                      {{"role", "user"},
                       {"content",
                        {{{"type", "text"}, {"text", "Summarise this."}},
                         {{"type", "input_audio"}, {"input_audio", {{"data", b64}, {"format", "wav"}}}}}}}}}};
  auto r = c.Post("/v1/chat/completions", req.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "fake-model");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Heard 1 audio part(s) and: Summarise this.");
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["audio_tokens"], 25);

  json sreq = req;
  sreq["stream"] = true;
  sreq["stream_options"] = {{"include_usage", true}};
  auto st = c.Post("/v1/chat/completions", sreq.dump(), "application/json");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->get_header_value("Content-Type"), "text/event-stream");
  const auto events = sse_payloads(st->body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(json::parse(events[0])["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (size_t i = 1; i + 3 < events.size(); ++i)
    text += json::parse(events[i])["choices"][0]["delta"]["content"];
  EXPECT_EQ(text, "Heard 1 audio part(s) and: Summarise this.");
  EXPECT_EQ(json::parse(events[events.size() - 3])["choices"][0]["finish_reason"], "stop");
  const json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 7);

  json bad = req;
  bad["messages"][1]["content"][1]["input_audio"]["data"] = "bm90IGF1ZGlv";  // "not audio"
  const json e = expect_error(c.Post("/v1/chat/completions", bad.dump(), "application/json"), 400);
  EXPECT_EQ(e["code"], "audio_not_audio");
  EXPECT_EQ(e["param"], "messages[1].content[1].input_audio.data");
  expect_error(c.Post("/v1/chat/completions", "{", "application/json"), 400);
  json other = req;
  other["model"] = "gpt-4o";
  expect_error(c.Post("/v1/chat/completions", other.dump(), "application/json"), 404);
}

TEST(Server, RequestErrors) {
  server::ServerOptions o;
  o.max_upload_bytes = 100000;
  TestServer s(o);
  auto c = s.client();
  EXPECT_EQ(expect_error(c.Get("/v1/nothing"), 404)["code"], "unknown_url");
  EXPECT_EQ(expect_error(c.Post("/v1/audio/transcriptions", audio_form({{"model", "gpt-99"}}, &kWav5s)),
                         404)["code"],
            "model_not_found");
  const std::string small = make_wav(1.0);
  EXPECT_EQ(expect_error(c.Post("/v1/audio/transcriptions",
                                audio_form({{"model", "fake-model"}, {"response_format", "xml"}}, &small)),
                         400)["param"],
            "response_format");
  EXPECT_EQ(expect_error(c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, nullptr)),
                         400)["param"],
            "file");
  const std::string junk = "this is not audio at all, just text";
  const json e =
      expect_error(c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &junk)), 400);
  EXPECT_EQ(e["code"], "audio_not_audio");
  EXPECT_EQ(e["param"], "file");
  expect_error(c.Post("/v1/audio/transcriptions", "{}", "application/json"), 400);
  // Media types are case-insensitive.
  const std::string form =
      "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nfake-model\r\n--B\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n" +
      small + "\r\n--B--";
  EXPECT_EQ(c.Post("/v1/audio/transcriptions", form, "Multipart/Form-Data; boundary=B")->status, 200);
  expect_error(c.Post("/v1/audio/transcriptions", "--x--", "multipart/form-data"), 400);  // no boundary
  expect_error(c.Post("/v1/audio/transcriptions", "garbage", "multipart/form-data; boundary=zz"), 400);
  // The file is over max_upload_bytes (413 from hark) and the body is over the HTTP limit (413 from the
  // library).
  const std::string big = make_wav(4.0);
  EXPECT_EQ(expect_error(c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &big)),
                         413)["code"],
            "file_too_large");
  const std::string huge(3u << 20, 'x');
  expect_error(c.Post("/v1/audio/transcriptions", huge, "application/octet-stream"), 413);
  // Still serving afterwards.
  EXPECT_EQ(c.Get("/health")->status, 200);
}

TEST(Server, ApiKey) {
  server::ServerOptions o;
  o.api_key = "sekret";
  TestServer s(o);
  auto c = s.client();
  EXPECT_EQ(c.Get("/health")->status, 200);
  EXPECT_EQ(expect_error(c.Get("/v1/models"), 401)["code"], "invalid_api_key");
  // A large upload without a key gets its 401 (not a connection reset mid-upload).
  const std::string large = make_wav(100.0);
  expect_error(c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &large)), 401);
  c.set_bearer_token_auth("wrong");
  expect_error(c.Get("/v1/models"), 401);
  c.set_bearer_token_auth("sekret");
  EXPECT_EQ(c.Get("/v1/models")->status, 200);
  EXPECT_EQ(c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &kWav5s))->status, 200);
}

TEST(Server, FullQueueIs429WithRetryAfter) {
  server::ServerOptions o;
  o.parallel = 1;
  o.queue = 0;
  TestServer s(o);
  s.engine->delay_ms_per_word = 100;
  std::thread slow([&] {
    auto c = s.client();
    EXPECT_EQ(c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &kWav5s))->status,
              200);
  });
  ASSERT_TRUE(wait_for([&] { return s.engine->running == 1; }));
  auto c = s.client();
  auto r = c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &kWav5s));
  EXPECT_EQ(expect_error(r, 429)["code"], "rate_limit_exceeded");
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  slow.join();
}

TEST(Server, DisconnectCancelsInference) {
  TestServer s;
  s.engine->delay_ms_per_word = 20;
  const std::string long_wav = make_wav(60.0);  // 30 segments x 4 words x 20 ms = 2.4 s of generation
  for (const std::string& extra : {std::string(), std::string("--B\r\nContent-Disposition: form-data; "
                                                              "name=\"stream\"\r\n\r\ntrue\r\n")}) {
    const int before = s.engine->cancelled_calls;
    const int fd = connect_raw(s.port);
    const std::string req = multipart_request("/v1/audio/transcriptions", extra, long_wav);
    ASSERT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    ASSERT_TRUE(wait_for([&] { return s.engine->running == 1; }));
    close(fd);
    EXPECT_TRUE(wait_for([&] { return s.engine->cancelled_calls == before + 1; }, 2000ms))
        << (extra.empty() ? "non-streaming" : "streaming");
    EXPECT_TRUE(wait_for([&] { return s.engine->running == 0; }));
  }
}

TEST(Server, EngineErrorsBeforeAndAfterTheStreamStarts) {
  TestServer s;
  auto c = s.client();
  const json e =
      expect_error(c.Post("/v1/audio/transcriptions",
                          audio_form({{"model", "fake-model"}, {"prompt", "fail after one word"}}, &kWav5s)),
                   400);
  EXPECT_EQ(e["code"], "resource_exhausted");
  // Once the 200 header and a delta are out, the error travels as an event the OpenAI SDKs raise.
  auto r = c.Post(
      "/v1/audio/transcriptions",
      audio_form({{"model", "fake-model"}, {"stream", "true"}, {"prompt", "fail after one word"}}, &kWav5s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const auto events = sse_payloads(r->body);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(json::parse(events[0])["type"], "transcript.text.delta");
  EXPECT_EQ(json::parse(events[1])["error"]["code"], "resource_exhausted");
}

TEST(Server, ClientLeavingTheQueueIsDropped) {
  server::ServerOptions o;
  o.parallel = 1;
  o.queue = 4;
  TestServer s(o);
  s.engine->delay_ms_per_word = 50;
  std::thread slow([&] {
    auto c = s.client();
    EXPECT_EQ(c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &kWav5s))->status,
              200);
  });
  ASSERT_TRUE(wait_for([&] { return s.engine->running == 1; }));
  const int fd = connect_raw(s.port);
  const std::string req = multipart_request("/v1/audio/transcriptions", "", kWav5s);
  ASSERT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  auto c = s.client();
  EXPECT_TRUE(
      wait_for([&] { return c.Get("/metrics")->body.find("hark_queue_depth 1") != std::string::npos; }));
  close(fd);
  EXPECT_TRUE(
      wait_for([&] { return c.Get("/metrics")->body.find("hark_queue_depth 0") != std::string::npos; }));
  slow.join();
  EXPECT_EQ(s.engine->calls, 1);  // the departed client's request never reached the engine
}

TEST(Server, HostileConnections) {
  server::ServerOptions o;
  o.read_timeout_s = 1;
  TestServer s(o);
  // A client that sends half a request line and stalls does not block others, and is dropped.
  const int slow = connect_raw(s.port);
  ASSERT_EQ(send(slow, "POST /v1/audio/tr", 17, MSG_NOSIGNAL), 17);
  auto c = s.client();
  EXPECT_EQ(c.Get("/health")->status, 200);
  char buf[256];
  timeval tv{3, 0};
  setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_GE(recv(slow, buf, sizeof buf, 0), 0);  // the server closed it (or answered 400) before 3 s
  close(slow);
  // Huge headers are refused.
  const int fd = connect_raw(s.port);
  const std::string req =
      "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n";
  send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  const ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
  if (n > 0) {
    buf[n] = 0;
    EXPECT_EQ(std::string(buf).find("200 OK"), std::string::npos) << buf;
  }
  close(fd);
  EXPECT_EQ(c.Get("/health")->status, 200);
}

TEST(Server, KeepAliveServesManyRequestsOnOneConnection) {
  TestServer s;
  auto c = s.client();
  c.set_keep_alive(true);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &kWav5s))->status,
              200);
}

TEST(Server, GracefulStopFinishesRunningRequests) {
  auto s = std::make_unique<TestServer>();
  s->engine->delay_ms_per_word = 50;
  int status = 0;
  std::thread slow([&] {
    auto c = s->client();
    auto r = c.Post("/v1/audio/transcriptions", audio_form({{"model", "fake-model"}}, &kWav5s));
    status = r ? r->status : -1;
  });
  ASSERT_TRUE(wait_for([&] { return s->engine->running == 1; }));
  s.reset();  // stop(): waits for the running request, then closes
  slow.join();
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace hark::test
