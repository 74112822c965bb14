// The forward pass, in the order of llama.cpp's gemma4 graph (src/models/gemma4-iswa.cpp there):
//
//   x = token row * sqrt(n_embd)  |  embedding row as is
//   ple[l] = (rms_norm(W_ple_proj x / sqrt(n_embd)) + ple_tok_row[l] * sqrt(n_ple)) / sqrt(2)
//   per layer: x += post_attn_norm(W_o attn(q_norm(W_q h), k_norm(W_k h), rms_norm(W_v h)))   h =
//   attn_norm(x)
//              x += post_ffn_norm(W_down (gelu(W_gate h) * W_up h))                           h = ffn_norm(x)
//              x += post_norm(W_proj (gelu(W_inp_gate x) * ple[l]));  x *= layer_output_scale
//   logits = softcap(W_out output_norm(x))
//
// Embedding rows (audio) use the per-layer token row of token 0 (padding), as llama.cpp does.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ggml_type.h"
#include "models/gemma4/model.h"
#include "models/gemma4/ops.h"

namespace hark::gemma4 {
namespace {

// Gemma 4 relies on the q/k norms and uses no 1/sqrt(head_dim) factor in the attention scores.
constexpr float kAttnScale = 1.0f;

template <typename V>
auto* grow(V& v, int64_t n) {
  const size_t want = static_cast<size_t>(n);
  if (v.size() < want) v.resize(std::max(want, v.size() * 2));
  return v.data();
}

const uint8_t* row_ptr(const kernels::WeightView& w, int64_t row) {
  return static_cast<const uint8_t*>(w.data) + static_cast<size_t>(row) * ggml_row_size(w.type, w.n_in);
}

// fn(b, e) over [0, n) in chunks on the pool: the element-wise passes over the FFN width, the attention
// window's values and the vocabulary (softcap's tanh over 262144 logits per token) would otherwise run on
// one core while the other waits. Same per-element results in any split.
template <typename F>
void elementwise(ThreadPool& pool, int64_t n, F&& fn) {
  constexpr int64_t kGrain = 4096;
  if (n < 2 * kGrain) {
    fn(0, n);
    return;
  }
  pool.parallel_for(n, kGrain, fn);
}

// fn(b, e) over rows [0, n_rows) of row_size floats each, on the pool in chunks of at least 4096 floats.
template <typename F>
void by_rows(ThreadPool& pool, int64_t n_rows, int64_t row_size, F&& fn) {
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(row_size, 1));
  if (n_rows < 2 * grain) {
    fn(0, n_rows);
    return;
  }
  pool.parallel_for(n_rows, grain, fn);
}

// The calling thread's scratch for one position's RoPE angles (rope_angles).
float* rope_scratch(int64_t n_rot) {
  thread_local std::vector<float> cs;
  cs.resize(static_cast<size_t>(n_rot));
  return cs.data();
}

void add_into(ThreadPool& pool, float* x, const float* y, int64_t n) {
  elementwise(pool, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] += y[i];
  });
}

}  // namespace

void TextModel::forward(KvCache& cache, std::span<const Input> inputs, std::vector<float>& logits,
                        ThreadPool& pool, const Trace& trace) const {
  if (static_cast<int64_t>(cache.layers_.size()) != hp_.n_layer_kv)
    throw Error(Errc::kInvalidArgument, "KV cache was made for a different model");
  int64_t n_out = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    if ((in.embd != nullptr) == (in.token >= 0))
      throw Error(Errc::kInvalidArgument,
                  "batch input " + std::to_string(i) + " must be either a token id or an embedding row");
    if (in.token >= hp_.n_vocab)
      throw Error(Errc::kInvalidArgument, "token id " + std::to_string(in.token) +
                                              " is outside the vocabulary of " + std::to_string(hp_.n_vocab));
    n_out += in.logits ? 1 : 0;
  }
  const int64_t n = static_cast<int64_t>(inputs.size());
  if (cache.n_past_ + n > cache.n_ctx_)
    throw Error(Errc::kResourceExhausted, "context is full: " + std::to_string(cache.n_past_) +
                                              " positions + " + std::to_string(n) + " new exceed n_ctx " +
                                              std::to_string(cache.n_ctx_));
  logits.resize(static_cast<size_t>(n_out * hp_.n_vocab));
  float* out = logits.data();
  for (int64_t b = 0; b < n; b += cache.n_ubatch_) {
    const auto ub =
        inputs.subspan(static_cast<size_t>(b), static_cast<size_t>(std::min(cache.n_ubatch_, n - b)));
    forward_ubatch(cache, ub, out, pool, trace);
    for (const Input& in : ub) out += in.logits ? hp_.n_vocab : 0;
  }
}

