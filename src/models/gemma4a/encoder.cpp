#include "models/gemma4a/encoder.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "core/huge_buffer.h"
#include "kernels/kernels.h"
#include "models/gemma4a/ops.h"
#include "models/gemma4a/weights.h"

namespace hark::gemma4a {
namespace {

// Fixed by the architecture (HF Gemma4AudioConfig: attention_chunk_size 12, attention_context_left 13,
// attention_context_right 0, attention_logit_cap 50; the mmproj carries no keys for them). The blocked
// mask keeps keys at distance 0..11 from the query, so attention is a causal window of 12 positions.
constexpr int kAttnWindow = 12;
constexpr float kSoftcap = 50.0f;
// The FFN halves are added with weight 0.5 (Macaron-style conformer).
constexpr float kFfnResidualWeight = 0.5f;

// Activations of a chunk (750 tokens: 3-16 MB each), rewritten by every block: on 2 MiB pages.
using Buf = HugeVector<float>;

void record(Trace* trace, const std::string& name, const Buf& x, int64_t n) {
  if (!trace) return;
  trace->tensors[name + "." + std::to_string(trace->chunk)].assign(x.begin(), x.begin() + n);
}

// Scratch buffers of one encode call, sized once for n_tok tokens.
struct Scratch {
  Buf h;    // [n_tok][n_embd] normed input of a sub-module
  Buf ff;   // [n_tok][max(n_ff, 2*n_embd)] FFN hidden / conv_pw1 output
  Buf o;    // [n_tok][n_embd] sub-module output
  Buf q;    // [n_tok][n_embd]
  Buf k;    // [n_tok][n_embd]
  Buf v;    // [n_tok][n_embd]
  Buf rel;  // [kAttnWindow][n_embd] projected relative positions
};

// x += 0.5 * post_norm(down(silu(up(norm(x)))))
void half_ffn(const Hparams& hp, const std::vector<float>& norm, const Linear& up, const Linear& down,
              const std::vector<float>& post_norm, int64_t n, Buf& x, Scratch& s, ThreadPool& pool) {
  const int64_t E = hp.n_embd;
  kernels::rms_norm(x.data(), norm.data(), s.h.data(), n, E, hp.eps, &pool);
  ops::linear(up, s.h.data(), n, s.ff.data(), pool);
  ops::silu(s.ff.data(), n * hp.n_ff, pool);
  ops::linear(down, s.ff.data(), n, s.o.data(), pool);
  kernels::rms_norm(s.o.data(), post_norm.data(), s.o.data(), n, E, hp.eps, &pool);
  ops::add_scaled(x.data(), s.o.data(), n * E, kFfnResidualWeight, pool);
}

// x += post_norm(out(local_attention(norm(x))))
void attention(const Hparams& hp, const Block& L, const std::vector<float>& pos, int64_t n, Buf& x,
               Scratch& s, ThreadPool& pool) {
  const int64_t E = hp.n_embd;
  const int D = hp.d_head;
  kernels::rms_norm(x.data(), L.attn_pre_norm.data(), s.h.data(), n, E, hp.eps, &pool);
  ops::linear(L.attn_q, s.h.data(), n, s.q.data(), pool);
  ops::linear(L.attn_k, s.h.data(), n, s.k.data(), pool);
  ops::linear(L.attn_v, s.h.data(), n, s.v.data(), pool);
  // Q is scaled by d^-0.5 / softplus(0) and the learned per-dim scale; K by softplus(1) / softplus(0)
  // (llama.cpp's gemma4a graph; softplus(0) = ln 2).
  const float q_scale = (1.0f / std::sqrt(static_cast<float>(D))) / std::log(2.0f);
  const float k_scale = std::log(1.0f + std::exp(1.0f)) / std::log(2.0f);
  const float* q_dim = L.per_dim_scale.data();
  const float* k_dim = L.per_dim_k_scale.empty() ? nullptr : L.per_dim_k_scale.data();
  pool.parallel_for(n * hp.n_head, 64, [&](int64_t b, int64_t e) {  // one head of one token per row
    for (int64_t r = b; r < e; ++r) {
      float* qr = s.q.data() + r * D;
      float* kr = s.k.data() + r * D;
      for (int d = 0; d < D; ++d) qr[d] = (qr[d] * q_scale) * q_dim[d];
      for (int d = 0; d < D; ++d) kr[d] *= k_scale;
      if (k_dim)
        for (int d = 0; d < D; ++d) kr[d] *= k_dim[d];
    }
  });
  // rel [kAttnWindow][E]: row d is the projection of the timing signal of distance d.
  ops::linear(L.attn_k_rel, pos.data(), kAttnWindow, s.rel.data(), pool);
  ops::local_attention(s.q.data(), s.k.data(), s.v.data(), s.rel.data(), n, hp.n_head, D, kAttnWindow,
                       kSoftcap, s.h.data(), pool);
  ops::linear(L.attn_out, s.h.data(), n, s.o.data(), pool);
  kernels::rms_norm(s.o.data(), L.attn_post_norm.data(), s.o.data(), n, E, hp.eps, &pool);
  ops::add_scaled(x.data(), s.o.data(), n * E, 1.0f, pool);
}

// x += pw2(silu(norm(dwconv(glu(pw1(norm(x)))))))
void light_conv(const Hparams& hp, const Block& L, int64_t n, Buf& x, Scratch& s, ThreadPool& pool) {
  const int64_t E = hp.n_embd;
  kernels::rms_norm(x.data(), L.conv_pre_norm.data(), s.h.data(), n, E, hp.eps, &pool);
  ops::linear(L.conv_pw1, s.h.data(), n, s.ff.data(), pool);  // [n][2E]
  ops::glu(s.ff.data(), s.o.data(), n, E, pool);              // [n][E]
  ops::depthwise_causal_conv(s.o.data(), s.h.data(), n, E, L.conv_dw.data(), hp.conv_kernel, pool);
  if (!L.conv_dw_bias.empty())
    for (int64_t i = 0; i < n * E; ++i) s.h[i] += L.conv_dw_bias[i % E];
  kernels::rms_norm(s.h.data(), L.conv_dw_norm.data(), s.h.data(), n, E, hp.eps, &pool);
  ops::silu(s.h.data(), n * E, pool);
  ops::linear(L.conv_pw2, s.h.data(), n, s.o.data(), pool);
  ops::add_scaled(x.data(), s.o.data(), n * E, 1.0f, pool);
}

}  // namespace

AudioEncoder::AudioEncoder(AudioEncoder&&) noexcept = default;
AudioEncoder& AudioEncoder::operator=(AudioEncoder&&) noexcept = default;
AudioEncoder::~AudioEncoder() = default;

AudioEncoder AudioEncoder::load(const gguf::File& mmproj) {
  AudioEncoder enc;
  enc.w_ = std::make_unique<Weights>();
  load_weights(mmproj, enc.hp_, *enc.w_);
  return enc;
}

int AudioEncoder::n_tokens_for_frames(int n_frames) {
  int n = n_frames;
  for (int i = 0; i < 2; ++i) n = (n + 1) / 2;
  return n;
}

std::vector<float> AudioEncoder::encode(std::span<const float> mel, int n_frames, ThreadPool& pool,
                                        Trace* trace) const {
  const Hparams& hp = hp_;
  const Weights& w = *w_;
  if (n_frames <= 0 || mel.size() != static_cast<size_t>(hp.n_mel) * static_cast<size_t>(n_frames))
    throw Error(Errc::kInvalidArgument, "gemma4a encoder: mel holds " + std::to_string(mel.size()) +
                                            " values, expected " + std::to_string(hp.n_mel) + " bins x " +
                                            std::to_string(n_frames) + " frames");
  const int64_t E = hp.n_embd;

  // --- Subsampling: two stride-2 convs over (time, frequency), channels innermost.
  // in0 [n_frames][n_mel][1]: the mel transposed so time is the outer axis.
  Buf in0(mel.size());
  pool.parallel_for(n_frames, 64, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      for (int f = 0; f < hp.n_mel; ++f) in0[t * hp.n_mel + f] = mel[static_cast<size_t>(f) * n_frames + t];
  });
  const int t1 = (n_frames + 1) / 2, f1 = (hp.n_mel + 1) / 2;
  const int c0 = w.conv_channels[0], c1 = w.conv_channels[1];
  Buf s1(static_cast<size_t>(t1) * f1 * c0);  // [t1][f1][c0]
  ops::conv2d_s2(in0.data(), n_frames, hp.n_mel, 1, w.conv[0], s1.data(), pool);
  ops::layer_norm(s1.data(), s1.data(), static_cast<int64_t>(t1) * f1, c0, w.conv_norm[0].data(), hp.eps,
                  pool);
  ops::relu(s1.data(), static_cast<int64_t>(s1.size()), pool);

