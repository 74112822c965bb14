// Small element-wise ops of the Gemma 4 decoder, written to round the way ggml's CPU backend does where
// that is visible in the results (RMS-norm sums in double). GELU and the soft-cap are kernels (kernels.h).
#pragma once

#include <cstdint>

namespace hark::gemma4 {

// Each of the n_rows rows of x [n_rows][n]: y = x / sqrt(mean(x^2) + eps) * w (w may be null = ones).
// In place allowed (y == x).
void rms_norm(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps);

// NEOX-style rotary embedding of one head vector x [head_dim] at position `pos`: pairs (i, i + n_rot/2)
// for i < n_rot/2 rotate by pos * base^(-2i/n_rot) / freq_factors[i] (freq_factors may be null = ones;
// a huge factor leaves the pair unrotated). Dimensions from n_rot on are left as they are.
void rope_neox(float* x, int64_t n_rot, int64_t pos, float base, const float* freq_factors);

}  // namespace hark::gemma4
