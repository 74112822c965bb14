// Scalar kernels: the twin every SIMD kernel is tested against, and the fallback on any CPU. Integer parts
// of the quantized dots are exact; block results are summed in float in block order, as ggml's generic
// code does. Float dots accumulate in double so the twin is a tight reference.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "core/fp16.h"
#include "core/quant.h"
#include "kernels/dispatch.h"

namespace hark::kernels {
namespace {

float dot_f32(int64_t n, const void* w, const void* x) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

float dot_f16(int64_t n, const void* w, const void* x) {
  const fp16_t* a = static_cast<const fp16_t*>(w);
  const fp16_t* b = static_cast<const fp16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(fp16_to_f32(a[i])) * fp16_to_f32(b[i]);
  return static_cast<float>(s);
}

float dot_bf16(int64_t n, const void* w, const void* x) {
  const bf16_t* a = static_cast<const bf16_t*>(w);
  const bf16_t* b = static_cast<const bf16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(bf16_to_f32(a[i])) * bf16_to_f32(b[i]);
  return static_cast<float>(s);
}

float dot_q4_0(int64_t n, const void* w, const void* x) {
  const BlockQ4_0* a = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += ((a[i].qs[j] & 0x0f) - 8) * b[i].qs[j];
      sumi += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
    }
    s += static_cast<float>(sumi) * (fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d));
  }
  return s;
}

float dot_q4_1(int64_t n, const void* w, const void* x) {
  const BlockQ4_1* a = static_cast<const BlockQ4_1*>(w);
  const BlockQ8_1* b = static_cast<const BlockQ8_1*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += (a[i].qs[j] & 0x0f) * b[i].qs[j];
      sumi += (a[i].qs[j] >> 4) * b[i].qs[j + 16];
    }
    s += static_cast<float>(sumi) * (fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d)) +
         fp16_to_f32(a[i].m) * fp16_to_f32(b[i].s);
  }
  return s;
}

inline uint32_t qh32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

float dot_q5_0(int64_t n, const void* w, const void* x) {
  const BlockQ5_0* a = static_cast<const BlockQ5_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const uint32_t qh = qh32(a[i].qh);
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = ((a[i].qs[j] & 0x0f) | (((qh >> j) & 1) << 4)) - 16;
      const int q1 = ((a[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
      sumi += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
    }
    s += static_cast<float>(sumi) * (fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d));
  }
  return s;
}

float dot_q5_1(int64_t n, const void* w, const void* x) {
  const BlockQ5_1* a = static_cast<const BlockQ5_1*>(w);
  const BlockQ8_1* b = static_cast<const BlockQ8_1*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    const uint32_t qh = qh32(a[i].qh);
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = (a[i].qs[j] & 0x0f) | (((qh >> j) & 1) << 4);
      const int q1 = (a[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      sumi += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
    }
    s += static_cast<float>(sumi) * (fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d)) +
         fp16_to_f32(a[i].m) * fp16_to_f32(b[i].s);
  }
  return s;
}

float dot_q8_0(int64_t n, const void* w, const void* x) {
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += a[i].qs[j] * b[i].qs[j];
    s += static_cast<float>(sumi) * (fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d));
  }
  return s;
}

// Q2_K: sum_j d * scale_j * dot(q_j, q8_j) - dmin * min_j * bsum_j, 16-element sub-blocks.
float dot_q2_k(int64_t n, const void* w, const void* x) {
  const BlockQ2_K* a = static_cast<const BlockQ2_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sumi = 0, summ = 0;
    for (int j = 0; j < 16; ++j) {
      int dot = 0;
      for (int l = 0; l < 16; ++l) {
        const int e = 16 * j + l;
        dot += ((a[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3) * b[i].qs[e];
      }
      sumi += (a[i].scales[j] & 0x0f) * dot;
      summ += (a[i].scales[j] >> 4) * b[i].bsums[j];
    }
    s += b[i].d * fp16_to_f32(a[i].d) * static_cast<float>(sumi) -
         b[i].d * fp16_to_f32(a[i].dmin) * static_cast<float>(summ);
  }
  return s;
}

float dot_q3_k(int64_t n, const void* w, const void* x) {
  const BlockQ3_K* a = static_cast<const BlockQ3_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int dot = 0;
      for (int l = 0; l < 16; ++l) {
        const int e = 16 * j + l;
        const int low = (a[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        dot += (low - ((a[i].hmask[e % 32] >> (e / 32)) & 1 ? 0 : 4)) * b[i].qs[e];
      }
      sumi += unpack_scale_q3k(j, a[i].scales) * dot;
    }
    s += b[i].d * fp16_to_f32(a[i].d) * static_cast<float>(sumi);
  }
  return s;
}

// Q4_K and Q5_K: sum_j d*sc_j*dot(q_j, q8_j) - dmin*m_j*sum(q8_j); both sums are integers per super-block.
float dot_q4_k(int64_t n, const void* w, const void* x) {
  const BlockQ4_K* a = static_cast<const BlockQ4_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, a[i].scales, &sc, &m);
      const uint8_t* q = a[i].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      int dot = 0;
      for (int l = 0; l < 32; ++l) dot += ((q[l] >> shift) & 0x0f) * b[i].qs[32 * j + l];
      sumi += sc * dot;
      summ += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
    }
    s += b[i].d * fp16_to_f32(a[i].d) * static_cast<float>(sumi) -
         b[i].d * fp16_to_f32(a[i].dmin) * static_cast<float>(summ);
  }
  return s;
}

