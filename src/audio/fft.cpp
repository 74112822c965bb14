#include "audio/fft.h"

#include <cassert>
#include <cmath>
#include <numbers>

namespace hark::audio {

RealFft::RealFft(int n) : n_(n), bitrev_(n), tw_re_(n - 1), tw_im_(n - 1) {
  assert(n >= 2 && (n & (n - 1)) == 0);
  int bits = 0;
  while ((1 << bits) < n) ++bits;
  for (int i = 0; i < n; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
    bitrev_[i] = r;
  }
  // The table llama.cpp fills: angle in double, then sinf/cosf of it rounded to float.
  std::vector<float> sin_table(n), cos_table(n);  // [n]
  for (int i = 0; i < n; ++i) {
    const double theta = (2 * std::numbers::pi * i) / n;
    sin_table[i] = std::sin(static_cast<float>(theta));
    cos_table[i] = std::cos(static_cast<float>(theta));
  }
  for (int half = 1, off = 0; half < n; off += half, half *= 2) {
    const int step = n / (2 * half);
    for (int k = 0; k < half; ++k) {
      tw_re_[off + k] = cos_table[k * step];
      tw_im_[off + k] = -1.0f * sin_table[k * step];
    }
  }
}

namespace {

// One run of `half` butterflies. The four runs never overlap; saying so lets the compiler vectorise.
// The evaluation order of each line is llama.cpp's; keep it (and no FMA) to keep its rounding.
void butterflies(float* __restrict er, float* __restrict ei, float* __restrict orr, float* __restrict oi,
                 const float* __restrict wr, const float* __restrict wi, int half) {
  for (int k = 0; k < half; ++k) {
    const float e_re = er[k], e_im = ei[k], o_re = orr[k], o_im = oi[k];
    er[k] = e_re + wr[k] * o_re - wi[k] * o_im;
    ei[k] = e_im + wr[k] * o_im + wi[k] * o_re;
    orr[k] = e_re - wr[k] * o_re + wi[k] * o_im;
    oi[k] = e_im - wr[k] * o_im - wi[k] * o_re;
  }
}

}  // namespace

void RealFft::forward(const float* in, float* re, float* im) const {
  for (int i = 0; i < n_; ++i) {
    re[i] = in[bitrev_[i]];
    im[i] = 0.0f;
  }
  for (int half = 1, off = 0; half < n_; off += half, half *= 2)
    for (int b = 0; b < n_; b += 2 * half)
      butterflies(re + b, im + b, re + b + half, im + b + half, tw_re_.data() + off, tw_im_.data() + off,
                  half);
}

}  // namespace hark::audio
