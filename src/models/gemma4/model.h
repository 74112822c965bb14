// Gemma 4 text decoder (llama.cpp architecture `gemma4`, dense variants E2B/E4B) on the CPU.
//
// The model is a stack of pre/post-normed attention + GELU-gated FFN blocks with three Gemma 4 specifics:
// per-layer embeddings (PLE) that add a small token-dependent vector to each layer's output, interleaved
// sliding-window / full-attention layers with their own head size and RoPE, and KV sharing (the last
// `shared_kv_layers` layers read the cache of the last earlier layer of the same kind). The computation
// follows llama.cpp's graph for this architecture, including where it rounds to F16 (the K/V cache and the
// query of the attention dot products), so results track its goldens. docs/gemma4.md has the details.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/fp16.h"
#include "core/huge_buffer.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace hark::gemma4 {

// Hyperparameters, all read from the GGUF keys `gemma4.*` and validated on load.
struct HParams {
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_embd_per_layer = 0;  // PLE width per layer; 0 = no per-layer embeddings
  int64_t n_ctx_train = 0;
  int64_t n_swa = 0;          // sliding window: a query at p sees keys at p - n_swa + 1 .. p
  int64_t head_dim_full = 0;  // key_length = value_length of full-attention layers
  int64_t head_dim_swa = 0;   // key_length_swa = value_length_swa of sliding layers
  int64_t n_rot_full = 0;     // rotated dimensions per head
  int64_t n_rot_swa = 0;
  float rope_base_full = 0;
  float rope_base_swa = 0;
  float norm_eps = 0;
  float final_softcap = 0;        // 0 = no soft-capping of the logits
  int64_t n_layer_kv = 0;         // layers [0, n_layer_kv) compute and store their own K/V
  std::vector<bool> is_swa;       // [n_layer]
  std::vector<int64_t> n_ff;      // [n_layer] FFN width
  std::vector<int64_t> kv_layer;  // [n_layer] whose cache the layer reads (itself when il < n_layer_kv)

  static HParams from_gguf(const gguf::File& file);
  int64_t head_dim(int64_t il) const { return is_swa[il] ? head_dim_swa : head_dim_full; }
  int64_t n_rot(int64_t il) const { return is_swa[il] ? n_rot_swa : n_rot_full; }
  float rope_base(int64_t il) const { return is_swa[il] ? rope_base_swa : rope_base_full; }
};

// One position of a batch: a token id, or an embedding row that enters the model as is (audio).
struct Input {
  int32_t token = -1;           // vocabulary id, or -1 when `embd` is set
  const float* embd = nullptr;  // [n_embd], must stay valid during forward()
  bool logits = false;          // produce logits for this position

  static Input tok(int32_t id, bool want_logits = false) { return {id, nullptr, want_logits}; }
  static Input embedding(const float* row, bool want_logits = false) { return {-1, row, want_logits}; }
};

// Receives named intermediates during forward(): `n_rows` consecutive positions starting at `first_pos`,
// each `n_cols` wide, row-major. Names: text.inp_scaled, text.l_out-<layer>, text.h_nextn.
using Trace = std::function<void(std::string_view name, int64_t first_pos, int64_t n_rows, int64_t n_cols,
                                 const float* data)>;

class TextModel;

// The state of one sequence: K/V of every layer that owns a cache (F16, as llama.cpp stores them; full
// layers linearly by position, sliding layers in a ring of n_swa + n_ubatch slots) plus scratch buffers
// sized on first use, so steady-state decoding allocates nothing. Both on 2 MiB pages where large (a
// ubatch's activations are rewritten by every layer).
class KvCache {
 public:
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return n_past_; }  // positions already in the cache
  void clear() { n_past_ = 0; }

 private:
  friend class TextModel;
  struct Layer {
    int64_t capacity = 0;  // slots per kv head; position p lives in slot p % capacity
    int64_t head_dim = 0;
    HugeVector<fp16_t> k;  // [n_head_kv][capacity][head_dim]
    HugeVector<fp16_t> v;  // [n_head_kv][capacity][head_dim]
  };
  struct Scratch {
    std::vector<int32_t> rows;       // [n] batch index of each active row (see forward_ubatch)
    HugeVector<float> x;             // [T][n_embd] residual stream
    HugeVector<float> h;             // [T][n_embd] normed input of a sub-block
    HugeVector<float> o;             // [T][n_embd] sub-block output
    HugeVector<float> q;             // [T][n_head][head_dim]
    HugeVector<float> k;             // [T][n_head_kv][head_dim]
    HugeVector<float> v;             // [T][n_head_kv][head_dim]
    HugeVector<float> attn;          // [T][n_head][head_dim]
    HugeVector<float> gate;          // [T][n_ff]
    HugeVector<float> up;            // [T][n_ff]
    HugeVector<float> ple;           // [T][n_layer][n_embd_per_layer] per-layer inputs
    HugeVector<float> ple_tmp;       // [T][n_layer * n_embd_per_layer]
    std::vector<uint8_t> row_bytes;  // one embedding row as stored, read from the file
    HugeVector<float> ple_gate;      // [T][n_embd_per_layer]
    HugeVector<float> qg;            // [rows][head_dim] queries of one kv head, rows = T * heads per kv head
    HugeVector<float> scores;        // [rows][window] attention weights
    HugeVector<fp16_t> kwin;         // [window][head_dim] K gathered when the ring wraps
    HugeVector<float> out;           // [n_out][n_embd] final-normed rows that produce logits
  };
  std::vector<Layer> layers_;  // [n_layer_kv]
  int64_t n_ctx_ = 0;
  int64_t n_ubatch_ = 0;
  int64_t n_past_ = 0;
  Scratch s_;
};

