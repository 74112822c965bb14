#include "server/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <set>
#include <thread>

#include "core/error.h"
#include "server/admission.h"
#include "server/api_error.h"
#include "server/audio_request.h"
#include "server/chat.h"
#include "server/formats.h"
#include "server/metrics.h"
#include "server/multipart.h"
#include "server/peer.h"

namespace hark::server {
namespace {

using httplib::Request;
using httplib::Response;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// cpp-httplib 0.11 parses multipart bodies itself and offers no raw-body access for them, but hark parses
// forms with its own (fuzzed, size-bounded) parser. So before the body is read, the pre-routing handler
// moves a multipart Content-Type to this private header; the library then stores the body verbatim.
constexpr const char* kFormContentType = "X-Hark-Form-Content-Type";

// Names OpenAI clients send for transcription; all are served by the loaded model, so apps that hard-code
// "whisper-1" work by changing the base URL alone.
const std::set<std::string, std::less<>> kOpenAiAudioModels = {"whisper-1", "gpt-transcribe",
                                                               "gpt-4o-transcribe", "gpt-4o-mini-transcribe",
                                                               "gpt-4o-mini-transcribe-2025-12-15"};

// Form fields besides the file are small; this bounds them on top of max_upload_bytes.
constexpr size_t kFormOverheadBytes = 1u << 20;

// Start of the request this connection thread is serving (each connection is served by one thread).
thread_local Clock::time_point t_request_start;

void send_error(Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(error_body(e), "application/json");
  if (e.status == 429 || e.status == 503) res.set_header("Retry-After", "1");
}

// A header value must not carry line breaks (they would split the response's header block).
std::string header_safe(std::string s) {
  for (char& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return s;
}

std::string route_label(const std::string& path) {
  static const std::set<std::string, std::less<>> known = {"/v1/audio/transcriptions",
                                                           "/audio/transcriptions",
                                                           "/v1/audio/translations",
                                                           "/audio/translations",
                                                           "/v1/chat/completions",
                                                           "/chat/completions",
                                                           "/v1/models",
                                                           "/models",
                                                           "/health",
                                                           "/metrics"};
  if (known.count(path)) return path;
  if (path.starts_with("/v1/models/")) return "/v1/models/{id}";
  return "other";
}

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += hex[rng() % 16];
  return id;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, std::shared_ptr<runtime::Engine> e, AudioDecoder d)
      : opt(std::move(o)), engine(std::move(e)), decode(std::move(d)), admission(opt.parallel, opt.queue) {}

  ServerOptions opt;
  std::shared_ptr<runtime::Engine> engine;
  AudioDecoder decode;
  httplib::Server http;
  Admission admission;
  Metrics metrics;
  std::atomic<bool> stopping{false};
  std::atomic<bool> serve_called{false}, serve_returned{false};  // see stop()
  std::atomic<bool> cancel_all{false};                           // set when the shutdown grace period is over
  const int64_t created = static_cast<int64_t>(std::time(nullptr));

  std::string model_id() const { return opt.alias.empty() ? engine->model_id() : opt.alias; }

  void check_model(const std::string& model, bool audio_route) const {
    if (model == model_id() || model == engine->model_id()) return;
    if (audio_route && kOpenAiAudioModels.count(model)) return;
    throw ApiError(404, "invalid_request_error", "model_not_found", "model",
                   "The model '" + model + "' does not exist; this server serves '" + model_id() + "'");
  }

  void check_ready() const {
    if (stopping) throw ApiError(503, "server_error", "shutting_down", "", "the server is shutting down");
    if (!engine->ready())
      throw ApiError(503, "server_error", "model_loading", "", "the model is still loading");
  }

  Admission::Slot admit(const std::function<bool()>& cancelled) {
    Admission::Slot slot;
    switch (admission.acquire(cancelled, slot)) {
      case Admission::Result::kAdmitted:
        return slot;
      case Admission::Result::kQueueFull:
        throw ApiError(429, "requests", "rate_limit_exceeded", "",
                       "the server is busy (" + std::to_string(opt.parallel) + " running, " +
                           std::to_string(opt.queue) + " queued); retry shortly");
      case Admission::Result::kStopping:
        break;
      case Admission::Result::kCancelled:
        throw Error(Errc::kCancelled, "the client disconnected while queued");
    }
    throw ApiError(503, "server_error", "shutting_down", "", "the server is shutting down");
  }

