// Token selection: greedy, or temperature sampling with top-k / top-p / min-p and a seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace hark::runtime {

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy
  int top_k = 64;            // 0 = no limit
  float top_p = 0.95f;       // 1 = no limit
  float min_p = 0.0f;        // drop tokens whose probability is below min_p * p(best)
  uint64_t seed = 0;
};

// Throws Error(kInvalidArgument) naming the parameter when a value is out of range.
void validate(const SamplingParams& p);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  struct Pick {
    int32_t id;
    float logprob;  // log-probability of `id` under the model's own distribution (temperature 1, no cut-off)
  };
  // Greedy picks the highest logit (ties: the lower id), like llama.cpp's goldens.
  Pick sample(std::span<const float> logits);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // scratch, reused across steps
};

}  // namespace hark::runtime
