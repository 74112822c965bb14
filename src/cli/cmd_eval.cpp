// `hark eval MANIFEST.tsv`: word and character error rates of the model's transcripts against references,
// with per-file results, totals and the real-time factor (see docs/eval.md).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "audio/decode.h"
#include "cli/command.h"
#include "cli/json_file.h"
#include "cli/model_paths.h"
#include "core/error.h"
#include "runtime/gemma4_engine.h"
#include "text/wer.h"

namespace hark::cli {
namespace {
namespace fs = std::filesystem;

struct EvalArgs {
  std::string model, mmproj, manifest, json_out, language;
  int threads = 0;
  double max_wer = -1.0;
};

struct ManifestRow {
  int line = 0;
  std::string audio;  // resolved path
  std::string reference;
};

// TSV: audio path, TAB, reference text. Blank lines and lines starting with '#' are skipped; relative
// paths are relative to the manifest's folder. A line without a TAB is an error naming the line.
std::vector<ManifestRow> read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(Errc::kNotFound, "cannot open manifest '" + path + "'");
  const fs::path base = fs::path(path).parent_path();
  std::vector<ManifestRow> rows;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || tab == 0)
      throw Error(Errc::kInvalidArgument,
                  path + ":" + std::to_string(n) + ": expected 'AUDIO_PATH<TAB>REFERENCE TEXT'");
    const fs::path audio = line.substr(0, tab);
    rows.push_back({n, (audio.is_absolute() ? audio : base / audio).string(), line.substr(tab + 1)});
  }
  if (rows.empty()) throw Error(Errc::kInvalidArgument, "manifest '" + path + "' lists no files");
  return rows;
}

nlohmann::json counts_json(const text::EditCounts& c) {
  return {{"substitutions", c.substitutions},
          {"deletions", c.deletions},
          {"insertions", c.insertions},
          {"reference_length", c.reference_length}};
}

