#include "models/gemma4/ops.h"

#include <cmath>

namespace hark::gemma4 {

void rms_norm(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double sum = 0;  // ggml accumulates the squares in double
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(xr[i]) * xr[i];
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    if (w) {
      for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] * scale) * w[i];
    } else {
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale;
    }
  }
}

void rope_neox(float* x, int64_t n_rot, int64_t pos, float base, const float* freq_factors) {
  const int64_t half = n_rot / 2;
  // ggml steps theta by repeated multiplication in float; doing the same keeps the angles bit-identical.
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < half; ++i) {
    const float ff = freq_factors ? freq_factors[i] : 1.0f;
    const float t = theta / ff;
    const float c = std::cos(t);
    const float s = std::sin(t);
    const float a = x[i];
    const float b = x[i + half];
    x[i] = a * c - b * s;
    x[i + half] = a * s + b * c;
    theta *= theta_scale;
  }
}

}  // namespace hark::gemma4
