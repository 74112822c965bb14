#include "cli/bench_long.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "audio/decode.h"
#include "audio/mel.h"
#include "cli/json_file.h"
#include "core/error.h"
#include "runtime/gemma4_engine.h"

namespace hark::cli {
namespace {

// `minutes` of audio: the clips in order, again and again, each followed by `pause_s` of silence, cut at
// the length (the last clip may be cut short).
std::vector<float> build_audio(const std::vector<std::vector<float>>& clips, double minutes, double pause_s) {
  const size_t total = static_cast<size_t>(std::llround(minutes * 60.0 * audio::kMelSampleRate));
  const size_t pause = static_cast<size_t>(pause_s * audio::kMelSampleRate);
  std::vector<float> pcm;  // [total] 16 kHz mono
  pcm.reserve(total);
  for (size_t k = 0; pcm.size() < total; ++k) {
    const auto& c = clips[k % clips.size()];
    pcm.insert(pcm.end(), c.begin(),
               c.begin() + static_cast<std::ptrdiff_t>(std::min(c.size(), total - pcm.size())));
    pcm.resize(std::min(total, pcm.size() + pause), 0.0f);
  }
  return pcm;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// User + system CPU seconds of this process, all threads: on a shared machine less disturbed by other jobs
// than wall time.
double cpu_seconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// This process's resident memory in MiB, split as the kernel counts it: anonymous (heap, buffers, KV cache)
// and file-backed (pages of the memory-mapped model that have been touched). Zeros where unreadable.
struct Rss {
  double anon_mb = 0, file_mb = 0;
};
Rss read_rss() {
  Rss r;
  std::ifstream f("/proc/self/status");
  std::string key;
  double kb = 0;
  while (f >> key) {
    if (key == "RssAnon:" && f >> kb) r.anon_mb = kb / 1024.0;
    if (key == "RssFile:" && f >> kb) r.file_mb = kb / 1024.0;
  }
  return r;
}

// In the child: load, build the audio, transcribe; the result as one JSON object.
nlohmann::json run_one(const LongBenchArgs& a, const std::vector<std::vector<float>>& clips, double minutes) {
  const auto t0 = std::chrono::steady_clock::now();
  runtime::EngineOptions eo;
  eo.model_path = a.model;
  eo.mmproj_path = a.mmproj;
  eo.threads = a.threads;
  if (a.max_tokens_per_window > 0) {
    eo.max_tokens_base = a.max_tokens_per_window;
    eo.max_tokens_per_second = 0;
  }
  const auto engine = runtime::Gemma4Engine::load(eo);
  const double load_s = seconds_since(t0);
  runtime::TranscribeRequest req;
  req.pcm16k = build_audio(clips, minutes, a.pause_s);
  const double pcm_mb = static_cast<double>(req.pcm16k.size() * sizeof(float)) / (1024.0 * 1024.0);
  const auto t1 = std::chrono::steady_clock::now();
  const double c1 = cpu_seconds();
  // Sampled after every window: ru_maxrss says how much but not what, and a memory-mapped model's pages
  // count in it as they are first touched.
  Rss peak = read_rss();
  runtime::Callbacks cb;
  cb.on_progress = [&](double, double) {
    const Rss now = read_rss();
    peak.anon_mb = std::max(peak.anon_mb, now.anon_mb);
    peak.file_mb = std::max(peak.file_mb, now.file_mb);
  };
  const runtime::TranscribeResult r = engine->transcribe(req, cb);
  const double wall = seconds_since(t1), cpu = cpu_seconds() - c1;
  return {{"audio_minutes", minutes},
          {"threads", engine->pool().size()},
          {"windows", r.windows},
          {"segments", r.segments.size()},
          {"output_tokens", r.usage.output_tokens},
          {"audio_tokens", r.usage.input_audio_tokens},
          {"load_s", load_s},
          {"wall_s", wall},
          {"s_per_audio_minute", wall / minutes},
          {"s_per_window", r.windows > 0 ? wall / r.windows : 0.0},
          {"cpu_s", cpu},
          {"cpu_s_per_audio_minute", cpu / minutes},
          {"cpu_s_per_window", r.windows > 0 ? cpu / r.windows : 0.0},
          {"pcm_mb", pcm_mb},
          {"peak_anon_mb", peak.anon_mb},
          {"peak_file_mb", peak.file_mb}};
}

// Runs run_one in a forked child and reads its JSON back through a pipe; adds the child's peak RSS.
nlohmann::json run_in_child(const LongBenchArgs& a, const std::vector<std::vector<float>>& clips,
                            double minutes) {
  int fds[2];
  if (pipe(fds) != 0) throw Error(Errc::kIo, "pipe failed");
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw Error(Errc::kIo, "fork failed");
  if (pid == 0) {
    close(fds[0]);
    int code = 0;
    std::string out;
    try {
      out = run_one(a, clips, minutes).dump();
    } catch (const std::exception& e) {
      out = nlohmann::json{{"error", e.what()}}.dump();
      code = 1;
    }
    for (size_t off = 0; off < out.size();) {
      const ssize_t n = write(fds[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(fds[1]);
    _exit(code);
  }
  close(fds[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) != pid) throw Error(Errc::kIo, "wait4 failed");
  const nlohmann::json j = nlohmann::json::parse(got, nullptr, false);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || j.is_discarded() || j.contains("error"))
    throw Error(Errc::kInternal, "the " + std::to_string(minutes) + "-minute run failed: " +
                                     (j.is_object() && j.contains("error") ? j["error"].get<std::string>()
                                                                           : "child exited abnormally"));
  nlohmann::json out = j;
  out["peak_rss_mb"] = static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux: kilobytes
  // The decoded input is held whole (4 bytes a sample); what is left is the pipeline's own peak.
  out["peak_rss_minus_pcm_mb"] = out["peak_rss_mb"].get<double>() - out["pcm_mb"].get<double>();
  return out;
}

}  // namespace

int run_long_bench(const LongBenchArgs& a) {
  if (a.clips.empty()) throw Error(Errc::kInvalidArgument, "--audio-minutes needs at least one speech clip");
  std::vector<std::vector<float>> clips;
  for (const auto& path : a.clips) {
    clips.push_back(audio::decode_file(path, {}).samples);
    if (clips.back().empty()) throw Error(Errc::kAudioEmpty, path + " has no samples");
  }
  nlohmann::json runs = nlohmann::json::array();
  std::printf("%8s %8s %9s %12s %10s %12s %10s %10s %12s %10s %10s\n", "minutes", "windows", "wall s",
              "s/audio min", "s/window", "cpu s/min", "cpu s/win", "peak MB", "peak-pcm MB", "anon MB",
              "file MB");
  for (double m : a.minutes) {
    const nlohmann::json r = run_in_child(a, clips, m);
    std::printf("%8.2f %8d %9.2f %12.3f %10.3f %12.3f %10.3f %10.1f %12.1f %10.1f %10.1f\n", m,
                r["windows"].get<int>(), r["wall_s"].get<double>(), r["s_per_audio_minute"].get<double>(),
                r["s_per_window"].get<double>(), r["cpu_s_per_audio_minute"].get<double>(),
                r["cpu_s_per_window"].get<double>(), r["peak_rss_mb"].get<double>(),
                r["peak_rss_minus_pcm_mb"].get<double>(), r["peak_anon_mb"].get<double>(),
                r["peak_file_mb"].get<double>());
    std::fflush(stdout);
    runs.push_back(r);
  }
  const nlohmann::json j = {
      {"model", a.model}, {"mmproj", a.mmproj},   {"max_tokens_per_window", a.max_tokens_per_window},
      {"clips", a.clips}, {"pause_s", a.pause_s}, {"runs", runs}};
  std::printf("%s\n", j.dump().c_str());
  if (!a.json_out.empty()) write_json_file(a.json_out, j);
  return 0;
}

}  // namespace hark::cli