  DecodedAudio decode_upload(std::string_view bytes, const std::string& param) {
    try {
      DecodedAudio a = decode({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                              opt.max_upload_bytes, opt.max_audio_seconds);
      metrics.add_audio_seconds(static_cast<double>(a.pcm16k.size()) / 16000.0);
      return a;
    } catch (const Error& e) {
      throw from_error(e, param);
    }
  }

  // With --api-key, every route but /health needs "Authorization: Bearer <key>". Checked in the route, after
  // the body was read: answering before it would close a connection the client is still sending on, and
  // the client would see a reset instead of the 401.
  void check_api_key(const Request& req) const {
    if (opt.api_key.empty()) return;
    const std::string auth = req.get_header_value("Authorization");
    const bool bearer = auth.rfind("Bearer ", 0) == 0;
    if (!bearer || !constant_time_equal(auth.substr(7), opt.api_key))
      throw ApiError(401, "invalid_request_error", "invalid_api_key", "",
                     bearer ? "Incorrect API key provided"
                            : "You didn't provide an API key; send 'Authorization: Bearer <key>'");
  }

  // Wraps a route so that every failure ends as an OpenAI error object; `open` routes need no API key.
  template <typename Fn>
  httplib::Server::Handler guarded(Fn fn, bool open = false) {
    return [this, fn, open](const Request& req, Response& res) {
      try {
        if (!open) check_api_key(req);
        fn(req, res);
      } catch (const ApiError& e) {
        send_error(res, e);
        if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
      } catch (const Error& e) {
        send_error(res, from_error(e));
      } catch (const std::exception& e) {
        send_error(res, ApiError(500, "server_error", "internal_error", "",
                                 std::string("internal error: ") + e.what()));
      }
    };
  }

  void setup();
  void handle_audio(const Request& req, Response& res, bool translation);
  void handle_chat(const Request& req, Response& res);
  void stream_transcription(Response& res, std::shared_ptr<runtime::TranscribeRequest> request,
                            Admission::Slot slot, std::shared_ptr<PeerProbe> probe, bool logprobs);
  void stream_chat(Response& res, std::shared_ptr<runtime::ChatRequest> request, Admission::Slot slot,
                   std::shared_ptr<PeerProbe> probe, bool include_usage);
};

void Server::Impl::handle_audio(const Request& req, Response& res, bool translation) {
  check_ready();
  const std::string content_type = req.get_header_value(kFormContentType);
  if (content_type.empty())
    throw invalid_param(
        "", "expected a multipart/form-data body (Content-Type: multipart/form-data; boundary=...)",
        "invalid_content_type");
  if (req.body.size() > opt.max_upload_bytes + kFormOverheadBytes)
    throw ApiError(
        413, "invalid_request_error", "file_too_large", "file",
        "the upload is larger than the limit of " + std::to_string(opt.max_upload_bytes) + " bytes");
  const std::vector<FormPart> parts = parse_multipart(req.body, multipart_boundary(content_type));
  const AudioRequest ar = parse_audio_request(parts, translation);
  check_model(ar.model, /*audio_route=*/true);
  if (ar.file.size() > opt.max_upload_bytes)
    throw ApiError(413, "invalid_request_error", "file_too_large", "file",
                   "the file is " + std::to_string(ar.file.size()) + " bytes, over the limit of " +
                       std::to_string(opt.max_upload_bytes));

  auto probe = std::make_shared<PeerProbe>(req.local_port, req.remote_addr, req.remote_port);
  Admission::Slot slot = admit([probe] { return probe->gone(); });
  DecodedAudio audio = decode_upload(ar.file, "file");
  if (!audio.warning.empty()) res.set_header("X-Hark-Warning", header_safe(audio.warning));

  auto request = std::make_shared<runtime::TranscribeRequest>();
  request->pcm16k = std::move(audio.pcm16k);
  request->language = ar.language;
  request->prompt = ar.prompt;
  request->temperature = ar.temperature;
  request->translate = translation;
  request->want_logprobs = ar.logprobs;
  request->chunking = ar.chunking;
  if (ar.stream) {
    stream_transcription(res, request, std::move(slot), probe, ar.logprobs);
    return;
  }
  runtime::Callbacks callbacks;
  callbacks.cancelled = [this, probe] { return cancel_all || probe->gone(); };
  const runtime::TranscribeResult r = engine->transcribe(*request, callbacks);
  metrics.add_usage(r.usage);
  const Body body = format_transcription(r, ar.format, ar.logprobs, translation);
  res.set_content(body.content, body.content_type);
}

// Shared by the two streaming routes: writes server-sent events and remembers a failed write, which means
// the client is gone and generation should stop.
struct EventWriter {
  httplib::DataSink& sink;
  bool failed = false;
  void write(const std::string& s) {
    if (!failed && !sink.write(s.data(), s.size())) failed = true;
  }
  // Errors after the 200 header went out travel in the stream, in the shape OpenAI's SDKs raise.
  void error(const ApiError& e) { write("data: " + error_body(e) + "\n\n"); }
  // Runs the generation of one stream; a failure becomes an in-stream error event, except a cancellation,
  // which means nobody is listening.
  template <typename F>
  void run(F&& generate) {
    try {
      generate();
    } catch (const Error& e) {
      if (e.code() != Errc::kCancelled) error(from_error(e));
    } catch (const std::exception& e) {
      error(ApiError(500, "server_error", "internal_error", "", std::string("internal error: ") + e.what()));
    }
  }
};

void Server::Impl::stream_transcription(Response& res, std::shared_ptr<runtime::TranscribeRequest> request,
                                        Admission::Slot slot, std::shared_ptr<PeerProbe> probe,
                                        bool logprobs) {
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [this, request, slot, probe, logprobs](size_t, httplib::DataSink& sink) mutable {
        EventWriter out{sink};
        runtime::Callbacks callbacks;
        callbacks.on_delta = [&](std::string_view delta, std::span<const runtime::TokenLogprob> lp) {
          out.write(sse(delta_event(delta, lp, logprobs)));
        };
        callbacks.cancelled = [&] { return out.failed || cancel_all || probe->gone(); };
        out.run([&] {
          const runtime::TranscribeResult r = engine->transcribe(*request, callbacks);
          metrics.add_usage(r.usage);
          out.write(sse(done_event(r, logprobs)));
        });
        slot.reset();
        sink.done();
        return true;
      });
}

void Server::Impl::handle_chat(const Request& req, Response& res) {
  check_ready();
  const ChatInput in = parse_chat_request(req.body);
  check_model(in.model, /*audio_route=*/false);

  auto probe = std::make_shared<PeerProbe>(req.local_port, req.remote_addr, req.remote_port);
  Admission::Slot slot = admit([probe] { return probe->gone(); });
  auto request = std::make_shared<runtime::ChatRequest>();
  request->temperature = in.temperature;
  request->max_tokens = in.max_tokens;
  for (size_t m = 0; m < in.messages.size(); ++m) {
    runtime::ChatMessage msg{in.messages[m].role, {}};
    for (size_t p = 0; p < in.messages[m].parts.size(); ++p) {
      const ChatInput::Part& part = in.messages[m].parts[p];
      runtime::ChatPart out{part.kind, part.text, {}};
      if (part.kind == runtime::ChatPart::Kind::kAudio) {
        if (part.audio.size() > opt.max_upload_bytes)
          throw ApiError(
              413, "invalid_request_error", "file_too_large", "messages",
              "an input_audio part is over the limit of " + std::to_string(opt.max_upload_bytes) + " bytes");
        const std::string param =
            "messages[" + std::to_string(m) + "].content[" + std::to_string(p) + "].input_audio.data";
        out.pcm16k = decode_upload(part.audio, param).pcm16k;
      }
      msg.parts.push_back(std::move(out));
    }
    request->messages.push_back(std::move(msg));
  }
  if (in.stream) {
    stream_chat(res, request, std::move(slot), probe, in.include_usage);
    return;
  }
  runtime::Callbacks callbacks;
  callbacks.cancelled = [this, probe] { return cancel_all || probe->gone(); };
  const runtime::ChatResult r = engine->chat(*request, callbacks);
  metrics.add_usage(r.usage);
  res.set_content(
      dump(chat_completion(r, random_id("chatcmpl-"), static_cast<int64_t>(std::time(nullptr)), model_id())),
      "application/json");
}

void Server::Impl::stream_chat(Response& res, std::shared_ptr<runtime::ChatRequest> request,
                               Admission::Slot slot, std::shared_ptr<PeerProbe> probe, bool include_usage) {
  res.set_header("Cache-Control", "no-cache");
  const std::string id = random_id("chatcmpl-");
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const std::string model = model_id();
  res.set_chunked_content_provider(
      "text/event-stream", [this, request, slot, probe, include_usage, id, created = now, model](
                               size_t, httplib::DataSink& sink) mutable {
        EventWriter out{sink};
        // OpenAI's first chunk announces the role with empty content; text follows in later chunks.
        out.write(
            sse(chat_chunk(id, created, model, {{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}},
                           std::nullopt, include_usage)));
        runtime::Callbacks callbacks;
        callbacks.on_delta = [&](std::string_view delta, std::span<const runtime::TokenLogprob>) {
          if (!delta.empty())
            out.write(sse(chat_chunk(id, created, model, {{"content", std::string(delta)}}, std::nullopt,
                                     include_usage)));
        };
        callbacks.cancelled = [&] { return out.failed || cancel_all || probe->gone(); };
        out.run([&] {
          const runtime::ChatResult r = engine->chat(*request, callbacks);
          metrics.add_usage(r.usage);
          out.write(sse(chat_chunk(id, created, model, json::object(), r.finish_reason, include_usage)));
          if (include_usage) out.write(sse(chat_usage_chunk(id, created, model, r.usage)));
          out.write("data: [DONE]\n\n");
        });
        slot.reset();
        sink.done();
        return true;
      });
}

void Server::Impl::setup() {
  // Connection threads: every running and queued request holds one, plus a few for health checks and
  // idle keep-alive connections. Connections beyond wait in the library's accept queue.
  const size_t threads = static_cast<size_t>(opt.parallel + opt.queue + 4);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_read_timeout(opt.read_timeout_s, 0);
  http.set_write_timeout(opt.write_timeout_s, 0);
  http.set_keep_alive_timeout(opt.keep_alive_timeout_s);
  // Chat carries audio as base64 (4/3 of the bytes) in JSON; forms are bounded again per route.
  http.set_payload_max_length(opt.max_upload_bytes / 3 * 4 + 4 + kFormOverheadBytes);

  http.set_pre_routing_handler([](const Request& req, Response& res) {
    t_request_start = Clock::now();
    // See kFormContentType. The Request object is not const (the library owns it mutably); only the
    // handler signature is, so this edit is well-defined.
    auto& mutable_req = const_cast<Request&>(req);
    mutable_req.headers.erase(kFormContentType);
    const std::string content_type = req.get_header_value("Content-Type");
    std::string media_type = content_type.substr(0, 19);
    for (char& ch : media_type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (media_type == "multipart/form-data") {
      mutable_req.headers.erase("Content-Type");
      mutable_req.headers.emplace("Content-Type", "application/octet-stream");
      mutable_req.headers.emplace(kFormContentType, content_type);
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Errors the library produces itself (no route, body too large, unparsable request) get OpenAI's shape.
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404)
      send_error(res, ApiError(404, "invalid_request_error", "unknown_url", "",
                               "Invalid URL (" + req.method + " " + req.path.substr(0, 200) + ")"));
    else if (res.status == 413)
      send_error(res, ApiError(413, "invalid_request_error", "request_too_large", "",
                               "the request body is larger than this server accepts"));
    else if (res.status >= 500)
      send_error(res,
                 ApiError(res.status, "server_error", "", "", "the server could not handle the request"));
    else
      send_error(res, ApiError(res.status, "invalid_request_error", "", "", "the HTTP request is malformed"));
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
    send_error(res, ApiError(500, "server_error", "internal_error", "", "internal error"));
  });
  http.set_logger([this](const Request& req, const Response& res) {
    const double seconds = std::chrono::duration<double>(Clock::now() - t_request_start).count();
    metrics.observe_request(route_label(req.path), res.status, seconds);
  });

  auto transcribe = guarded([this](const Request& req, Response& res) { handle_audio(req, res, false); });
  auto translate = guarded([this](const Request& req, Response& res) { handle_audio(req, res, true); });
  auto chat = guarded([this](const Request& req, Response& res) { handle_chat(req, res); });
  http.Post("/v1/audio/transcriptions", transcribe);
  http.Post("/audio/transcriptions", transcribe);
  http.Post("/v1/audio/translations", translate);
  http.Post("/audio/translations", translate);
  http.Post("/v1/chat/completions", chat);
  http.Post("/chat/completions", chat);

  auto model_object = [this] {
    return json{{"id", model_id()}, {"object", "model"}, {"created", created}, {"owned_by", "hark"}};
  };
  auto models = guarded([model_object](const Request&, Response& res) {
    res.set_content(dump({{"object", "list"}, {"data", json::array({model_object()})}}), "application/json");
  });
  http.Get("/v1/models", models);
  http.Get("/models", models);
  http.Get(R"(/v1/models/(.+))", guarded([this, model_object](const Request& req, Response& res) {
             if (req.matches[1] != model_id())
               throw ApiError(404, "invalid_request_error", "model_not_found", "model",
                              "The model '" + std::string(req.matches[1]) + "' does not exist");
             res.set_content(dump(model_object()), "application/json");
           }));
  http.Get("/health",
           guarded(
               [this](const Request&, Response& res) {
                 if (stopping)
                   throw ApiError(503, "server_error", "shutting_down", "", "the server is shutting down");
                 if (!engine->ready())
                   throw ApiError(503, "server_error", "model_loading", "", "the model is still loading");
                 res.set_content(R"({"status":"ok"})", "application/json");
               },
               /*open=*/true));
  http.Get("/metrics", guarded([this](const Request&, Response& res) {
             res.set_content(metrics.render(admission.running(), admission.waiting(), engine->ready()),
                             "text/plain; version=0.0.4; charset=utf-8");
           }));
}

Server::Server(ServerOptions options, std::shared_ptr<runtime::Engine> engine, AudioDecoder decoder)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(engine), std::move(decoder))) {
  if (impl_->opt.parallel < 1) throw Error(Errc::kInvalidArgument, "--parallel must be at least 1");
  if (impl_->opt.queue < 0) throw Error(Errc::kInvalidArgument, "--queue must not be negative");
  impl_->setup();
}

