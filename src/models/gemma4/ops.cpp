#include "models/gemma4/ops.h"

#include <cmath>

namespace hark::gemma4 {

void rope_angles(int64_t n_rot, int64_t pos, float base, const float* freq_factors, float* cs) {
  const int64_t half = n_rot / 2;
  // ggml steps theta by repeated multiplication in float; doing the same keeps the angles bit-identical.
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < half; ++i) {
    const float ff = freq_factors ? freq_factors[i] : 1.0f;
    const float t = theta / ff;
    cs[2 * i] = std::cos(t);
    cs[2 * i + 1] = std::sin(t);
    theta *= theta_scale;
  }
}

void rope_apply(float* x, int64_t n_rot, const float* cs) {
  const int64_t half = n_rot / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cs[2 * i], s = cs[2 * i + 1];
    const float a = x[i];
    const float b = x[i + half];
    x[i] = a * c - b * s;
    x[i + half] = a * s + b * c;
  }
}

}  // namespace hark::gemma4
