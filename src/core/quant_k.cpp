// Reference conversions for the K-quants (256-element super-blocks). The quantizers search for the
// sub-block scale (and min) that minimises a weighted squared error instead of taking the plain range,
// which is what makes K-quant files as accurate as ggml's: a naive max-based scale loses ~20 % more.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/quant.h"

namespace hark {
namespace {

inline int round_even(float v) {
  return static_cast<int>(std::nearbyintf(v));
}

// Fits x[i] ~ scale * L[i] - neg_min with L[i] in [0, nmax] and neg_min >= 0, minimising
// sum w[i] * err[i]^2. Tries a fan of step sizes around the range-based one; for each rounding it solves
// the weighted least squares for (scale, min) exactly. Returns scale; L receives the best levels.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min) {
  float mn = x[0], mx = x[0];
  for (int i = 1; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  mn = std::min(mn, 0.0f);  // the format can only subtract a minimum
  if (mx == mn) {
    std::fill(L, L + n, uint8_t{0});
    *neg_min = -mn;
    return 0.0f;
  }
  float sw = 0, sx = 0;
  for (int i = 0; i < n; ++i) {
    sw += w[i];
    sx += w[i] * x[i];
  }
  uint8_t cand[kQK_K];  // levels of the candidate being scored; n <= kQK_K
  float best_err = INFINITY, best_scale = (mx - mn) / static_cast<float>(nmax), best_min = mn;
  constexpr int kSteps = 20;  // step sizes from (nmax - 1) to (nmax + 1) levels over the range
  for (int s = -1; s <= kSteps; ++s) {
    // s = -1 is the plain range quantization; the others widen or narrow it slightly.
    const float levels = s < 0 ? static_cast<float>(nmax) : static_cast<float>(nmax) - 1.0f + 0.1f * s;
    const float iscale = levels / (mx - mn);
    float sl = 0, sl2 = 0, sxl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(round_even(iscale * (x[i] - mn)), 0, nmax);
      cand[i] = static_cast<uint8_t>(l);
      sl += w[i] * l;
      sl2 += w[i] * l * l;
      sxl += w[i] * l * x[i];
    }
    const float det = sw * sl2 - sl * sl;
    if (det <= 0) continue;
    float scale = (sw * sxl - sx * sl) / det;
    float min = (sl2 * sx - sl * sxl) / det;
    if (min > 0) {  // a positive offset is not representable: refit the scale alone
      min = 0;
      scale = sxl / sl2;
    }
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const float e = scale * cand[i] + min - x[i];
      err += w[i] * e * e;
    }
    if (err < best_err) {
      best_err = err;
      best_scale = scale;
      best_min = min;
      std::copy(cand, cand + n, L);
    }
  }
  *neg_min = -best_min;
  return best_scale;
}

// Fits x[i] ~ scale * L[i] with L[i] in [-nmax, nmax - 1], weighting each element by x[i]^2 (large values
// matter most for a dot product). Tries step sizes around amax / nmax and keeps the best projection.
float fit_scale_sym(int n, int nmax, const float* x) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < 1e-30f) return 0.0f;
  float best_score = -1, best_scale = 0;
  for (int s = -9; s <= 9; ++s) {
    // Map the signed extreme to -nmax (the end with the extra level).
    const float iscale = -(static_cast<float>(nmax) + 0.1f * s) / max;
    float sxl = 0, sl2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(round_even(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sxl += w * x[i] * l;
      sl2 += w * l * l;
    }
    if (sl2 > 0 && sxl * sxl / sl2 > best_score) {
      best_score = sxl * sxl / sl2;
      best_scale = sxl / sl2;
    }
  }
  return best_scale;
}

void pack_scale_min_k4(int j, int ls, int lm, uint8_t* q) {
  if (j < 4) {
    q[j] = static_cast<uint8_t>(ls);
    q[j + 4] = static_cast<uint8_t>(lm);
  } else {
    q[j + 4] = static_cast<uint8_t>((ls & 0x0f) | ((lm & 0x0f) << 4));
    q[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
    q[j] |= static_cast<uint8_t>((lm >> 4) << 6);
  }
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-blocks of 32 with 6-bit scales and mins relative
// to the super-block's d and dmin. Writes d, dmin, the packed scales and the final levels.
void quantize_k4_levels(const float* x, int nmax, fp16_t* d_out, fp16_t* dmin_out, uint8_t* packed,
                        uint8_t* L /* [256] */) {
  float w[32];      // per-element weight of one sub-block
  float scales[8];  // fitted sub-block scales
  float mins[8];    // fitted sub-block minimums (as positive offsets)
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    // Weight each element by its magnitude plus the sub-block's RMS: big values matter more to a dot
    // product, small ones still count.
    float sum_x2 = 0;
    for (int i = 0; i < 32; ++i) sum_x2 += x[32 * j + i] * x[32 * j + i];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int i = 0; i < 32; ++i) w[i] = av_x + std::fabs(x[32 * j + i]);
    scales[j] = fit_scale_min(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j]);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  std::memset(packed, 0, kKScaleBytes);
  for (int j = 0; j < 8; ++j) {
    pack_scale_min_k4(j, std::min(63, round_even(inv_scale * scales[j])),
                      std::min(63, round_even(inv_min * mins[j])), packed);
  }
  *d_out = f32_to_fp16(max_scale / 63.0f);
  *dmin_out = f32_to_fp16(max_min / 63.0f);
  // Requantize against the scales as stored (6-bit, f16), not as fitted.
  const float d = fp16_to_f32(*d_out), dmin = fp16_to_f32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, packed, &sc, &m);
    const float dd = d * sc, dm = dmin * m;
    for (int i = 0; i < 32; ++i) {
      L[32 * j + i] = dd != 0.0f
                          ? static_cast<uint8_t>(std::clamp(round_even((x[32 * j + i] + dm) / dd), 0, nmax))
                          : uint8_t{0};
    }
  }
}

}  // namespace