float dot_q5_k(int64_t n, const void* w, const void* x) {
  const BlockQ5_K* a = static_cast<const BlockQ5_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, a[i].scales, &sc, &m);
      const uint8_t* q = a[i].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      int dot = 0;
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 0x0f) | (((a[i].qh[l] >> j) & 1) << 4);
        dot += v * b[i].qs[32 * j + l];
      }
      sumi += sc * dot;
      summ += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
    }
    s += b[i].d * fp16_to_f32(a[i].d) * static_cast<float>(sumi) -
         b[i].d * fp16_to_f32(a[i].dmin) * static_cast<float>(summ);
  }
  return s;
}

float dot_q6_k(int64_t n, const void* w, const void* x) {
  const BlockQ6_K* a = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sumi = 0;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = a[i].ql + 64 * h;
      const uint8_t* qh = a[i].qh + 32 * h;
      const int8_t* sc = a[i].scales + 8 * h;
      const int8_t* q8 = b[i].qs + 128 * h;
      int part[8] = {};  // per 16-group dot of this half
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        part[is] += (((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32) * q8[l];
        part[is + 2] += (((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32) * q8[l + 32];
        part[is + 4] += (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * q8[l + 64];
        part[is + 6] += (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * q8[l + 96];
      }
      for (int k = 0; k < 8; ++k) sumi += sc[k] * part[k];
    }
    s += fp16_to_f32(a[i].d) * b[i].d * static_cast<float>(sumi);
  }
  return s;
}

void to_f16(const float* src, void* dst, int64_t n) {
  quantize_row_ref(GgmlType::F16, src, dst, n);
}
void to_bf16(const float* src, void* dst, int64_t n) {
  quantize_row_ref(GgmlType::BF16, src, dst, n);
}
void to_q8_0(const float* src, void* dst, int64_t n) {
  quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
}
void to_q8_1(const float* src, void* dst, int64_t n) {
  quantize_q8_1(src, static_cast<BlockQ8_1*>(dst), n);
}
void to_q8_k(const float* src, void* dst, int64_t n) {
  quantize_q8_k(src, static_cast<BlockQ8_K*>(dst), n);
}

void silu_scalar(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}
void glu_scalar(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * (1.0f / (1.0f + std::exp(-b[i])));
}

void gelu_mul_scalar(const float* g, const float* u, float* y, int64_t n) {
  const fp16_t* table = gelu_f16_table();
  for (int64_t i = 0; i < n; ++i) {
    const float x = g[i];
    const float v = x <= -10.0f ? 0.0f : x >= 10.0f ? x : fp16_to_f32(table[f32_to_fp16(x)]);
    y[i] = v * u[i];
  }
}

void softcap_scalar(float* x, int64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * cap;
}

float log_sum_exp_scalar(const float* x, int64_t n) {
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  if (!std::isfinite(mx)) return mx;
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i] - mx));
  return mx + static_cast<float>(std::log(s));
}