class TextModel {
 public:
  // Binds every tensor by name and checks its shape and type; a missing or misshapen tensor or a bad
  // hyperparameter throws Error(kModelInvalid) naming it. The matrices every token streams are copied
  // into anonymous memory on 2 MiB pages: read through the file's mapping (4 KiB page-table entries),
  // decode on the dev VM was ~10 % slower at Q4_K_M and ~25 % at Q8_0, and a copy on 4 KiB pages won back
  // only part of that. The two embedding tables, of which a token reads one row each, stay in the file,
  // which the model keeps alive (the first overload copies the File object, which shares the mapping).
  // Where that memory cannot be had, the matrices are read through the mapping instead.
  static TextModel load(const gguf::File& file);
  static TextModel load(std::shared_ptr<const gguf::File> file);

  const HParams& hparams() const { return hp_; }

  // A cache for up to n_ctx positions; forward() splits batches into ubatches of at most n_ubatch.
  KvCache new_cache(int64_t n_ctx, int64_t n_ubatch = 512) const;

  // Runs `inputs` at positions cache.n_past() onward, appends their K/V and writes logits [n][n_vocab]
  // for the inputs that ask for them, in order. Bad inputs (token id out of range, neither/both of token
  // and embedding) throw Error(kInvalidArgument) and a full cache Error(kResourceExhausted), both before
  // the cache changes.
  void forward(KvCache& cache, std::span<const Input> inputs, std::vector<float>& logits, ThreadPool& pool,
               const Trace& trace = nullptr) const;

 private:
  struct Layer {
    kernels::WeightView wq, wk, wv, wo;  // wk/wv unset on KV-shared layers; wv unset = V from K
    kernels::WeightView ffn_gate, ffn_up, ffn_down;
    kernels::WeightView ple_gate, ple_proj;  // [n_embd -> n_embd_per_layer], [n_embd_per_layer -> n_embd]
    std::vector<float> attn_norm, q_norm, k_norm, post_attn_norm;  // [n_embd] / [head_dim]
    std::vector<float> ffn_norm, post_ffn_norm, ple_post_norm;     // [n_embd]
    float out_scale = 1.0f;
  };

  void forward_ubatch(KvCache& cache, std::span<const Input> inputs, float* logits, ThreadPool& pool,
                      const Trace& trace) const;
  void attention(KvCache& cache, int64_t il, int64_t pos0, int64_t n_rows, ThreadPool& pool) const;
  void attention_step(KvCache& cache, int64_t il, int64_t pos, ThreadPool& pool) const;

  // Copies the matrices every token reads into resident_ (see load).
  void copy_weights_to_memory();

  std::shared_ptr<const gguf::File> file_;
  HugeBuffer resident_;  // the matrices of every layer, the input projections and the LM head
  HParams hp_;
  kernels::WeightView tok_embd_;  // [n_embd -> n_vocab], also the LM head unless `output` exists
  kernels::WeightView output_;
  kernels::WeightView ple_tok_embd_;    // [n_layer * n_embd_per_layer -> n_vocab]
  kernels::WeightView ple_model_proj_;  // [n_embd -> n_layer * n_embd_per_layer]
  std::vector<float> ple_proj_norm_;    // [n_embd_per_layer]
  std::vector<float> output_norm_;      // [n_embd]
  std::vector<float> rope_freqs_;       // [head_dim_full / 2] divisors of the full layers' frequencies
  std::vector<Layer> layers_;
};

}  // namespace hark::gemma4
