// `hark serve`: OpenAI's audio API (transcriptions, translations), chat completions with input_audio, model
// list, health and Prometheus metrics, over HTTP/1.1 with keep-alive, on top of a runtime::Engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/engine.h"

namespace hark::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                      // 0 = any free port (tests)
  int parallel = 1;                     // requests running inference at once
  int queue = 16;                       // requests waiting behind them; more get 429
  std::string api_key;                  // when set, every route but /health needs "Bearer <key>"
  std::string alias;                    // model id to serve under instead of the engine's
  size_t max_upload_bytes = 25u << 20;  // like OpenAI: 25 MiB
  double max_audio_seconds = 0.0;       // 0 = no limit beyond the engine's own
  int read_timeout_s = 30;              // a client slower than this between reads is dropped
  int write_timeout_s = 30;
  int keep_alive_timeout_s = 5;
  int shutdown_grace_s = 30;  // on SIGTERM, running requests get this long to finish
};

// 16 kHz mono samples of an uploaded file.
struct DecodedAudio {
  std::vector<float> pcm16k;  // [n_samples]
  std::string warning;        // e.g. "truncated to N s"; empty when none
};
// Decodes an uploaded file; throws hark::Error with an audio Errc for anything undecodable.
using AudioDecoder =
    std::function<DecodedAudio(std::span<const uint8_t> bytes, size_t max_bytes, double max_seconds)>;
// The decoder the product uses (hark::audio::decode_memory).
AudioDecoder default_audio_decoder();

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<runtime::Engine> engine, AudioDecoder decoder);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; returns the port (useful with port 0). Throws hark::Error when it cannot.
  int bind();
  // Serves until stop(); returns after every connection has finished.
  void serve();
  // Graceful stop, callable from any thread: new requests get 503, queued ones 503, running ones get
  // shutdown_grace_s to finish and are then cancelled; then the listener closes.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs the server in the foreground until SIGTERM or SIGINT, then stops gracefully. Returns an exit code.
// Prints "hark: serving MODEL on http://HOST:PORT ..." to stderr once listening (PORT is the real one when
// options.port is 0).
int run_server(const ServerOptions& options, std::shared_ptr<runtime::Engine> engine);
// The same with another audio decoder (tests).
int run_server(const ServerOptions& options, std::shared_ptr<runtime::Engine> engine, AudioDecoder decoder);

}  // namespace hark::server