// a . b over eight independent partial sums (one running float sum would be bound by the add latency).
float dot8_f32(const float* a, const float* b, int64_t n) {
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  for (; i < n; ++i) s[0] += a[i] * b[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void local_attend_scalar(const float* q, const float* k, const float* v, const float* rel, int64_t ld,
                         int n_keys, int64_t d, float cap, float* out) {
  float p[kMaxLocalKeys];  // scores, then exponentials
  float max = -INFINITY;
  for (int j = 0; j < n_keys; ++j) {
    const float x = dot8_f32(q, k - j * ld, d) + dot8_f32(q, rel + j * ld, d);
    p[j] = std::tanh(x * (1.0f / cap)) * cap;
    max = std::max(max, p[j]);
  }
  double sum = 0.0;
  for (int j = 0; j < n_keys; ++j) {
    p[j] = std::exp(p[j] - max);
    sum += p[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  std::fill(out, out + d, 0.0f);
  for (int j = 0; j < n_keys; ++j) {
    const float w = p[j] * inv;
    const float* vj = v - j * ld;
    for (int64_t i = 0; i < d; ++i) out[i] += w * vj[i];
  }
}

void rms_norm_scalar(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (w) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

// The attention twin's second half: s = exp(scale * (s - max)) in place over the window's keys and
// acc = sum_j s_j v_j in double; returns the max and the sum of the exponentials.
std::pair<float, double> exp_and_values(float* s, const KvWindow& win, int64_t hd, float scale,
                                        std::vector<double>& acc) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < win.n_keys; ++j) mx = std::max(mx, s[j]);
  double sum = 0;
  acc.assign(static_cast<size_t>(hd), 0.0);
  for (int64_t j = 0; j < win.n_keys; ++j) {
    s[j] = std::exp((s[j] - mx) * scale);
    sum += s[j];
    const fp16_t* v = j < win.n0 ? win.v0 + j * hd : win.v1 + (j - win.n0) * hd;
    for (int64_t i = 0; i < hd; ++i) acc[i] += static_cast<double>(s[j]) * fp16_to_f32(v[i]);
  }
  return {mx, sum};
}

// The attention twin: key dots in double, then exp_and_values.
void attend_f16_scalar(const float* q, int64_t n_q, int64_t hd, const KvWindow& win, float scale,
                       float* scores, float* out, float* m, float* l) {
  thread_local std::vector<double> qd, acc;
  qd.resize(static_cast<size_t>(hd));
  for (int64_t r = 0; r < n_q; ++r) {
    for (int64_t i = 0; i < hd; ++i) qd[i] = fp16_to_f32(f32_to_fp16(q[r * hd + i]));
    float* s = scores + r * win.n_keys;
    for (int64_t j = 0; j < win.n_keys; ++j) {
      const fp16_t* k = j < win.n0 ? win.k0 + j * hd : win.k1 + (j - win.n0) * hd;
      double d = 0;
      for (int64_t i = 0; i < hd; ++i) d += qd[i] * fp16_to_f32(k[i]);
      s[j] = static_cast<float>(d) * scale;
    }
    const auto [mx, sum] = exp_and_values(s, win, hd, 1.0f, acc);
    for (int64_t i = 0; i < hd; ++i) out[r * hd + i] = static_cast<float>(acc[i]);
    m[r] = mx;
    l[r] = static_cast<float>(sum);
  }
}

void softmax_values_f16_scalar(float* scores, int64_t ld, int64_t n_q, int64_t hd, const KvWindow& win,
                               float scale, float* out) {
  thread_local std::vector<double> acc;
  for (int64_t r = 0; r < n_q; ++r) {
    const double sum = exp_and_values(scores + r * ld, win, hd, scale, acc).second;
    for (int64_t i = 0; i < hd; ++i) out[r * hd + i] = static_cast<float>(acc[i] / sum);
  }
}

constexpr int id(GgmlType t) {
  return static_cast<int>(t);
}

}  // namespace

const fp16_t* gelu_f16_table() {
  static const std::vector<fp16_t> table = [] {
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    constexpr float kCoefA = 0.044715f;
    std::vector<fp16_t> t(65536 + 1, 0);
    for (uint32_t i = 0; i < 65536; ++i) {
      const float x = fp16_to_f32(static_cast<fp16_t>(i));
      t[i] = f32_to_fp16(0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoefA * x * x))));
    }
    return t;
  }();
  return table.data();
}

void fill_scalar(KernelTable& t) {
  t.silu = silu_scalar;
  t.glu = glu_scalar;
  t.gelu_mul = gelu_mul_scalar;
  t.softcap = softcap_scalar;
  t.log_sum_exp = log_sum_exp_scalar;
  t.local_attend = local_attend_scalar;
  t.rms_norm = rms_norm_scalar;
  t.attend_f16 = attend_f16_scalar;
  t.softmax_values_f16 = softmax_values_f16_scalar;
  t.dot[id(GgmlType::F32)] = dot_f32;
  t.dot[id(GgmlType::F16)] = dot_f16;
  t.dot[id(GgmlType::BF16)] = dot_bf16;
  t.dot[id(GgmlType::Q4_0)] = dot_q4_0;
  t.dot[id(GgmlType::Q4_1)] = dot_q4_1;
  t.dot[id(GgmlType::Q5_0)] = dot_q5_0;
  t.dot[id(GgmlType::Q5_1)] = dot_q5_1;
  t.dot[id(GgmlType::Q8_0)] = dot_q8_0;
  t.dot[id(GgmlType::Q2_K)] = dot_q2_k;
  t.dot[id(GgmlType::Q3_K)] = dot_q3_k;
  t.dot[id(GgmlType::Q4_K)] = dot_q4_k;
  t.dot[id(GgmlType::Q5_K)] = dot_q5_k;
  t.dot[id(GgmlType::Q6_K)] = dot_q6_k;
  t.from_float[id(GgmlType::F16)] = to_f16;
  t.from_float[id(GgmlType::BF16)] = to_bf16;
  t.from_float[id(GgmlType::Q8_0)] = to_q8_0;
  t.from_float[id(GgmlType::Q8_1)] = to_q8_1;
  t.from_float[id(GgmlType::Q8_K)] = to_q8_k;
}

}  // namespace hark::kernels
