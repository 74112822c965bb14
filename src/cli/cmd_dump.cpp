// `hark dump --stage pcm|mel AUDIO -o OUT.gguf`: writes the intermediate tensors of the pipeline under the
// names the goldens use (../shared/fixtures/README.md), so any stage can be compared with llama.cpp's.
//
// Each stage is one row of kStages: a name and a function that adds its tensors to the writer, reading
// what it needs from a DumpContext that computes shared inputs (decoded PCM, mel chunks) once, on demand.
// A stage that needs a model adds the model to DumpContext and its options to the command.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>

#include "audio/decode.h"
#include "audio/mel.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "runtime/gemma4_engine.h"

namespace hark::cli {
namespace {

struct DumpOptions {
  std::string audio_path;
  std::string out_path;
  std::vector<std::string> stages;
  int threads = 0;
  std::string model, mmproj;  // for the model stages
  std::string teacher_force;  // golden GGUF whose greedy.tokens are fed instead of our own picks
  int n_gen = 32;
};

constexpr int kTopK = 8;

class DumpContext {
 public:
  explicit DumpContext(const DumpOptions& opt) : opt_(opt), pool_(opt.threads) {}

  const audio::Decoded& decoded() {
    if (!decoded_) {
      try {
        decoded_ = audio::decode_file(opt_.audio_path);
      } catch (const Error& e) {
        if (std::string(e.what()).find(opt_.audio_path) != std::string::npos) throw;
        throw Error(e.code(), opt_.audio_path + ": " + e.what());
      }
    }
    return *decoded_;
  }
  const std::vector<float>& pcm() { return decoded().samples; }
  const std::vector<audio::MelChunk>& mel() {
    if (!mel_) mel_ = audio::gemma4_log_mel(pcm(), &pool_);
    return *mel_;
  }
  runtime::Gemma4Engine& engine() {
    if (!engine_) {
      if (opt_.model.empty() || opt_.mmproj.empty())
        throw Error(Errc::kInvalidArgument, "the model stages need -m MODEL.gguf and --mmproj MMPROJ.gguf");
      runtime::EngineOptions o;
      o.model_path = opt_.model;
      o.mmproj_path = opt_.mmproj;
      o.threads = opt_.threads;
      engine_ = runtime::Gemma4Engine::load(o);
    }
    return *engine_;
  }
  // Encoder rows per chunk, from our own mel: [1 audio][chunk][n_tokens * n_embd].
  const std::vector<std::vector<std::vector<float>>>& audio_rows() {
    if (!rows_) {
      std::vector<std::vector<float>> chunks;
      for (const auto& m : mel())
        chunks.push_back(engine().encoder().encode(m.data, m.n_frames, engine().pool()));
      rows_ = std::vector<std::vector<std::vector<float>>>{std::move(chunks)};
    }
    return *rows_;
  }
  // The prompt llama-server builds for a default /v1/audio/transcriptions request (the goldens' prompt).
  const text::Prompt& prompt() {
    if (!prompt_) {
      text::AudioInput in;
      const auto n_embd = static_cast<size_t>(engine().text_model().hparams().n_embd);
      for (const auto& r : audio_rows()[0]) in.chunk_rows.push_back(static_cast<int32_t>(r.size() / n_embd));
      prompt_ = text::llama_server_transcription_prompt(engine().tokenizer(), in);
    }
    return *prompt_;
  }
  const DumpOptions& options() const { return opt_; }