Server::~Server() = default;

int Server::bind() {
  // The library writes with plain send(); a client that vanishes mid-response must cost an EPIPE, not the
  // process.
  ::signal(SIGPIPE, SIG_IGN);
  const ServerOptions& o = impl_->opt;
  int port = o.port;
  if (port == 0)
    port = impl_->http.bind_to_any_port(o.host);
  else if (!impl_->http.bind_to_port(o.host, port))
    port = -1;
  if (port <= 0)
    throw Error(Errc::kIo, "cannot listen on " + o.host + ":" + std::to_string(o.port) +
                               " (address in use or not local?)");
  return port;
}

void Server::serve() {
  impl_->serve_called = true;
  if (!impl_->stopping) impl_->http.listen_after_bind();
  impl_->serve_returned = true;
}

void Server::stop() {
  if (impl_->stopping.exchange(true)) return;
  impl_->admission.stop();
  if (!impl_->admission.wait_idle(std::chrono::seconds(impl_->opt.shutdown_grace_s))) {
    impl_->cancel_all = true;
    impl_->admission.wait_idle(std::chrono::seconds(10));
  }
  // httplib's stop() does nothing until the accept loop runs (and must not be repeated once it has acted),
  // and a stop can come between bind() and that moment: SIGTERM right after the "serving" line, a test
  // server destroyed at once. serve() checks `stopping` after setting `serve_called`, so either it never
  // enters the loop or it is seen here, and then this waits for the loop to run before stopping it.
  for (;;) {
    if (impl_->http.is_running()) {
      impl_->http.stop();
      break;
    }
    if (!impl_->serve_called || impl_->serve_returned) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int run_server(const ServerOptions& options, std::shared_ptr<runtime::Engine> engine) {
  return run_server(options, std::move(engine), default_audio_decoder());
}

namespace {
// Write end of the shutdown pipe; the signal handler only writes a byte (async-signal-safe).
int g_shutdown_pipe = -1;
extern "C" void on_shutdown_signal(int) {
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::write(g_shutdown_pipe, &byte, 1);
}
}  // namespace

int run_server(const ServerOptions& options, std::shared_ptr<runtime::Engine> engine, AudioDecoder decoder) {
  // SIGTERM/SIGINT: a handler (not sigwait) because threads started before this call, such as the engine's
  // pool, do not block the signals and may be the ones that receive them. The handler wakes a thread through
  // a pipe, and that thread stops the server.
  int fds[2];
  if (::pipe(fds) != 0) throw Error(Errc::kIo, "cannot create the shutdown pipe");
  g_shutdown_pipe = fds[1];
  struct sigaction action {};
  action.sa_handler = on_shutdown_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);

  Server server(options, engine, std::move(decoder));
  const int port = server.bind();
  std::fprintf(stderr, "hark: serving %s on http://%s:%d (parallel %d, queue %d)\n",
               options.alias.empty() ? engine->model_id().c_str() : options.alias.c_str(),
               options.host.c_str(), port, options.parallel, options.queue);
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    char byte;
    while (::read(fds[0], &byte, 1) < 0 && errno == EINTR) {
    }
    if (done) return;
    std::fprintf(stderr, "hark: stopping (finishing running requests, up to %d s)\n",
                 options.shutdown_grace_s);
    server.stop();
  });
  server.serve();
  // serve() returned without a signal (listener failure): wake the waiter so it can be joined.
  done = true;
  on_shutdown_signal(0);
  waiter.join();
  ::signal(SIGTERM, SIG_DFL);
  ::signal(SIGINT, SIG_DFL);
  ::close(fds[0]);
  ::close(fds[1]);
  std::fprintf(stderr, "hark: stopped\n");
  return 0;
}

}  // namespace hark::server
