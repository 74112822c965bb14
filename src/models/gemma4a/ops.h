// The gemma4a building blocks below the matmul: norms, the subsampling convolution, the depthwise causal
// convolution and the chunked local attention. Rows are tokens (or positions), row-major, and every
// function spreads its rows over the pool. Float semantics follow ggml's CPU ops (double accumulation in
// norms and softmax sums) so results track llama.cpp closely.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "models/gemma4a/weights.h"

namespace hark::gemma4a::ops {

// y[n][n_out] = clamp(W * clamp(x[n][n_in])) + bias, through kernels::matmul (any weight type).
void linear(const Linear& l, const float* x, int64_t n, float* y, ThreadPool& pool);

// y = (x - mean) / sqrt(var + eps) * w over rows of d (LayerNorm without bias). y may alias x.
void layer_norm(const float* x, float* y, int64_t n_rows, int64_t d, const float* w, float eps,
                ThreadPool& pool);

void silu(float* x, int64_t n, ThreadPool& pool);
// x += y * scale (the residual adds; y * 1.0f is exact, so scale 1 is a plain add).
void add_scaled(float* x, const float* y, int64_t n, float scale, ThreadPool& pool);
void relu(float* x, int64_t n, ThreadPool& pool);

// 3x3 convolution, stride 2, zero padding 1 on all sides, channels innermost:
//   in [t_in][f_in][c_in] -> out [ceil(t_in/2)][ceil(f_in/2)][w.n_out]
// computed as im2col patches [c_in][kh][kw] (the ggml kernel layout [kw,kh,c_in,c_out]) times the kernel.
void conv2d_s2(const float* in, int t_in, int f_in, int c_in, const Linear& w, float* out, ThreadPool& pool);

// GLU: y[t][c] = x[t][c] * sigmoid(x[t][d + c]) for x [n][2d] -> y [n][d].
void glu(const float* x, float* y, int64_t n, int64_t d, ThreadPool& pool);

// Causal depthwise conv over time: y[t][c] = sum_k w[c][k] * x[t - (K-1) + k][c], x[<0] = 0.
//   x [n][d], w [d][K] -> y [n][d]
void depthwise_causal_conv(const float* x, float* y, int64_t n, int64_t d, const float* w, int k,
                           ThreadPool& pool);

// Chunked local self-attention with relative positions, as the USM conformer defines it. Each query t sees
// the keys t-(window-1) .. t (window = 12 for Gemma 4: chunks of 12 with a 12-position past horizon, the
// distance-12 slot of the context always masked). Score = softcap(q.k + q.rel[t-s]) with rel[d] the
// projected sinusoidal embedding of distance d; softmax; weighted sum of v.
//   q, k, v [n][n_head*d_head] (already scaled), rel [window][n_head*d_head] -> out [n][n_head*d_head]
void local_attention(const float* q, const float* k, const float* v, const float* rel, int64_t n, int n_head,
                     int d_head, int window, float softcap, float* out, ThreadPool& pool);

// Sinusoidal timing signal of `n_pos` positions 0..n_pos-1: row p = [sin(p*inv_ts[i]) | cos(p*inv_ts[i])],
// inv_ts[i] = exp(-i * ln(1e4) / (d/2 - 1)).  -> out [n_pos][d]
void timing_signal(int n_pos, int d, float* out);

}  // namespace hark::gemma4a::ops