 private:
  const DumpOptions& opt_;
  ThreadPool pool_;
  std::optional<audio::Decoded> decoded_;
  std::optional<std::vector<audio::MelChunk>> mel_;
  std::shared_ptr<runtime::Gemma4Engine> engine_;
  std::optional<std::vector<std::vector<std::vector<float>>>> rows_;
  std::optional<text::Prompt> prompt_;
};

// Top-k of a logit row, ties broken by the lower id (as the goldens are).
std::vector<int32_t> top_k(const std::vector<float>& logits, int k) {
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
           (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  });
  ids.resize(static_cast<size_t>(k));
  return ids;
}

// greedy.*: n_gen steps from the prompt, end of generation ignored; with --teacher-force the golden's tokens
// are fed instead of our picks, so every step's logits can be compared with llama.cpp's.
void add_greedy(DumpContext& ctx, gguf::Writer& w) {
  auto& e = ctx.engine();
  std::vector<int32_t> forced;
  if (!ctx.options().teacher_force.empty()) {
    const gguf::File g = gguf::File::open(ctx.options().teacher_force);
    const gguf::TensorInfo* t = g.find_tensor("greedy.tokens");
    if (!t || t->type != GgmlType::I32)
      throw Error(Errc::kInvalidArgument, ctx.options().teacher_force + ": no I32 tensor greedy.tokens");
    const auto bytes = g.tensor_data(*t);
    forced.assign(reinterpret_cast<const int32_t*>(bytes.data()),
                  reinterpret_cast<const int32_t*>(bytes.data()) + t->n_elements());
  }
  const int n = forced.empty() ? ctx.options().n_gen : static_cast<int>(forced.size());
  std::vector<float> logits;
  gemma4::KvCache cache = e.prefill(ctx.prompt(), ctx.audio_rows(), logits);
  std::vector<int32_t> tokens, topk_ids;
  std::vector<float> top1, top2, margin, topk_logits;
  for (int i = 0; i < n; ++i) {
    const auto top = top_k(logits, kTopK);
    for (int32_t id : top) {
      topk_ids.push_back(id);
      topk_logits.push_back(logits[static_cast<size_t>(id)]);
    }
    tokens.push_back(top[0]);
    top1.push_back(logits[static_cast<size_t>(top[0])]);
    top2.push_back(logits[static_cast<size_t>(top[1])]);
    margin.push_back(top1.back() - top2.back());
    const int32_t next = forced.empty() ? top[0] : forced[static_cast<size_t>(i)];
    const gemma4::Input in = gemma4::Input::tok(next, true);
    e.text_model().forward(cache, std::span<const gemma4::Input>(&in, 1), logits, e.pool());
  }
  w.add_tensor_i32("greedy.tokens", {n}, tokens);
  w.add_tensor_f32("greedy.top1_logit", {n}, top1);
  w.add_tensor_f32("greedy.top2_logit", {n}, top2);
  w.add_tensor_f32("greedy.margin", {n}, margin);
  w.add_tensor_i32("greedy.topk_ids", {kTopK, n}, topk_ids);
  w.add_tensor_f32("greedy.topk_logits", {kTopK, n}, topk_logits);
  w.set_string("dump.greedy_text", e.tokenizer().decode(tokens));
}

struct Stage {
  const char* name;
  const char* description;
  std::function<void(DumpContext&, gguf::Writer&)> add;
};

const std::vector<Stage>& stages() {
  static const std::vector<Stage> kStages = {
      {"pcm", "tensor pcm (n_samples,): 16 kHz mono samples after decoding and resampling",
       [](DumpContext& ctx, gguf::Writer& w) {
         const auto& pcm = ctx.pcm();
         w.add_tensor_f32("pcm", {static_cast<int64_t>(pcm.size())}, pcm);
       }},
      {"mel", "tensors mel.<c> (128, n_frames): Gemma 4 log-mel of each 30 s chunk",
       [](DumpContext& ctx, gguf::Writer& w) {
         const auto& mel = ctx.mel();
         for (size_t c = 0; c < mel.size(); ++c)
           w.add_tensor_f32("mel." + std::to_string(c), {mel[c].n_frames, audio::kMelBins}, mel[c].data);
         w.set_i32("dump.n_chunks", static_cast<int32_t>(mel.size()));
       }},
      {"audio",
       "audio.embd (n_audio_tokens, n_embd) and audio.chunk_n_tokens: encoder output (needs -m/--mmproj)",
       [](DumpContext& ctx, gguf::Writer& w) {
         const auto& rows = ctx.audio_rows()[0];
         const int64_t n_embd = ctx.engine().text_model().hparams().n_embd;
         std::vector<float> all;
         std::vector<int32_t> counts;
         for (const auto& r : rows) {
           all.insert(all.end(), r.begin(), r.end());
           counts.push_back(static_cast<int32_t>(static_cast<int64_t>(r.size()) / n_embd));
         }
         w.add_tensor_f32("audio.embd", {n_embd, static_cast<int64_t>(all.size()) / n_embd}, all);
         w.add_tensor_i32("audio.chunk_n_tokens", {static_cast<int64_t>(counts.size())}, counts);
       }},
      {"prompt",
       "prompt.tokens (-1 at audio) and prompt.audio_spans: llama-server's default transcription prompt",
       [](DumpContext& ctx, gguf::Writer& w) {
         const auto tokens = ctx.prompt().flat_tokens();
         std::vector<int32_t> spans;
         for (const auto& [first, len] : ctx.prompt().audio_spans()) {
           spans.push_back(static_cast<int32_t>(first));
           spans.push_back(static_cast<int32_t>(len));
         }
         w.add_tensor_i32("prompt.tokens", {static_cast<int64_t>(tokens.size())}, tokens);
         w.add_tensor_i32("prompt.audio_spans", {2, static_cast<int64_t>(spans.size() / 2)}, spans);
       }},
      {"logits", "logits.last (n_vocab,): logits after the last prompt position",
       [](DumpContext& ctx, gguf::Writer& w) {
         std::vector<float> logits;
         ctx.engine().prefill(ctx.prompt(), ctx.audio_rows(), logits);
         w.add_tensor_f32("logits.last", {static_cast<int64_t>(logits.size())}, logits);
       }},
      {"greedy", "greedy.* (n_gen steps, top-8 per step); --teacher-force feeds a golden's tokens",
       add_greedy},
  };
  return kStages;
}

int run_dump(DumpOptions opt) {
  if (opt.stages.empty()) {
    if (opt.model.empty())
      throw Error(Errc::kInvalidArgument, "give --stage, or -m and --mmproj for every stage");
    for (const auto& s : stages()) opt.stages.push_back(s.name);
  }
  DumpContext ctx(opt);
  gguf::Writer w;
  w.set_string("general.architecture", "hark-dump");
  w.set_string("dump.audio_file", opt.audio_path);
  std::string names;
  for (size_t i = 0; i < opt.stages.size(); ++i) {
    const std::string& name = opt.stages[i];
    if (std::find(opt.stages.begin(), opt.stages.begin() + i, name) != opt.stages.begin() + i) continue;
    for (const auto& s : stages())
      if (name == s.name) s.add(ctx, w);
    names += (names.empty() ? "" : ",") + name;
  }
  w.set_string("dump.stages", names);
  const auto& d = ctx.decoded();
  if (!d.warning.empty())
    std::fprintf(stderr, "hark: warning: %s: %s\n", opt.audio_path.c_str(), d.warning.c_str());
  w.write(opt.out_path);
  std::printf("wrote %s (%s; %.2f s of audio)\n", opt.out_path.c_str(), names.c_str(), d.duration_seconds);
  return 0;
}

const Command kDump(
    "dump", "Write intermediate tensors (pcm, mel, audio, prompt, logits, greedy) to a GGUF file",
    [](CLI::App& sub) {
      auto opt = std::make_shared<DumpOptions>();
      std::vector<std::string> names;
      std::string help = "Stage(s) to dump, repeatable:";
      for (const auto& s : stages()) {
        names.push_back(s.name);
        help += std::string("\n  ") + s.name + ": " + s.description;
      }
      sub.add_option("--stage", opt->stages, help)
          ->check(CLI::IsMember(names))
          ->delimiter(',')
          ->allow_extra_args(false);
      sub.add_option("audio,--audio", opt->audio_path, "Audio file (any container/codec FFmpeg decodes)")
          ->required();
      sub.add_option("-m,--model", opt->model, "Gemma 4 text model (model stages; default: all stages)");
      sub.add_option("--mmproj", opt->mmproj, "Gemma 4 audio encoder (model stages)");
      sub.add_option("--teacher-force", opt->teacher_force, "Golden GGUF whose greedy.tokens are fed");
      sub.add_option("--n-gen", opt->n_gen, "Greedy steps")
          ->capture_default_str()
          ->check(CLI::Range(2, 4096));
      sub.add_option("-o,--output", opt->out_path, "Output GGUF file")->required();
      sub.add_option("-t,--threads", opt->threads, "Threads (default: all CPUs)")
          ->check(CLI::NonNegativeNumber);
      return [opt] { return run_dump(*opt); };
    });

}  // namespace
}  // namespace hark::cli
