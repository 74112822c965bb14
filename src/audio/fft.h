// A radix-2 decimation-in-time FFT of real float input, arranged so that every butterfly rounds exactly as
// llama.cpp's recursive FFT in tools/mtmd/mtmd-audio.cpp does: same twiddle table (sinf/cosf of the angle
// rounded to float, one table of n entries shared by all stages), same expression order in each butterfly,
// no fused multiply-add. The log-mel then tracks llama.cpp's to the last bit or close to it, which matters
// near the 1e-3 floor where a tiny magnitude change moves the log a lot.
#pragma once

#include <vector>

namespace hark::audio {

class RealFft {
 public:
  // n: a power of two >= 2.
  explicit RealFft(int n);

  int size() const { return n_; }

  // Forward transform (exp(-2*pi*i*k*j/n), unscaled) of in[n]. Writes re[k], im[k] for k in [0, n);
  // re/im must have room for n floats each.
  void forward(const float* in, float* re, float* im) const;

 private:
  int n_;
  std::vector<int> bitrev_;  // [n] input index for each position of the bit-reversed order
  // Per stage s (half = 2^s butterflies per block), the twiddles for k in [0, half) packed one stage after
  // another: offset 2^s - 1. cos[k * n/(2*half)] and -sin[...], both taken from one n-entry table.
  std::vector<float> tw_re_;  // [n - 1]
  std::vector<float> tw_im_;  // [n - 1]
};

}  // namespace hark::audio
