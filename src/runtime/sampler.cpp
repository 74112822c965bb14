#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "kernels/kernels.h"

namespace hark::runtime {

void validate(const SamplingParams& p) {
  auto bad = [](const char* name, double v, const char* range) {
    throw Error(Errc::kInvalidArgument,
                std::string(name) + " = " + std::to_string(v) + " is out of range " + range);
  };
  if (!(p.temperature >= 0.0f && p.temperature <= 2.0f)) bad("temperature", p.temperature, "[0, 2]");
  if (p.top_k < 0) bad("top_k", p.top_k, ">= 0");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) bad("top_p", p.top_p, "(0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p < 1.0f)) bad("min_p", p.min_p, "[0, 1)");
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
  validate(params_);
}

Sampler::Pick Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) throw Error(Errc::kInternal, "sampler: empty logits");
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  const float lse = kernels::log_sum_exp(logits.data(), static_cast<int64_t>(logits.size()));
  if (params_.temperature <= 0.0f) return {best, logits[best] - lse};

  // Candidates: tokens within 30 nats (at this temperature) of the best; the rest cannot be drawn.
  const float t = params_.temperature;
  const float floor = logits[best] - 30.0f * t;
  candidates_.clear();
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] >= floor) candidates_.emplace_back(logits[i], static_cast<int32_t>(i));
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t n = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + params_.top_k, candidates_.end(), by_logit);
    n = static_cast<size_t>(params_.top_k);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  // Softmax at temperature t over the kept candidates.
  std::vector<double> p(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i)
    sum += p[i] = std::exp(double(candidates_[i].first - candidates_[0].first) / t);
  for (auto& v : p) v /= sum;
  // min-p relative to the best, then top-p (nucleus) on the sorted list.
  size_t keep = n;
  if (params_.min_p > 0.0f)
    while (keep > 1 && p[keep - 1] < params_.min_p * p[0]) --keep;
  if (params_.top_p < 1.0f) {
    double cum = 0;
    for (size_t i = 0; i < keep; ++i) {
      cum += p[i];
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += p[i];
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng_);
  size_t pick = keep - 1;
  for (size_t i = 0; i < keep; ++i) {
    r -= p[i];
    if (r <= 0) {
      pick = i;
      break;
    }
  }
  const int32_t id = candidates_[pick].second;
  return {id, logits[id] - lse};
}

}  // namespace hark::runtime