void dequantize_q2_k(const BlockQ2_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
    for (int e = 0; e < kQK_K; ++e) {
      const int q = (x[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      const uint8_t sc = x[i].scales[e / 16];
      *y++ = d * (sc & 0x0f) * q - dmin * (sc >> 4);
    }
  }
}

void dequantize_q3_k(const BlockQ3_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_f32(x[i].d);
    for (int e = 0; e < kQK_K; ++e) {
      const int low = (x[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      const int q = low - ((x[i].hmask[e % 32] >> (e / 32)) & 1 ? 0 : 4);
      *y++ = d * unpack_scale_q3k(e / 16, x[i].scales) * q;
    }
  }
}

void dequantize_q4_k(const BlockQ4_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int g = 0; g < 4; ++g, q += 32) {
      uint8_t sc0, m0, sc1, m1;
      unpack_scale_min_k4(2 * g, x[i].scales, &sc0, &m0);
      unpack_scale_min_k4(2 * g + 1, x[i].scales, &sc1, &m1);
      const float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
      for (int l = 0; l < 32; ++l) *y++ = d0 * (q[l] & 0x0f) - mm0;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] >> 4) - mm1;
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int g = 0; g < 4; ++g, q += 32) {
      uint8_t sc0, m0, sc1, m1;
      unpack_scale_min_k4(2 * g, x[i].scales, &sc0, &m0);
      unpack_scale_min_k4(2 * g + 1, x[i].scales, &sc1, &m1);
      const float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
      const uint8_t h0 = static_cast<uint8_t>(1u << (2 * g)), h1 = static_cast<uint8_t>(2u << (2 * g));
      for (int l = 0; l < 32; ++l) *y++ = d0 * ((q[l] & 0x0f) + (x[i].qh[l] & h0 ? 16 : 0)) - mm0;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((q[l] >> 4) + (x[i].qh[l] & h1 ? 16 : 0)) - mm1;
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_f32(x[i].d);
    // Two halves of 128: ql bytes l and l + 32 give four 32-runs (low/high nibbles); qh byte l gives their
    // top 2 bits in bit pairs 0-1, 2-3, 4-5, 6-7.
    for (int h = 0; h < 2; ++h, y += 128) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const uint8_t* qh = x[i].qh + 32 * h;
      const int8_t* sc = x[i].scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void dequantize_q8_k(const BlockQ8_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i)
    for (int j = 0; j < kQK_K; ++j) *y++ = x[i].d * x[i].qs[j];
}

void quantize_q4_k(const float* x, BlockQ4_K* y, int64_t n) {
  uint8_t L[kQK_K];  // final levels of one super-block
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_k4_levels(x, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
    for (int g = 0; g < 4; ++g)
      for (int l = 0; l < 32; ++l)
        y[i].qs[32 * g + l] = static_cast<uint8_t>(L[64 * g + l] | (L[64 * g + 32 + l] << 4));
  }
}

void quantize_q5_k(const float* x, BlockQ5_K* y, int64_t n) {
  uint8_t L[kQK_K];  // final levels of one super-block
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_k4_levels(x, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
    std::memset(y[i].qh, 0, sizeof(y[i].qh));
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        const int l0 = L[64 * g + l], l1 = L[64 * g + 32 + l];
        y[i].qs[32 * g + l] = static_cast<uint8_t>((l0 & 0x0f) | ((l1 & 0x0f) << 4));
        y[i].qh[l] |= static_cast<uint8_t>(((l0 >> 4) << (2 * g)) | ((l1 >> 4) << (2 * g + 1)));
      }
    }
  }
}

