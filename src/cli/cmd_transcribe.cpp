// `hark transcribe [-m MODEL.gguf --mmproj MMPROJ.gguf] AUDIO`: prints the transcript in any of the server's
// response formats (the same formatter as `hark serve`, so the output is byte for byte what the API returns).
// Long audio gets a progress bar on stderr (when stderr is a terminal), so stdout stays the response body.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "audio/decode.h"
#include "audio/mel.h"
#include "cli/command.h"
#include "cli/model_paths.h"
#include "core/error.h"
#include "runtime/gemma4_engine.h"
#include "server/formats.h"

namespace hark::cli {
namespace {

struct TranscribeArgs {
  std::string model, mmproj, audio, format = "text", language, prompt;
  float temperature = 0.0f;
  int threads = 0;
  int64_t n_ctx = 4096;
  bool translate = false, json = false, stream = false;
  bool progress = false, no_progress = false;  // force the progress bar on or off
};

constexpr double kProgressMinSeconds = 30.0;  // shorter audio finishes before a bar would help

std::string clock_time(double s) {
  const int t = static_cast<int>(s);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%d:%02d", t / 60, t % 60);
  return buf;
}

// Redraws one stderr line: "[#########-----------]  45%  2:15 / 5:00 of audio", ending it at the end.
void draw_progress(double done, double total) {
  constexpr int kWidth = 30;
  const double f = total > 0 ? std::clamp(done / total, 0.0, 1.0) : 1.0;
  const int filled = static_cast<int>(f * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '-');
  std::fprintf(stderr, "\r[%s] %3d%%  %s / %s of audio", bar.c_str(), static_cast<int>(f * 100.0),
               clock_time(done).c_str(), clock_time(total).c_str());
  if (done >= total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

server::ResponseFormat parse_format(const std::string& f) {
  if (f == "json") return server::ResponseFormat::kJson;
  if (f == "text") return server::ResponseFormat::kText;
  if (f == "srt") return server::ResponseFormat::kSrt;
  if (f == "vtt") return server::ResponseFormat::kVtt;
  if (f == "verbose_json") return server::ResponseFormat::kVerboseJson;
  throw Error(Errc::kInvalidArgument, "unknown format '" + f + "' (json, text, srt, vtt, verbose_json)");
}

int run_transcribe(const TranscribeArgs& a) {
  using clock = std::chrono::steady_clock;
  const server::ResponseFormat format = parse_format(a.format);
  const auto t0 = clock::now();
  const ModelPaths paths = resolve_model(a.model, a.mmproj);
  runtime::EngineOptions eo;
  eo.model_path = paths.model;
  eo.mmproj_path = paths.mmproj;
  eo.threads = a.threads;
  eo.n_ctx = a.n_ctx;
  const auto engine = runtime::Gemma4Engine::load(eo);
  const auto t1 = clock::now();
  audio::DecodeLimits limits;
  audio::Decoded decoded = audio::decode_file(a.audio, limits);
  if (decoded.truncated) std::fprintf(stderr, "hark: warning: %s\n", decoded.warning.c_str());
  runtime::TranscribeRequest req;
  req.pcm16k = std::move(decoded.samples);
  req.language = a.language;
  req.prompt = a.prompt;
  req.temperature = a.temperature;
  req.translate = a.translate;
  req.want_logprobs = a.json;
  runtime::Callbacks cb;
  if (a.stream && !a.json)
    cb.on_delta = [](std::string_view d, std::span<const runtime::TokenLogprob>) {
      std::fwrite(d.data(), 1, d.size(), stdout);
      std::fflush(stdout);
    };
  const double seconds = static_cast<double>(req.pcm16k.size()) / audio::kMelSampleRate;
  // Not by default with --stream: streamed text on the same terminal would be overdrawn by the bar.
  const bool streaming_text = a.stream && !a.json;
  const bool show_progress =
      !a.no_progress &&
      (a.progress || (isatty(STDERR_FILENO) && seconds > kProgressMinSeconds && !streaming_text));
  if (show_progress) cb.on_progress = draw_progress;
  const runtime::TranscribeResult r = engine->transcribe(req, cb);
  const auto t2 = clock::now();
  if (a.json) {
    nlohmann::json j;
    j["text"] = r.text;
    j["duration_s"] = r.duration;
    j["load_ms"] = std::chrono::duration<double, std::milli>(t1 - t0).count();
    j["transcribe_ms"] = std::chrono::duration<double, std::milli>(t2 - t1).count();
    j["real_time_factor"] = std::chrono::duration<double>(t2 - t1).count() / std::max(r.duration, 1e-9);
    j["usage"] = server::usage_tokens(r.usage);
    nlohmann::json segs = nlohmann::json::array();
    for (const auto& s : r.segments)
      segs.push_back({{"start", s.start},
                      {"end", s.end},
                      {"text", s.text},
                      {"tokens", s.tokens},
                      {"avg_logprob", s.avg_logprob},
                      {"no_speech_prob", s.no_speech_prob}});
    j["segments"] = segs;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  if (a.stream) {
    std::printf("\n");
    return 0;
  }
  const server::Body body = server::format_transcription(r, format, false, a.translate);
  std::fwrite(body.content.data(), 1, body.content.size(), stdout);
  if (!body.content.empty() && body.content.back() != '\n') std::printf("\n");
  return 0;
}

const Command kTranscribe("transcribe", "Transcribe (or translate) an audio file", [](CLI::App& sub) {
  auto a = std::make_shared<TranscribeArgs>();
  sub.add_option("-m,--model", a->model, kModelHelp);
  sub.add_option("--mmproj", a->mmproj, kMmprojHelp);
  sub.add_option("audio", a->audio, "Audio file (wav, mp3, flac, ogg, opus, webm, m4a, mp4, ...)")
      ->required();
  sub.add_option("-f,--format", a->format, "json, text, srt, vtt or verbose_json")->capture_default_str();
  sub.add_option("-l,--language", a->language, "Language of the audio (ISO-639-1), default: automatic");
  sub.add_option("--prompt", a->prompt, "Context: names, terms or preceding text");
  sub.add_option("--temperature", a->temperature, "0 = greedy")->capture_default_str();
  sub.add_flag("--translate", a->translate, "Translate to English");
  sub.add_flag("--json", a->json, "Print tokens, segments and timings as JSON");
  sub.add_flag("--stream", a->stream, "Print text as it is generated");
  auto* on = sub.add_flag("--progress", a->progress,
                          "Show a progress bar on stderr (default: when stderr is a terminal, the audio is "
                          "longer than 30 s and text is not streamed)");
  sub.add_flag("--no-progress", a->no_progress, "Never show the progress bar")->excludes(on);
  sub.add_option("-t,--threads", a->threads, "CPU threads (0 = all cores)");
  sub.add_option("-c,--ctx-size", a->n_ctx, "Context length in tokens")->capture_default_str();
  return [a] { return run_transcribe(*a); };
});

}  // namespace
}  // namespace hark::cli
