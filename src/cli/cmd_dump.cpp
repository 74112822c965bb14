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

namespace hark::cli {
namespace {

struct DumpOptions {
  std::string audio_path;
  std::string out_path;
  std::vector<std::string> stages;
  int threads = 0;
};

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

 private:
  const DumpOptions& opt_;
  ThreadPool pool_;
  std::optional<audio::Decoded> decoded_;
  std::optional<std::vector<audio::MelChunk>> mel_;
};

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
  };
  return kStages;
}

int run_dump(const DumpOptions& opt) {
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
    "dump", "Write intermediate tensors (pcm, mel) of an audio file to a GGUF file", [](CLI::App& sub) {
      auto opt = std::make_shared<DumpOptions>();
      std::vector<std::string> names;
      std::string help = "Stage(s) to dump, repeatable:";
      for (const auto& s : stages()) {
        names.push_back(s.name);
        help += std::string("\n  ") + s.name + ": " + s.description;
      }
      sub.add_option("--stage", opt->stages, help)
          ->required()
          ->check(CLI::IsMember(names))
          ->delimiter(',')
          ->allow_extra_args(false);
      sub.add_option("audio", opt->audio_path, "Audio file (any container/codec FFmpeg decodes)")->required();
      sub.add_option("-o,--output", opt->out_path, "Output GGUF file")->required();
      sub.add_option("-t,--threads", opt->threads, "Threads (default: all CPUs)")
          ->check(CLI::NonNegativeNumber);
      return [opt] { return run_dump(*opt); };
    });

}  // namespace
}  // namespace hark::cli
