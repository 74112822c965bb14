// `hark bench -m MODEL --mmproj MMPROJ [AUDIO]`: times each stage of transcribing one clip (mel, encoder,
// prefill, a fixed number of decode steps that ignore end of turn) and prints medians over repetitions as a
// table and as JSON, with peak RSS. Without AUDIO it uses 30 s of a synthetic tone-and-noise signal.
// Then the whole pipeline: one request alone and --concurrent requests at once, as the server runs them.
// With --audio-minutes it times the whole long-audio pipeline instead (cli/bench_long.h).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "audio/decode.h"
#include "audio/mel.h"
#include "cli/bench_long.h"
#include "cli/command.h"
#include "cli/json_file.h"
#include "core/error.h"
#include "runtime/gemma4_engine.h"

namespace hark::cli {
namespace {

struct BenchArgs {
  std::string model, mmproj, json_out;
  std::vector<std::string> audio;
  int threads = 0, reps = 3, n_gen = 64, max_tokens_per_window = 0, concurrent = 2;
  double seconds = 30.0;
  std::vector<double> audio_minutes;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// `n` transcriptions of `pcm` started together, each on its own thread as the server's request threads
// are: wall time until the last one ends, and the tokens each produced.
nlohmann::json time_requests(runtime::Gemma4Engine& e, const std::vector<float>& pcm, int n) {
  runtime::TranscribeRequest req;
  req.pcm16k = pcm;
  std::vector<runtime::TranscribeResult> results(static_cast<size_t>(n));
  std::vector<std::string> errors(static_cast<size_t>(n));
  const double t = now_ms();
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      try {
        results[static_cast<size_t>(i)] = e.transcribe(req, {});
      } catch (const std::exception& ex) {
        errors[static_cast<size_t>(i)] = ex.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  const double ms = now_ms() - t;
  nlohmann::json tokens = nlohmann::json::array();
  for (int i = 0; i < n; ++i) {
    if (!errors[static_cast<size_t>(i)].empty())
      throw Error(Errc::kInternal, "bench request failed: " + errors[static_cast<size_t>(i)]);
    tokens.push_back(results[static_cast<size_t>(i)].usage.output_tokens);
  }
  return {{"requests", n}, {"wall_ms", ms}, {"output_tokens", tokens}};
}

int run_bench(const BenchArgs& a) {
  if (!a.audio_minutes.empty())
    return run_long_bench(
        {a.model, a.mmproj, a.json_out, a.audio, a.audio_minutes, a.threads, a.max_tokens_per_window});
  if (a.audio.size() > 1)
    throw Error(Errc::kInvalidArgument, "one clip at a time (several clips are for --audio-minutes)");
  runtime::EngineOptions eo;
  eo.model_path = a.model;
  eo.mmproj_path = a.mmproj;
  eo.threads = a.threads;
  eo.n_ctx = 8192;
  eo.max_tokens_base = a.n_gen;  // the pipeline rows generate at most as many tokens as the decode row
  eo.max_tokens_per_second = 0;
  const double t_load = now_ms();
  const auto e = runtime::Gemma4Engine::load(eo);
  const double load_ms = now_ms() - t_load;
  std::vector<float> pcm;
  if (!a.audio.empty()) {
    pcm = audio::decode_file(a.audio[0], {}).samples;
  } else {
    pcm.resize(static_cast<size_t>(a.seconds * audio::kMelSampleRate));
    uint32_t s = 1;
    for (size_t i = 0; i < pcm.size(); ++i) {
      s = s * 1664525u + 1013904223u;
      pcm[i] = 0.1f * std::sin(0.05f * static_cast<float>(i % 16000)) +
               0.01f * ((s >> 8) * (1.0f / 16777216.0f) - 0.5f);
    }
  }
  const double duration = static_cast<double>(pcm.size()) / audio::kMelSampleRate;
  std::vector<double> mel_ms, enc_ms, prefill_ms, decode_ms;
  int64_t n_prompt = 0, n_audio = 0;
  for (int rep = 0; rep < a.reps; ++rep) {
    double t = now_ms();
    const auto mel = audio::gemma4_log_mel(pcm, &e->pool());
    mel_ms.push_back(now_ms() - t);
    t = now_ms();
    std::vector<std::vector<std::vector<float>>> rows(1);
    for (const auto& m : mel) rows[0].push_back(e->encoder().encode(m.data, m.n_frames, e->pool()));
    enc_ms.push_back(now_ms() - t);
    text::AudioInput in;
    n_audio = 0;
    for (const auto& r : rows[0]) {
      in.chunk_rows.push_back(
          static_cast<int32_t>(r.size() / static_cast<size_t>(e->text_model().hparams().n_embd)));
      n_audio += in.chunk_rows.back();
    }
    const text::Prompt prompt = text::llama_server_transcription_prompt(e->tokenizer(), in);
    n_prompt = prompt.n_positions();
    std::vector<float> logits;
    t = now_ms();
    gemma4::KvCache cache = e->prefill(prompt, rows, logits);
    prefill_ms.push_back(now_ms() - t);
    t = now_ms();
    for (int i = 0; i < a.n_gen; ++i) {
      const int32_t next =
          static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      const gemma4::Input inp = gemma4::Input::tok(next, true);
      e->text_model().forward(cache, std::span<const gemma4::Input>(&inp, 1), logits, e->pool());
    }
    decode_ms.push_back(now_ms() - t);
  }
  const nlohmann::json single = time_requests(*e, pcm, 1);
  const nlohmann::json together = a.concurrent > 0 ? time_requests(*e, pcm, a.concurrent) : nlohmann::json();
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const double mel = median(mel_ms), enc = median(enc_ms), pre = median(prefill_ms), dec = median(decode_ms);
  nlohmann::json j = {{"model", a.model},
                      {"mmproj", a.mmproj},
                      {"threads", e->pool().size()},
                      {"audio_seconds", duration},
                      {"audio_tokens", n_audio},
                      {"prompt_tokens", n_prompt},
                      {"decode_tokens", a.n_gen},
                      {"repetitions", a.reps},
                      {"load_ms", load_ms},
                      {"mel_ms", mel},
                      {"encoder_ms", enc},
                      {"prefill_ms", pre},
                      {"prefill_tokens_per_s", static_cast<double>(n_prompt) / (pre / 1000.0)},
                      {"decode_tokens_per_s", a.n_gen / (dec / 1000.0)},
                      {"end_to_end_ms", mel + enc + pre + dec},
                      {"real_time_factor", (mel + enc + pre + dec) / 1000.0 / duration},
                      {"pipeline", single},
                      {"concurrent", together},
                      {"peak_rss_mb", static_cast<double>(ru.ru_maxrss) / 1024.0}};
  std::printf("%-22s %10s\n", "stage", "median");
  std::printf("%-22s %8.1f ms\n", "mel", mel);
  std::printf("%-22s %8.1f ms\n", "audio encoder", enc);
  std::printf("%-22s %8.1f tok/s (%lld tokens)\n", "prefill", j["prefill_tokens_per_s"].get<double>(),
              static_cast<long long>(n_prompt));
  std::printf("%-22s %8.1f tok/s (%d tokens)\n", "decode", j["decode_tokens_per_s"].get<double>(), a.n_gen);
  std::printf("%-22s %8.1f ms (RTF %.3f)\n", "end to end", mel + enc + pre + dec,
              j["real_time_factor"].get<double>());
  const int pipeline_tokens = single["output_tokens"][0].get<int>();
  std::printf("%-22s %8.1f ms (%d tokens)%s\n", "pipeline, 1 request", single["wall_ms"].get<double>(),
              pipeline_tokens,
              pipeline_tokens == 0 ? ": no speech found, nothing decoded (pass a speech clip as AUDIO)" : "");
  if (a.concurrent > 0)
    std::printf("%-22s %8.1f ms for all\n", (std::to_string(a.concurrent) + " requests at once").c_str(),
                together["wall_ms"].get<double>());
  std::printf("%-22s %8.1f MB\n", "peak RSS", j["peak_rss_mb"].get<double>());
  std::printf("%s\n", j.dump().c_str());
  if (!a.json_out.empty()) write_json_file(a.json_out, j);
  return 0;
}

const Command kBench("bench", "Time mel, encoder, prefill and decode on one clip (JSON + table)",
                     [](CLI::App& sub) {
                       auto a = std::make_shared<BenchArgs>();
                       sub.add_option("-m,--model", a->model, "Gemma 4 text model GGUF")->required();
                       sub.add_option("--mmproj", a->mmproj, "Gemma 4 audio encoder GGUF")->required();
                       sub.add_option("audio", a->audio,
                                      "Audio file (default: a synthetic clip of --seconds); with "
                                      "--audio-minutes, the speech clips to build the audio from");
                       sub.add_option("--audio-minutes", a->audio_minutes,
                                      "Time the long-audio pipeline on audio of these lengths (e.g. 1,5,20), "
                                      "each in a fresh process")
                           ->delimiter(',')
                           ->check(CLI::Range(0.05, 600.0));
                       sub.add_option("--max-tokens-per-window", a->max_tokens_per_window,
                                      "With --audio-minutes: cap on tokens generated per window (0 = the "
                                      "engine's default)")
                           ->check(CLI::Range(0, 4096));
                       sub.add_option("--seconds", a->seconds, "Length of the synthetic clip")
                           ->capture_default_str()
                           ->check(CLI::Range(1.0, 3600.0));
                       sub.add_option("--n-gen", a->n_gen, "Decode steps (end of turn ignored)")
                           ->capture_default_str()
                           ->check(CLI::Range(1, 4096));
                       sub.add_option("--reps", a->reps, "Repetitions (medians are reported)")
                           ->capture_default_str()
                           ->check(CLI::Range(1, 100));
                       sub.add_option("--concurrent", a->concurrent,
                                      "Also time this many whole transcriptions started at once (0 = skip)")
                           ->capture_default_str()
                           ->check(CLI::Range(0, 16));
                       sub.add_option("-t,--threads", a->threads, "Threads (0 = all cores)");
                       sub.add_option("--json", a->json_out, "Also write the JSON to this file");
                       return [a] { return run_bench(*a); };
                     });

}  // namespace
}  // namespace hark::cli
