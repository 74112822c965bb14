// The constants of the SIMD exp (act_avx512.cpp's exp16, attend_avx2.cpp's exp8), one algorithm at two
// widths: x clamped to [-kExpClamp, kExpClamp] (exp stays a normal float), k = round(x * log2(e)),
// r = x - k ln 2 in two steps (ln 2 = hi + lo, hi exact in few bits, so r keeps its low bits), e^r from its
// degree-6 Taylor polynomial (truncation below 1.2e-7 relative, |r| <= ln 2 / 2), then times 2^k.
#pragma once

namespace hark::kernels::exp_poly {

constexpr float kClamp = 87.0f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693145751953125f;
constexpr float kLn2Lo = 1.42860682030941723e-6f;
// Horner order: p = kTaylor[0]; p = p * r + kTaylor[i] for i = 1..6.
constexpr float kTaylor[7] = {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f};

}  // namespace hark::kernels::exp_poly