void quantize_q6_k(const float* x, BlockQ6_K* y, int64_t n) {
  uint8_t L[kQK_K];  // levels 0..63 of one super-block
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float scales[16];  // fitted sub-block scales (signed)
    float max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = fit_scale_sym(16, 32, x + 16 * j);
      if (std::fabs(scales[j]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(&y[i], 0, sizeof(BlockQ6_K));
    if (max_abs_scale < 1e-30f) {
      std::fill(L, L + kQK_K, uint8_t{32});
    } else {
      const float iscale = -128.0f / max_scale;
      y[i].d = f32_to_fp16(1.0f / iscale);
      for (int j = 0; j < 16; ++j)
        y[i].scales[j] = static_cast<int8_t>(std::min(127, round_even(iscale * scales[j])));
      const float d = fp16_to_f32(y[i].d);
      for (int j = 0; j < 16; ++j) {
        const float dd = d * y[i].scales[j];
        for (int l = 0; l < 16; ++l) {
          const int q = dd != 0.0f ? std::clamp(round_even(x[16 * j + l] / dd), -32, 31) : 0;
          L[16 * j + l] = static_cast<uint8_t>(q + 32);
        }
      }
    }
    for (int h = 0; h < 2; ++h) {
      uint8_t* ql = y[i].ql + 64 * h;
      uint8_t* qh = y[i].qh + 32 * h;
      const uint8_t* Lh = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0x0f) | ((q3 & 0x0f) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0x0f) | ((q4 & 0x0f) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
}

namespace {
// Element e of a Q2_K/Q3_K super-block keeps its 2 low bits in qs byte 32 * (e / 128) + e % 32, bit pair
// (e % 128) / 32.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  std::memset(qs, 0, kQK_K / 4);
  for (int e = 0; e < kQK_K; ++e)
    qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>((L[e] & 3) << (2 * ((e % 128) / 32)));
}
}  // namespace

void quantize_q2_k(const float* x, BlockQ2_K* y, int64_t n) {
  uint8_t L[kQK_K];  // levels 0..3 of one super-block
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float w[16], scales[16], mins[16];  // per-element weights of a sub-block; fitted scale/min per sub-block
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
      scales[j] = fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j]);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    // 4-bit scales and mins relative to the super-block's d and dmin.
    const float inv_scale = max_scale > 0 ? 15.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 15.0f / max_min : 0.0f;
    for (int j = 0; j < 16; ++j) {
      const int ls = std::min(15, round_even(inv_scale * scales[j]));
      const int lm = std::min(15, round_even(inv_min * mins[j]));
      y[i].scales[j] = static_cast<uint8_t>(ls | (lm << 4));
    }
    y[i].d = f32_to_fp16(max_scale / 15.0f);
    y[i].dmin = f32_to_fp16(max_min / 15.0f);
    const float d = fp16_to_f32(y[i].d), dmin = fp16_to_f32(y[i].dmin);
    for (int j = 0; j < 16; ++j) {
      const float dd = d * (y[i].scales[j] & 0x0f), dm = dmin * (y[i].scales[j] >> 4);
      for (int l = 0; l < 16; ++l) {
        const int q = dd != 0.0f ? std::clamp(round_even((x[16 * j + l] + dm) / dd), 0, 3) : 0;
        L[16 * j + l] = static_cast<uint8_t>(q);
      }
    }
    pack_2bit(L, y[i].qs);
  }
}

void quantize_q3_k(const float* x, BlockQ3_K* y, int64_t n) {
  uint8_t L[kQK_K];  // levels 0..7 of one super-block
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float scales[16];  // fitted sub-block scales (signed)
    float max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = fit_scale_sym(16, 4, x + 16 * j);
      if (std::fabs(scales[j]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(&y[i], 0, sizeof(BlockQ3_K));
    float d = 0;
    int sc[16] = {};  // 6-bit scales, signed (-32..31)
    if (max_abs_scale >= 1e-30f) {
      const float iscale = -32.0f / max_scale;
      y[i].d = f32_to_fp16(1.0f / iscale);
      d = fp16_to_f32(y[i].d);
      for (int j = 0; j < 16; ++j) sc[j] = std::clamp(round_even(iscale * scales[j]), -32, 31);
    }
    for (int j = 0; j < 16; ++j) {
      const int v = sc[j] + 32;
      if (j < 8) {
        y[i].scales[j] |= static_cast<uint8_t>(v & 0x0f);
      } else {
        y[i].scales[j - 8] |= static_cast<uint8_t>((v & 0x0f) << 4);
      }
      y[i].scales[8 + j % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (j / 4)));
      const float dd = d * sc[j];
      for (int l = 0; l < 16; ++l) {
        const int q = dd != 0.0f ? std::clamp(round_even(x[16 * j + l] / dd), -4, 3) : 0;
        L[16 * j + l] = static_cast<uint8_t>(q + 4);
      }
    }
    for (int e = 0; e < kQK_K; ++e)
      if (L[e] > 3) y[i].hmask[e % 32] |= static_cast<uint8_t>(1u << (e / 32));
    pack_2bit(L, y[i].qs);
  }
}

void quantize_q8_k(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    std::memset(&y[i], 0, sizeof(BlockQ8_K));
    if (amax == 0.0f) continue;
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j)
      y[i].qs[j] = static_cast<int8_t>(std::min(127, round_even(iscale * x[j])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

}  // namespace hark
