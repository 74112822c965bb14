// `hark synth`: random-weight Gemma 4 models at the real shapes, for benchmarks (see src/models/synth.h).
#include <chrono>
#include <cstdio>

#include "cli/command.h"
#include "models/synth.h"

namespace hark::cli {
namespace {

struct SynthArgs {
  std::string shape = "e2b", type = "q4_k_m", mmproj_type = "f16", vocab, out, mmproj_out;
  uint64_t seed = 1;
  int threads = 0;
};

int run_synth(const SynthArgs& a) {
  models::SynthOptions opt;
  opt.shape = models::parse_synth_shape(a.shape);
  opt.quant = models::parse_synth_quant(a.type);
  opt.mmproj_quant = models::parse_synth_quant(a.mmproj_type);
  opt.vocab_path = a.vocab;
  opt.seed = a.seed;
  ThreadPool pool(a.threads);
  const auto t0 = std::chrono::steady_clock::now();
  if (!a.out.empty()) {
    models::write_synth_text_model(opt, a.out, pool);
    std::printf("wrote %s\n", a.out.c_str());
  }
  if (!a.mmproj_out.empty()) {
    models::write_synth_mmproj(opt, a.mmproj_out, pool);
    std::printf("wrote %s\n", a.mmproj_out.c_str());
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%.1f s\n", s);
  return 0;
}

const Command kSynth(
    "synth", "Write random-weight Gemma 4 models (text + mmproj) at real shapes, for benchmarks",
    [](CLI::App& sub) {
      auto a = std::make_shared<SynthArgs>();
      sub.add_option("--shape", a->shape, "tiny, e2b or e4b")->capture_default_str();
      sub.add_option("--type", a->type, "text model: f32, f16, bf16, q8_0, q4_k_m, q5_k_m")
          ->capture_default_str();
      sub.add_option("--mmproj-type", a->mmproj_type, "mmproj: f32, f16, bf16, q8_0")->capture_default_str();
      sub.add_option("--vocab", a->vocab, "GGUF with the Gemma 4 tokenizer keys to copy")->required();
      sub.add_option("-o,--output", a->out, "text model GGUF to write");
      sub.add_option("--mmproj-out", a->mmproj_out, "mmproj GGUF to write");
      sub.add_option("--seed", a->seed, "random seed")->capture_default_str();
      sub.add_option("-t,--threads", a->threads, "threads (0 = all cores)");
      return [a] { return run_synth(*a); };
    });

}  // namespace
}  // namespace hark::cli