  const int n = (t1 + 1) / 2, f2 = (f1 + 1) / 2;
  Buf s2(static_cast<size_t>(n) * f2 * c1);  // [n][f2][c1] = [n][f2*c1] flattened
  ops::conv2d_s2(s1.data(), t1, f1, c0, w.conv[1], s2.data(), pool);
  ops::layer_norm(s2.data(), s2.data(), static_cast<int64_t>(n) * f2, c1, w.conv_norm[1].data(), hp.eps,
                  pool);
  ops::relu(s2.data(), static_cast<int64_t>(s2.size()), pool);

  Buf x(static_cast<size_t>(n * E));  // [n][E] the conformer's residual stream
  ops::linear(w.input_proj, s2.data(), n, x.data(), pool);
  record(trace, "audio.subsampled", x, n * E);

  // --- Conformer blocks.
  Scratch s;
  s.h.resize(static_cast<size_t>(n * E));
  s.ff.resize(static_cast<size_t>(n) * std::max<int64_t>(hp.n_ff, 2 * E));
  s.o.resize(static_cast<size_t>(n * E));
  s.q.resize(static_cast<size_t>(n * E));
  s.k.resize(static_cast<size_t>(n * E));
  s.v.resize(static_cast<size_t>(n * E));
  s.rel.resize(static_cast<size_t>(kAttnWindow * E));
  std::vector<float> pos(static_cast<size_t>(kAttnWindow * E));  // [kAttnWindow][E] timing signal by distance
  ops::timing_signal(kAttnWindow, static_cast<int>(E), pos.data());