void TextModel::forward_ubatch(KvCache& c, std::span<const Input> inputs, float* logits, ThreadPool& pool,
                               const Trace& trace) const {
  const HParams& hp = hp_;
  KvCache::Scratch& s = c.s_;
  const int64_t T = static_cast<int64_t>(inputs.size());
  const int64_t E = hp.n_embd;
  const int64_t pos0 = c.n_past_;
  const float eps = hp.norm_eps;

  float* x = grow(s.x, T * E);  // [T][E]
  float* h = grow(s.h, T * E);  // [T][E]
  float* o = grow(s.o, T * E);  // [T][E]

  // Embedding rows are read through the file, not the mapping: a 262144-row table touched one row per
  // token would otherwise stay mapped a folio at a time and grow RSS with every new token id.
  auto embedding_row = [&](const kernels::WeightView& w, int32_t id, float* dst) {
    const size_t bytes = ggml_row_size(w.type, w.n_in);
    uint8_t* buf = grow(s.row_bytes, static_cast<int64_t>(bytes));
    file_->copy_bytes(row_ptr(w, id), bytes, buf);
    kernels::dequantize_row(w.type, buf, dst, w.n_in);
  };
  const float embd_scale = std::sqrt(static_cast<float>(E));
  for (int64_t t = 0; t < T; ++t) {
    float* xt = x + t * E;
    if (inputs[t].token >= 0) {
      embedding_row(tok_embd_, inputs[t].token, xt);
      for (int64_t i = 0; i < E; ++i) xt[i] *= embd_scale;
    } else {
      std::memcpy(xt, inputs[t].embd, static_cast<size_t>(E) * sizeof(float));
    }
  }
  if (trace) trace("text.inp_scaled", pos0, T, E, x);

  // Per-layer inputs, computed once from the scaled input for all layers.
  const int64_t n_epl = hp.n_embd_per_layer;
  const int64_t P = n_epl * hp.n_layer;
  float* ple = nullptr;  // [T][n_layer][n_epl]
  if (n_epl > 0) {
    ple = grow(s.ple, T * P);
    float* proj = grow(s.ple_tmp, T * P);  // [T][n_layer][n_epl]
    kernels::matmul(ple_model_proj_, x, T, proj, &pool);
    const float proj_scale = 1.0f / std::sqrt(static_cast<float>(E));
    for (int64_t i = 0; i < T * P; ++i) proj[i] *= proj_scale;
    kernels::rms_norm(proj, ple_proj_norm_.data(), proj, T * hp.n_layer, n_epl, eps, &pool);
    const float tok_scale = std::sqrt(static_cast<float>(n_epl));
    const float input_scale = 1.0f / std::sqrt(2.0f);
    for (int64_t t = 0; t < T; ++t) {
      float* pt = ple + t * P;
      const int32_t id = inputs[t].token >= 0 ? inputs[t].token : 0;
      embedding_row(ple_tok_embd_, id, pt);
      for (int64_t i = 0; i < P; ++i) pt[i] = (proj[t * P + i] + pt[i] * tok_scale) * input_scale;
    }
  }

  // Active rows: row r holds input rows[r] (position pos0 + rows[r]). All rows take part up to the last
  // layer that writes K/V; the KV-shared layers after it only compute queries, so from there on only the
  // rows that produce logits matter (all rows when tracing, so the traces stay complete).
  int32_t* rows = grow(s.rows, T);  // [n]
  for (int64_t t = 0; t < T; ++t) rows[t] = static_cast<int32_t>(t);
  int64_t n = T;

  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (il == hp.n_layer_kv && !trace) {
      int64_t kept = 0;
      for (int64_t r = 0; r < n; ++r) {
        if (!inputs[rows[r]].logits) continue;
        if (kept != r) {
          std::memcpy(x + kept * E, x + r * E, static_cast<size_t>(E) * sizeof(float));
          if (ple) std::memcpy(ple + kept * P, ple + r * P, static_cast<size_t>(P) * sizeof(float));
        }
        rows[kept++] = rows[r];
      }
      n = kept;
      if (n == 0) break;
    }
    const Layer& L = layers_[il];
    const int64_t hd = hp.head_dim(il);
    const int64_t n_ff = hp.n_ff[il];

    // Attention block.
    kernels::rms_norm(x, L.attn_norm.data(), h, n, E, eps, &pool);
    float* q = grow(s.q, n * hp.n_head * hd);  // [n][n_head][hd]
    kernels::matmul(L.wq, h, n, q, &pool);
    kernels::rms_norm(q, L.q_norm.data(), q, n * hp.n_head, hd, eps, &pool);
    const float* freq_factors = hp.is_swa[il] ? nullptr : rope_freqs_.data();
    by_rows(pool, n, hp.n_head * hd, [&](int64_t b, int64_t e) {
      float* cs = rope_scratch(hp.n_rot(il));
      for (int64_t r = b; r < e; ++r) {
        rope_angles(hp.n_rot(il), pos0 + rows[r], hp.rope_base(il), freq_factors, cs);
        for (int64_t hh = 0; hh < hp.n_head; ++hh)
          rope_apply(q + (r * hp.n_head + hh) * hd, hp.n_rot(il), cs);
      }
    });

    if (il < hp.n_layer_kv) {  // here n == T and rows[r] == r
      const int64_t nkv = hp.n_head_kv * hd;
      float* k = grow(s.k, T * nkv);  // [T][n_head_kv][hd]
      float* v = grow(s.v, T * nkv);  // [T][n_head_kv][hd]
      kernels::matmul(L.wk, h, T, k, &pool);
      if (L.wv.data) {
        kernels::matmul(L.wv, h, T, v, &pool);
      } else {
        std::memcpy(v, k, static_cast<size_t>(T * nkv) * sizeof(float));
      }
      kernels::rms_norm(k, L.k_norm.data(), k, T * hp.n_head_kv, hd, eps, &pool);
      kernels::rms_norm(v, nullptr, v, T * hp.n_head_kv, hd, eps, &pool);
      KvCache::Layer& kv = c.layers_[il];
      by_rows(pool, T, nkv, [&](int64_t b, int64_t e) {
        float* cs = rope_scratch(hp.n_rot(il));
        for (int64_t t = b; t < e; ++t) {
          const int64_t slot = (pos0 + t) % kv.capacity;
          rope_angles(hp.n_rot(il), pos0 + t, hp.rope_base(il), freq_factors, cs);
          for (int64_t g = 0; g < hp.n_head_kv; ++g) {
            float* kt = k + (t * hp.n_head_kv + g) * hd;
            const float* vt = v + (t * hp.n_head_kv + g) * hd;
            rope_apply(kt, hp.n_rot(il), cs);
            fp16_t* kd = kv.k.data() + (g * kv.capacity + slot) * hd;
            fp16_t* vd = kv.v.data() + (g * kv.capacity + slot) * hd;
            for (int64_t i = 0; i < hd; ++i) {
              kd[i] = f32_to_fp16(kt[i]);
              vd[i] = f32_to_fp16(vt[i]);
            }
          }
        }
      });
    }
    attention(c, il, pos0, n, pool);
    kernels::matmul(L.wo, s.attn.data(), n, o, &pool);
    kernels::rms_norm(o, L.post_attn_norm.data(), o, n, E, eps, &pool);
    add_into(pool, x, o, n * E);

    // Feed-forward block.
    kernels::rms_norm(x, L.ffn_norm.data(), h, n, E, eps, &pool);
    float* gate = grow(s.gate, n * n_ff);  // [n][n_ff]
    float* up = grow(s.up, n * n_ff);      // [n][n_ff]
    kernels::matmul(L.ffn_gate, h, n, gate, &pool);
    kernels::matmul(L.ffn_up, h, n, up, &pool);
    elementwise(pool, n * n_ff,
                [&](int64_t b, int64_t e) { kernels::gelu_mul(gate + b, up + b, gate + b, e - b); });
    kernels::matmul(L.ffn_down, gate, n, o, &pool);
    kernels::rms_norm(o, L.post_ffn_norm.data(), o, n, E, eps, &pool);
    add_into(pool, x, o, n * E);

    // Per-layer embedding.
    if (n_epl > 0) {
      float* pg = grow(s.ple_gate, n * n_epl);  // [n][n_epl]
      kernels::matmul(L.ple_gate, x, n, pg, &pool);
      for (int64_t r = 0; r < n; ++r)
        kernels::gelu_mul(pg + r * n_epl, ple + r * P + il * n_epl, pg + r * n_epl, n_epl);
      kernels::matmul(L.ple_proj, pg, n, o, &pool);
      kernels::rms_norm(o, L.ple_post_norm.data(), o, n, E, eps, &pool);
      add_into(pool, x, o, n * E);
    }
    elementwise(pool, n * E, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) x[i] *= L.out_scale;
    });
    if (trace) trace("text.l_out-" + std::to_string(il), pos0, T, E, x);
  }

  // Final norm and LM head, only for the rows that want logits.
  if (trace) {
    kernels::rms_norm(x, output_norm_.data(), h, T, E, eps, &pool);
    trace("text.h_nextn", pos0, T, E, h);
  }
  float* out = grow(s.out, n * E);  // [n_out][E]
  int64_t n_out = 0;
  for (int64_t r = 0; r < n; ++r) {
    if (!inputs[rows[r]].logits) continue;
    std::memcpy(out + n_out * E, x + r * E, static_cast<size_t>(E) * sizeof(float));
    ++n_out;
  }
  if (n_out > 0) {
    kernels::rms_norm(out, output_norm_.data(), out, n_out, E, eps, &pool);
    kernels::matmul(output_, out, n_out, logits, &pool);
    if (hp.final_softcap > 0.0f) {
      elementwise(pool, n_out * hp.n_vocab,
                  [&](int64_t b, int64_t e) { kernels::softcap(logits + b, e - b, hp.final_softcap); });
    }
  }
  c.n_past_ += T;
}

