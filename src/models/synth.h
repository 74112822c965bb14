// Random-weight Gemma 4 models in llama.cpp's exact GGUF layout (text model + gemma4a mmproj), at the real
// E2B/E4B shapes or the tiny test shape. Real weights cannot be downloaded here; these files have the same
// tensors, types and sizes, so benchmarks measure what a user's model would cost.
#pragma once

#include <cstdint>
#include <string>

#include "core/thread_pool.h"

namespace hark::models {

enum class SynthShape { kTiny, kE2B, kE4B };
// "f32", "f16", "bf16", "q8_0", "q4_k_m", "q5_k_m": the text model's mix, as llama-quantize would pick it.
enum class SynthQuant { kF32, kF16, kBF16, kQ8_0, kQ4_K_M, kQ5_K_M };

struct SynthOptions {
  SynthShape shape = SynthShape::kE2B;
  SynthQuant quant = SynthQuant::kQ4_K_M;
  SynthQuant mmproj_quant = SynthQuant::kF16;  // f32, f16, bf16 or q8_0
  std::string vocab_path;                      // a GGUF whose tokenizer.* keys are copied (Gemma 4 vocab)
  uint64_t seed = 1;
};

SynthShape parse_synth_shape(const std::string& s);  // throws Error(kInvalidArgument)
SynthQuant parse_synth_quant(const std::string& s);

void write_synth_text_model(const SynthOptions& opt, const std::string& path, ThreadPool& pool);
void write_synth_mmproj(const SynthOptions& opt, const std::string& path, ThreadPool& pool);

}  // namespace hark::models