int run_eval(const EvalArgs& a) {
  using clock = std::chrono::steady_clock;
  const std::vector<ManifestRow> rows = read_manifest(a.manifest);
  const ModelPaths paths = resolve_model(a.model, a.mmproj);
  runtime::EngineOptions eo;
  eo.model_path = paths.model;
  eo.mmproj_path = paths.mmproj;
  eo.threads = a.threads;
  const auto t_load = clock::now();
  const auto engine = runtime::Gemma4Engine::load(eo);
  const double load_s = std::chrono::duration<double>(clock::now() - t_load).count();

  text::EditCounts words, chars;
  double audio_s = 0.0, work_s = 0.0;
  int failed = 0;
  nlohmann::json files = nlohmann::json::array();
  // With the JSON on stdout, the human-readable table goes to stderr.
  FILE* table = a.json_out == "-" ? stderr : stdout;
  std::fprintf(table, "%6s %6s %7s %6s  %s\n", "WER%", "CER%", "audio_s", "RTF", "file");
  for (const ManifestRow& row : rows) {
    nlohmann::json f = {{"audio", row.audio}, {"line", row.line}, {"reference", row.reference}};
    std::string hypothesis;
    double duration = 0.0, seconds = 0.0;
    // A file that cannot be decoded or transcribed counts as an empty transcript (every reference word
    // deleted), so a broken file can never improve the score; its error is reported.
    try {
      const auto t0 = clock::now();
      audio::Decoded decoded = audio::decode_file(row.audio, audio::DecodeLimits{});
      runtime::TranscribeRequest req;
      req.pcm16k = std::move(decoded.samples);
      req.language = a.language;
      const runtime::TranscribeResult r = engine->transcribe(req, {});
      seconds = std::chrono::duration<double>(clock::now() - t0).count();
      hypothesis = r.text;
      duration = r.duration;
    } catch (const Error& e) {
      ++failed;
      f["error"] = e.what();
      std::fprintf(stderr, "hark eval: %s: %s\n", row.audio.c_str(), e.what());
    }
    const text::EditCounts w = text::word_errors(row.reference, hypothesis);
    const text::EditCounts c = text::char_errors(row.reference, hypothesis);
    words += w;
    chars += c;
    audio_s += duration;
    work_s += seconds;
    const double rtf = duration > 0 ? seconds / duration : 0.0;
    f["hypothesis"] = hypothesis;
    f["reference_normalized"] = text::normalize_transcript(row.reference);
    f["hypothesis_normalized"] = text::normalize_transcript(hypothesis);
    f["wer"] = w.rate();
    f["cer"] = c.rate();
    f["word_errors"] = counts_json(w);
    f["char_errors"] = counts_json(c);
    f["duration_s"] = duration;
    f["transcribe_s"] = seconds;
    f["real_time_factor"] = rtf;
    files.push_back(std::move(f));
    std::fprintf(table, "%6.1f %6.1f %7.2f %6.3f  %s\n", 100 * w.rate(), 100 * c.rate(), duration, rtf,
                 row.audio.c_str());
    std::fprintf(table, "%21s ref: %s\n%21s hyp: %s\n", "", text::normalize_transcript(row.reference).c_str(),
                 "", text::normalize_transcript(hypothesis).c_str());
  }
  const double rtf = audio_s > 0 ? work_s / audio_s : 0.0;
  std::fprintf(table,
               "total: %zu files (%d failed), %lld words, WER %.2f%% (S %lld, D %lld, I %lld), CER %.2f%%, "
               "%.1f s of audio in %.1f s (RTF %.3f), load %.2f s\n",
               rows.size(), failed, static_cast<long long>(words.reference_length), 100 * words.rate(),
               static_cast<long long>(words.substitutions), static_cast<long long>(words.deletions),
               static_cast<long long>(words.insertions), 100 * chars.rate(), audio_s, work_s, rtf, load_s);
  if (!a.json_out.empty()) {
    const nlohmann::json j = {{"model", paths.model},
                              {"mmproj", paths.mmproj},
                              {"manifest", a.manifest},
                              {"normalization", "docs/eval.md"},
                              {"files", files},
                              {"total",
                               {{"files", rows.size()},
                                {"failed", failed},
                                {"wer", words.rate()},
                                {"cer", chars.rate()},
                                {"word_errors", counts_json(words)},
                                {"char_errors", counts_json(chars)},
                                {"audio_s", audio_s},
                                {"transcribe_s", work_s},
                                {"real_time_factor", rtf},
                                {"load_s", load_s}}}};
    if (a.json_out == "-")
      std::printf("%s\n", j.dump(2).c_str());
    else
      write_json_file(a.json_out, j);
  }
  if (a.max_wer >= 0 && words.rate() > a.max_wer) {
    std::fprintf(stderr, "hark eval: WER %.4f is above --max-wer %.4f\n", words.rate(), a.max_wer);
    return 1;
  }
  return 0;
}

const Command kEval(
    "eval", "Word and character error rates over a manifest of audio files", [](CLI::App& sub) {
      auto a = std::make_shared<EvalArgs>();
      sub.add_option("manifest", a->manifest, "TSV file: audio path <TAB> reference text, one file per line")
          ->required();
      sub.add_option("-m,--model", a->model, kModelHelp);
      sub.add_option("--mmproj", a->mmproj, kMmprojHelp);
      sub.add_option("-l,--language", a->language, "Language of the audio (ISO-639-1), default: automatic");
      sub.add_option("--json", a->json_out,
                     "Write per-file results and totals as JSON to this file ('-': stdout)");
      sub.add_option("--max-wer", a->max_wer, "Exit with status 1 when the total WER (0-1) is above this");
      sub.add_option("-t,--threads", a->threads, "CPU threads (0 = all cores)");
      return [a] { return run_eval(*a); };
    });

}  // namespace
}  // namespace hark::cli