// Attention of the n active query rows (positions pos0 + rows[r], increasing) against the cache of layer
// kv_layer[il]. Queries go in blocks (bounding the score buffer); per block and kv head the scores come
// from one gemm_f16 of the queries (rounded to F16 by the kernel, as llama.cpp does) against the F16 keys
// of the block's window, then each token's key range gets softmax and the weighted sum of the values, all
// heads of the kv head at once. One row (a decode step) goes to attention_step.
void TextModel::attention(KvCache& c, int64_t il, int64_t pos0, int64_t n, ThreadPool& pool) const {
  const HParams& hp = hp_;
  KvCache::Scratch& s = c.s_;
  const KvCache::Layer& kv = c.layers_[hp.kv_layer[il]];
  const int32_t* rows = s.rows.data();
  const int64_t hd = hp.head_dim(il);
  const int64_t per_kv = hp.n_head / hp.n_head_kv;
  const bool swa = hp.is_swa[il];
  const int64_t cap = kv.capacity;
  assert(kv.head_dim == hd);
  float* attn = grow(s.attn, n * hp.n_head * hd);  // [n][n_head][hd]
  if (n == 1) {
    attention_step(c, il, pos0 + rows[0], pool);
    return;
  }

  constexpr int64_t kMaxScores = int64_t{1} << 22;  // floats per score block (16 MiB)
  const int64_t span = rows[n - 1] - rows[0] + 1;
  const int64_t full_win =
      swa ? std::min(pos0 + rows[n - 1] + 1, hp.n_swa + span - 1) : pos0 + rows[n - 1] + 1;
  const int64_t tb = std::clamp<int64_t>(kMaxScores / (per_kv * full_win), 1, n);
  for (int64_t t0 = 0; t0 < n; t0 += tb) {
    const int64_t nt = std::min(tb, n - t0);
    const int64_t p_first = pos0 + rows[t0];
    const int64_t lo = swa ? std::max<int64_t>(0, p_first - hp.n_swa + 1) : 0;  // oldest key needed
    const int64_t n_win = pos0 + rows[t0 + nt - 1] + 1 - lo;
    assert(n_win <= cap);
    const int64_t first_slot = lo % cap;
    const int64_t n_first = std::min(n_win, cap - first_slot);  // slots before the ring wraps
    const int64_t n_q = nt * per_kv;                            // query rows of one kv head
    float* qg = grow(s.qg, n_q * hd);                           // [nt][per_kv][hd]
    float* scores = grow(s.scores, n_q * n_win);                // [nt][per_kv][n_win]
    for (int64_t g = 0; g < hp.n_head_kv; ++g) {
      for (int64_t t = 0; t < nt; ++t)
        std::memcpy(qg + t * per_kv * hd, s.q.data() + ((t0 + t) * hp.n_head + g * per_kv) * hd,
                    static_cast<size_t>(per_kv * hd) * sizeof(float));
      const fp16_t* kbase = kv.k.data() + g * cap * hd;
      const fp16_t* vbase = kv.v.data() + g * cap * hd;
      const fp16_t* kw = kbase + first_slot * hd;
      if (n_first < n_win) {  // wrapped: gather the two pieces of the window
        fp16_t* kg = grow(s.kwin, n_win * hd);
        std::memcpy(kg, kw, static_cast<size_t>(n_first * hd) * sizeof(fp16_t));
        std::memcpy(kg + n_first * hd, kbase, static_cast<size_t>((n_win - n_first) * hd) * sizeof(fp16_t));
        kw = kg;
      }
      kernels::gemm_f16({GgmlType::F16, kw, hd, n_win}, qg, n_q, scores, &pool);
      // Per token, its heads of this group share the token's key range: softmax and value sums in one
      // kernel call over the F16 value rows of the range.
      const kernels::KvWindow win{
          kbase + first_slot * hd, vbase + first_slot * hd, n_first, kbase, vbase, n_win};
      const auto softmax_and_sum = [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const int64_t p = pos0 + rows[t0 + t];
          const int64_t j0 = (swa ? std::max(lo, p - hp.n_swa + 1) : 0) - lo;
          const int64_t j1 = p - lo + 1;  // exclusive
          kernels::softmax_values_f16(scores + t * per_kv * n_win + j0, n_win, per_kv, hd,
                                      kernels::window_range(win, hd, j0, j1), kAttnScale,
                                      attn + ((t0 + t) * hp.n_head + g * per_kv) * hd);
        }
      };
      // A few rows are not worth waking the pool for.
      if (n_q * n_win * hd < (int64_t{1} << 16)) {
        softmax_and_sum(0, nt);
      } else {
        pool.parallel_for(nt, 1, softmax_and_sum);
      }
    }
  }
}

