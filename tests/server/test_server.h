// An in-process hark server on a loopback port with the fake engine, and helpers to talk to it.
#pragma once

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fake_engine.h"
#include "server/server.h"

namespace hark::test {

class TestServer {
 public:
  explicit TestServer(server::ServerOptions options = {}, server::AudioDecoder decoder = fake_wav_decoder)
      : engine(std::make_shared<FakeEngine>()) {
    options.host = "127.0.0.1";
    options.port = 0;
    server = std::make_unique<server::Server>(options, engine, std::move(decoder));
    port = server->bind();
    thread = std::thread([this] { server->serve(); });
  }
  ~TestServer() {
    server->stop();
    thread.join();
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    return c;
  }

  std::shared_ptr<FakeEngine> engine;
  std::unique_ptr<server::Server> server;
  int port = 0;
  std::thread thread;
};

// A multipart form: (name, value) fields plus a file part named "file" unless `file` is null.
inline httplib::MultipartFormDataItems audio_form(
    const std::vector<std::pair<std::string, std::string>>& fields, const std::string* file) {
  httplib::MultipartFormDataItems items;
  if (file) items.push_back({"file", *file, "clip.wav", "audio/wav"});
  for (const auto& [name, value] : fields) items.push_back({name, value, "", ""});
  return items;
}

// The JSON payloads of a text/event-stream body ("data: ...\n\n" events).
inline std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find("\n\n", pos);
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end;
  }
  return out;
}

}  // namespace hark::test