  for (int il = 0; il < hp.n_layer; ++il) {
    const Block& L = w.blocks[static_cast<size_t>(il)];
    half_ffn(hp, L.ffn_norm, L.ffn_up, L.ffn_down, L.ffn_post_norm, n, x, s, pool);
    attention(hp, L, pos, n, x, s, pool);
    light_conv(hp, L, n, x, s, pool);
    half_ffn(hp, L.ffn_norm_1, L.ffn_up_1, L.ffn_down_1, L.ffn_post_norm_1, n, x, s, pool);
    kernels::rms_norm(x.data(), L.ln2.data(), x.data(), n, E, hp.eps, &pool);
    record(trace, "audio.block" + std::to_string(il), x, n * E);
  }

  // --- Output projection and the multimodal embedder.
  const int64_t n_pre = w.pre_encode_out.w.n_out;
  Buf pre(static_cast<size_t>(n * n_pre));  // [n][n_pre]
  ops::linear(w.pre_encode_out, x.data(), n, pre.data(), pool);
  kernels::rms_norm(pre.data(), w.soft_emb_norm.empty() ? nullptr : w.soft_emb_norm.data(), pre.data(), n,
                    n_pre, hp.eps, &pool);
  std::vector<float> out(static_cast<size_t>(n) * hp.n_embd_out);  // [n][n_embd_out]
  ops::linear(w.mm_input_proj, pre.data(), n, out.data(), pool);
  return out;
}

}  // namespace hark::gemma4a
