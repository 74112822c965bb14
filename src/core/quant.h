// Packed quantization blocks, bit-compatible with the tensors in ggml's GGUF files, and scalar reference
// conversions to and from f32. The block layouts are part of the file format: every struct below is
// pinned by a static_assert on its size, and field order is the byte order on disk.
//
// The reference code here is the ground truth the kernels layer is tested against: plain loops, no SIMD.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/fp16.h"
#include "core/ggml_type.h"

namespace hark {

constexpr int kQK4_0 = 32;
constexpr int kQK4_1 = 32;
constexpr int kQK5_0 = 32;
constexpr int kQK5_1 = 32;
constexpr int kQK8_0 = 32;
constexpr int kQK8_1 = 32;
constexpr int kQK_K = 256;        // super-block of the K-quants
constexpr int kKScaleBytes = 12;  // 8 six-bit scales + 8 six-bit mins of Q4_K/Q5_K

// x = d * (q - 8), q in [0, 15]. qs[j] holds element j (low nibble) and element j + 16 (high nibble).
struct BlockQ4_0 {
  fp16_t d;
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// x = d * q + m, q in [0, 15]; nibble order as Q4_0.
struct BlockQ4_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qs[kQK4_1 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// x = d * (q - 16), q in [0, 31]: low 4 bits as Q4_0, bit 4 of element j in bit j of qh (little endian).
struct BlockQ5_0 {
  fp16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// x = d * q + m, q in [0, 31]; bits as Q5_0.
struct BlockQ5_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

// x = d * q, q in [-127, 127].
struct BlockQ8_0 {
  fp16_t d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

// x = d * q; s = d * sum(q), so that a dot with a Q4_1/Q5_1 block can add its offset in one step.
struct BlockQ8_1 {
  fp16_t d;
  fp16_t s;
  int8_t qs[kQK8_1];
};
static_assert(sizeof(BlockQ8_1) == 36);

// 16 sub-blocks of 16: x = d * scale_j * q - dmin * min_j, q in [0, 3]; scales[j] = scale (low 4) | min
// (high 4). qs: two halves of 32 bytes; byte l of half h holds, in bit pairs 0-1 .. 6-7, element l of the
// four 32-runs of that half.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  fp16_t d;
  fp16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

// 16 sub-blocks of 16 with 6-bit scales stored +32 (see unpack_scale_q3k): x = d * (scale_j - 32) * (q - 4),
// q in [0, 7]: 2 low bits from qs (as Q2_K), bit 2 of element e in bit e / 32 of hmask[e % 32].
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  fp16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// 8 sub-blocks of 32: x = d * scale_j * q - dmin * min_j, q in [0, 15], 6-bit scale/min packed in
// `scales` (see unpack_scale_min_k4). qs: 4 groups of 32 bytes; group g holds sub-block 2g in the low
// nibbles and sub-block 2g + 1 in the high nibbles.
struct BlockQ4_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// As Q4_K with a fifth bit: q in [0, 31]; bit 4 of element l of sub-block j is bit j of qh[l % 32].
struct BlockQ5_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// 16 sub-blocks of 16: x = d * scales[j] * (q - 32), q in [0, 63]: low 4 bits in ql, high 2 in qh.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  fp16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// The activation format of the K-quant dot products: x = d * q (d is f32), bsums[j] = sum of the 16
// quants of group j, which lets the dot subtract the weight's per-sub-block minimum without a second pass.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

// Scale and min of sub-block j (0..7) of a Q4_K/Q5_K block, 6 bits each. Bytes 0-3 hold the low 6 bits of
// scales 0-3, bytes 4-7 those of mins 0-3; bytes 8-11 hold the low 4 bits of scale (low nibble) and min
// (high nibble) 4-7, whose top 2 bits sit in the spare top bits of bytes 0-3 (scales) and 4-7 (mins).
inline void unpack_scale_min_k4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Scale j (0..15) of a Q3_K block, already minus 32. Bytes 0-7 hold the low 4 bits (scales 0-7 in the low
// nibbles, 8-15 in the high nibbles); bytes 8-11 hold the top 2 bits, scale j at byte 8 + j % 4, bits
// 2 * (j / 4).
inline int unpack_scale_q3k(int j, const uint8_t* q) {
  const int low = j < 8 ? (q[j] & 0x0f) : (q[j - 8] >> 4);
  const int high = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// True when quantize_row_ref / dequantize_row_ref handle `type`.
bool quant_dequantize_supported(GgmlType type);
bool quant_quantize_supported(GgmlType type);

// Converts n elements (a multiple of the type's block size) of a row. Unsupported types throw
// hark::Error(kUnsupported).
void dequantize_row_ref(GgmlType type, const void* src, float* dst, int64_t n);
void quantize_row_ref(GgmlType type, const float* src, void* dst, int64_t n);

// Per-type reference conversions (n a multiple of the block size).
void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t n);
void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t n);
void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t n);
void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_q8_1(const BlockQ8_1* x, float* y, int64_t n);
void dequantize_q2_k(const BlockQ2_K* x, float* y, int64_t n);
void dequantize_q3_k(const BlockQ3_K* x, float* y, int64_t n);
void dequantize_q4_k(const BlockQ4_K* x, float* y, int64_t n);
void dequantize_q5_k(const BlockQ5_K* x, float* y, int64_t n);
void dequantize_q6_k(const BlockQ6_K* x, float* y, int64_t n);
void dequantize_q8_k(const BlockQ8_K* x, float* y, int64_t n);

void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t n);
void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t n);
void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t n);
// Q8_0/Q8_1 round as ggml's x86 CPU backend does when it quantizes activations: scale 127/amax, round to
// nearest even. llama.cpp's results on x86 therefore see the same activation quants as ours.
void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_q8_1(const float* x, BlockQ8_1* y, int64_t n);
void quantize_q2_k(const float* x, BlockQ2_K* y, int64_t n);
void quantize_q3_k(const float* x, BlockQ3_K* y, int64_t n);
void quantize_q4_k(const float* x, BlockQ4_K* y, int64_t n);
void quantize_q5_k(const float* x, BlockQ5_K* y, int64_t n);
void quantize_q6_k(const float* x, BlockQ6_K* y, int64_t n);
// As ggml's reference (also what its x86 backend runs): scale -127/max with max the signed element of
// largest magnitude.
void quantize_q8_k(const float* x, BlockQ8_K* y, int64_t n);

}  // namespace hark
