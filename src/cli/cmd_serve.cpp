// `hark serve [-m model.gguf --mmproj mmproj.gguf]`: the OpenAI-compatible HTTP server (see docs/server.md).
// Flags follow llama-server where one exists (-m, --mmproj, --host, --port, -t, -c, --parallel,
// --api-key, --alias).
#include <cstdio>
#include <memory>
#include <thread>

#include "cli/command.h"
#include "cli/model_paths.h"
#include "core/error.h"
#include "runtime/gemma4_engine.h"
#include "server/server.h"

namespace hark::cli {
namespace {

struct ServeFlags {
  std::string model;
  std::string mmproj;
  int threads = 0;
  int context = 0;
  double max_upload_mb = 25.0;
  server::ServerOptions server;
};

// Loads the model pair; a bad file stops the server before it listens, with a message naming the problem.
std::shared_ptr<runtime::Engine> load_engine(const ServeFlags& f) {
  const ModelPaths paths = resolve_model(f.model, f.mmproj);
  runtime::EngineOptions o;
  o.model_path = paths.model;
  o.mmproj_path = paths.mmproj;
  o.alias = f.server.alias;
  o.threads = f.threads;
  if (f.context > 0) o.n_ctx = f.context;
  return runtime::Gemma4Engine::load(o);
}

int run_serve(const ServeFlags& f) {
  ServeFlags flags = f;
  if (flags.max_upload_mb <= 0.0) throw Error(Errc::kInvalidArgument, "--max-upload-mb must be positive");
  flags.server.max_upload_bytes = static_cast<size_t>(flags.max_upload_mb * 1024.0 * 1024.0);
  if (flags.server.max_audio_seconds < 0.0)
    throw Error(Errc::kInvalidArgument, "--max-audio-seconds must not be negative (0 = no limit)");
  if (flags.server.port < 0 || flags.server.port > 65535)
    throw Error(Errc::kInvalidArgument, "--port must be between 0 and 65535");
  if (flags.server.read_timeout_s < 1)
    throw Error(Errc::kInvalidArgument, "--timeout must be at least 1 second");
  flags.server.write_timeout_s = flags.server.read_timeout_s;
  if (flags.threads <= 0) flags.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return server::run_server(flags.server, load_engine(flags));
}

const Command kServe(
    "serve", "Serve OpenAI's audio API (transcriptions, translations, chat with audio)", [](CLI::App& sub) {
      auto f = std::make_shared<ServeFlags>();
      sub.add_option("-m,--model", f->model, kModelHelp);
      sub.add_option("--mmproj", f->mmproj, kMmprojHelp);
      sub.add_option("--host", f->server.host, "Address to listen on")->capture_default_str();
      sub.add_option("--port", f->server.port, "Port to listen on")->capture_default_str();
      sub.add_option("-t,--threads", f->threads, "CPU threads for inference (default: all)");
      sub.add_option("-c,--ctx-size", f->context, "Context length in tokens (default: model's)");
      sub.add_option("--parallel", f->server.parallel, "Requests decoded at once")->capture_default_str();
      sub.add_option("--queue", f->server.queue, "Requests waiting beyond --parallel before 429")
          ->capture_default_str();
      sub.add_option("--api-key", f->server.api_key, "Require 'Authorization: Bearer KEY'")
          ->envname("HARK_API_KEY");
      sub.add_option("--alias", f->server.alias, "Model id to report and accept");
      sub.add_option("--max-upload-mb", f->max_upload_mb, "Largest upload in MiB")->capture_default_str();
      sub.add_option("--max-audio-seconds", f->server.max_audio_seconds,
                     "Longest audio accepted, 0 = no limit")
          ->capture_default_str();
      sub.add_option("--timeout", f->server.read_timeout_s,
                     "Seconds a client may stall while sending or receiving")
          ->capture_default_str();
      return [f] { return run_serve(*f); };
    });

}  // namespace
}  // namespace hark::cli