// One query row (a decode step) at position p: every head sees the same window, so the step is one
// attend_f16 over the cached F16 keys and values (kernels.h), its key ranges split over the pool.
void TextModel::attention_step(KvCache& c, int64_t il, int64_t p, ThreadPool& pool) const {
  const HParams& hp = hp_;
  const KvCache::Layer& kv = c.layers_[hp.kv_layer[il]];
  const int64_t hd = hp.head_dim(il);
  const int64_t cap = kv.capacity;
  const int64_t lo = hp.is_swa[il] ? std::max<int64_t>(0, p - hp.n_swa + 1) : 0;  // oldest key seen
  const int64_t n_win = p + 1 - lo;
  assert(n_win <= cap);
  const int64_t first_slot = lo % cap;
  const int64_t n_first = std::min(n_win, cap - first_slot);  // slots before the ring wraps
  const fp16_t* kb = kv.k.data();
  const fp16_t* vb = kv.v.data();
  const kernels::KvWindow win{kb + first_slot * hd, vb + first_slot * hd, n_first, kb, vb, n_win};
  kernels::attend_f16({c.s_.q.data(), hp.n_head_kv, hp.n_head / hp.n_head_kv, hd, win, cap * hd, kAttnScale,
                       c.s_.attn.data()},
                      &pool);
}

}  // namespace hark::gemma4
