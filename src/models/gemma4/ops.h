// Small element-wise ops of the Gemma 4 decoder, written to round the way ggml's CPU backend does where
// that is visible in the results. RMS-norm, GELU and the soft-cap are kernels (kernels.h).
#pragma once

#include <cstdint>

namespace hark::gemma4 {

// NEOX-style rotary embedding of head vectors at position `pos`: pairs (i, i + n_rot/2) for i < n_rot/2
// rotate by pos * base^(-2i/n_rot) / freq_factors[i] (freq_factors may be null = ones; a huge factor leaves
// the pair unrotated). Dimensions from n_rot on are left as they are. rope_angles writes the cosines and
// sines of one position (cs[2i], cs[2i + 1]), which rope_apply then applies to any number of heads.
void rope_angles(int64_t n_rot, int64_t pos, float base, const float* freq_factors, float* cs);
void rope_apply(float* x, int64_t n_rot, const float* cs);

}  // namespace hark::gemma4
