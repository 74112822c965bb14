// The gemma4a tensors, bound by name from the mmproj (see weights.cpp for the table). Big matrices stay as
// views into the mmap'd file (any type kernels::matmul handles); where the CPU has the packed F16 GEMM, F16
// ones are also laid out for it once at load (a copy of the same size; the mapping's pages stay untouched).
// Norm weights and other small vectors are converted to F32 once at load.
#pragma once

#include <vector>

#include "core/fp16.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "models/gemma4a/encoder.h"

namespace hark::gemma4a {

// A ClippableLinear: y = clamp(W * clamp(x, in_min, in_max), out_min, out_max) + bias. Files carry the four
// bounds as 1-element tensors "<name>.input_min" etc.; a linear without them is unclamped.
struct Linear {
  kernels::WeightView w{};    // ne = [n_in, n_out]
  kernels::PackedF16 packed;  // an F16 w laid out for the packed GEMM, where the CPU has one
  std::vector<float> bias;    // [n_out]; empty when the file (or the graph at this place) has none
  bool clamped = false;
  float in_min = 0, in_max = 0, out_min = 0, out_max = 0;
};

struct Block {
  // RMSNorm weights, each [n_embd].
  std::vector<float> ffn_norm, ffn_post_norm, attn_pre_norm, attn_post_norm, ffn_norm_1, ffn_post_norm_1, ln2;
  // The light-conv norms. The GGUF names are swapped relative to their role (llama.cpp's converter maps
  // them so): "conv_norm" is the norm *before* conv_pw1, "norm_conv" the one after the depthwise conv.
  std::vector<float> conv_pre_norm, conv_dw_norm;
  Linear ffn_up, ffn_down;             // [n_embd -> n_ff], [n_ff -> n_embd]
  Linear ffn_up_1, ffn_down_1;         // second half-step FFN, same shapes
  Linear attn_q, attn_k, attn_v;       // [n_embd -> n_embd]
  Linear attn_out;                     // [n_embd -> n_embd]
  Linear attn_k_rel;                   // [n_embd -> n_embd], projects the sinusoidal relative positions
  std::vector<float> per_dim_scale;    // [d_head], multiplies Q
  std::vector<float> per_dim_k_scale;  // [d_head], multiplies K; empty when absent (E2B has none)
  Linear conv_pw1;                     // [n_embd -> 2*n_embd], then GLU
  std::vector<float> conv_dw;          // [n_embd][conv_kernel], causal depthwise kernel
  std::vector<float> conv_dw_bias;     // [n_embd]; empty when absent (E2B has none)
  Linear conv_pw2;                     // [n_embd -> n_embd]
};

struct Weights {
  // The two subsampling convs as matmuls over im2col patches: n_in = 3*3*c_in (ordered [c_in][kh][kw]),
  // n_out = c_out. Their LayerNorm weights are [c_out]. The kernels are held in F16 whatever the file's type:
  // ggml_conv_2d builds an F16 im2col and its matmul rounds the kernel to F16, and an F16 WeightView makes
  // kernels::matmul round the patches the same way. Matching that rounding is worth 3e-4 in rel_rms of the
  // output.
  Linear conv[2];
  std::vector<fp16_t> conv_f16[2];  // [c_out][c_in*3*3]
  std::vector<float> conv_norm[2];
  int conv_channels[2] = {0, 0};  // c_out of each conv
  int n_freq_out = 0;             // mel bins after both convs (128 -> 32)
  Linear input_proj;              // [n_freq_out*c1 -> n_embd]
  std::vector<Block> blocks;
  Linear pre_encode_out;             // [n_embd -> n_embd_pre], with bias
  std::vector<float> soft_emb_norm;  // [n_embd_pre]; empty: RMSNorm without weight (E2B)
  Linear mm_input_proj;              // [n_embd_pre -> n_embd_out]
};

// Reads the hyperparameters and binds every tensor; throws Error(kModelInvalid) naming what is wrong.
void load_weights(const gguf::File& f, Hparams& hp, Weights& w);

}  // namespace hark::gemma4a
