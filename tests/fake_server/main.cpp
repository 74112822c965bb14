// hark_fake_server: the real HTTP server and audio decoder on the fake engine, for the black-box OpenAI SDK
// test (tests/server/openai_sdk_test.mjs) until `hark serve` runs the real model. Test-only.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "core/error.h"
#include "fake_engine.h"
#include "server/server.h"

int main(int argc, char** argv) {
  CLI::App app{"hark server on a fake engine (tests only)"};
  hark::server::ServerOptions o;
  o.port = 0;
  double max_upload_mb = 25.0;
  int delay_ms = 0;
  app.add_option("--port", o.port);
  app.add_option("--api-key", o.api_key);
  app.add_option("--alias", o.alias);
  app.add_option("--parallel", o.parallel);
  app.add_option("--queue", o.queue);
  app.add_option("--max-upload-mb", max_upload_mb);
  app.add_option("--delay-ms", delay_ms, "Milliseconds per generated word");
  CLI11_PARSE(app, argc, argv);
  o.max_upload_bytes = static_cast<size_t>(max_upload_mb * 1024 * 1024);
  auto engine = std::make_shared<hark::test::FakeEngine>();
  engine->delay_ms_per_word = delay_ms;
  try {
    return hark::server::run_server(o, engine);
  } catch (const hark::Error& e) {
    std::fprintf(stderr, "hark_fake_server: %s\n", e.what());
    return 1;
  }
}
