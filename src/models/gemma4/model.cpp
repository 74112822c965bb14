// Loading: tensor names, shapes and types as llama.cpp expects them for `gemma4` (src/llama-arch.cpp
// names, ggml ne order: ne[0] = input width of a matrix).
#include "models/gemma4/model.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/ggml_type.h"
#include "kernels/kernels.h"

namespace hark::gemma4 {
namespace {

[[noreturn]] void invalid(const std::string& msg) {
  throw Error(Errc::kModelInvalid, "gemma4 model: " + msg);
}

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

class Binder {
 public:
  explicit Binder(const gguf::File& f) : f_(f) {}

  const gguf::TensorInfo* find(const std::string& name, std::vector<int64_t> want, bool required) const {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    if (!t) {
      if (required) invalid("missing tensor '" + name + "'");
      return nullptr;
    }
    std::vector<int64_t> have = t->ne;
    while (have.size() > want.size() && have.back() == 1) have.pop_back();
    if (have != want)
      invalid("tensor '" + name + "' has shape " + shape_str(t->ne) + ", expected " + shape_str(want));
    return t;
  }

  // A matrix with n_out rows of n_in; an empty view when optional and absent.
  kernels::WeightView matrix(const std::string& name, int64_t n_in, int64_t n_out,
                             bool required = true) const {
    const gguf::TensorInfo* t = find(name, {n_in, n_out}, required);
    if (!t) return {};
    if (!kernels::has_matmul(t->type))
      invalid("tensor '" + name + "' has type " + std::string(ggml_type_name(t->type)) +
              ", which hark cannot multiply");
    if (n_in % ggml_type_info(t->type).block_size != 0)
      invalid("tensor '" + name + "' rows of " + std::to_string(n_in) + " do not fill whole " +
              std::string(ggml_type_name(t->type)) + " blocks");
    return {t->type, f_.tensor_data(*t).data(), n_in, n_out};
  }

  // A vector (norm weights, scales), converted to F32.
  std::vector<float> vec(const std::string& name, int64_t n, bool required = true) const {
    const gguf::TensorInfo* t = find(name, {n}, required);
    if (!t) return {};
    if (t->type != GgmlType::F32 && t->type != GgmlType::F16 && t->type != GgmlType::BF16)
      invalid("tensor '" + name + "' must be F32, F16 or BF16, not " + std::string(ggml_type_name(t->type)));
    std::vector<float> out(static_cast<size_t>(n));
    kernels::dequantize_row(t->type, f_.tensor_data(*t).data(), out.data(), n);
    return out;
  }

 private:
  const gguf::File& f_;
};

std::string blk(int64_t il, const char* name) {
  return "blk." + std::to_string(il) + "." + name + ".weight";
}

}  // namespace

TextModel TextModel::load(const gguf::File& file) {
  return load(std::make_shared<const gguf::File>(file));
}

TextModel TextModel::load(std::shared_ptr<const gguf::File> file) {
  TextModel m;
  m.file_ = std::move(file);
  const gguf::File& f = *m.file_;
  m.hp_ = HParams::from_gguf(f);
  HParams& hp = m.hp_;
  const Binder b(f);

  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) invalid("missing tensor 'token_embd.weight'");
  if (embd->ne.size() < 2 || embd->ne[1] <= 0) invalid("tensor 'token_embd.weight' must be a matrix");
  hp.n_vocab = embd->ne[1];
  const int64_t n_embd = hp.n_embd;
  m.tok_embd_ = b.matrix("token_embd.weight", n_embd, hp.n_vocab);
  m.output_ = b.matrix("output.weight", n_embd, hp.n_vocab, false);
  if (!m.output_.data) m.output_ = m.tok_embd_;  // tied LM head
  m.output_norm_ = b.vec("output_norm.weight", n_embd);

  const int64_t n_epl = hp.n_embd_per_layer;
  if (n_epl > 0) {
    m.ple_tok_embd_ = b.matrix("per_layer_token_embd.weight", n_epl * hp.n_layer, hp.n_vocab);
    m.ple_model_proj_ = b.matrix("per_layer_model_proj.weight", n_embd, n_epl * hp.n_layer);
    m.ple_proj_norm_ = b.vec("per_layer_proj_norm.weight", n_epl);
  }
  const bool any_full = std::find(hp.is_swa.begin(), hp.is_swa.end(), false) != hp.is_swa.end();
  if (any_full) {
    m.rope_freqs_ = b.vec("rope_freqs.weight", hp.head_dim_full / 2);
    if (static_cast<int64_t>(m.rope_freqs_.size()) < hp.n_rot_full / 2)
      invalid("rope_freqs.weight is shorter than rope.dimension_count / 2");
    for (float ff : m.rope_freqs_)
      if (!(ff > 0.0f)) invalid("rope_freqs.weight holds a factor that is not positive");
  }

  m.layers_.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    Layer& L = m.layers_[il];
    const int64_t hd = hp.head_dim(il);
    const int64_t n_ff = hp.n_ff[il];
    const bool own_kv = il < hp.n_layer_kv;
    L.attn_norm = b.vec(blk(il, "attn_norm"), n_embd);
    L.wq = b.matrix(blk(il, "attn_q"), n_embd, hd * hp.n_head);
    // KV-shared layers may still carry attn_k/attn_v/attn_k_norm (released files do); they go unused.
    if (own_kv) {
      L.wk = b.matrix(blk(il, "attn_k"), n_embd, hd * hp.n_head_kv);
      L.wv = b.matrix(blk(il, "attn_v"), n_embd, hd * hp.n_head_kv, false);
      L.k_norm = b.vec(blk(il, "attn_k_norm"), hd);
    }
    L.wo = b.matrix(blk(il, "attn_output"), hd * hp.n_head, n_embd);
    L.q_norm = b.vec(blk(il, "attn_q_norm"), hd);
    L.post_attn_norm = b.vec(blk(il, "post_attention_norm"), n_embd);
    L.ffn_norm = b.vec(blk(il, "ffn_norm"), n_embd);
    L.ffn_gate = b.matrix(blk(il, "ffn_gate"), n_embd, n_ff);
    L.ffn_up = b.matrix(blk(il, "ffn_up"), n_embd, n_ff);
    L.ffn_down = b.matrix(blk(il, "ffn_down"), n_ff, n_embd);
    L.post_ffn_norm = b.vec(blk(il, "post_ffw_norm"), n_embd);
    const std::vector<float> scale = b.vec(blk(il, "layer_output_scale"), 1, false);
    if (!scale.empty()) L.out_scale = scale[0];
    if (n_epl > 0) {
      L.ple_gate = b.matrix(blk(il, "inp_gate"), n_embd, n_epl);
      L.ple_proj = b.matrix(blk(il, "proj"), n_epl, n_embd);
      L.ple_post_norm = b.vec(blk(il, "post_norm"), n_embd);
    }
  }
  m.copy_weights_to_memory();
  return m;
}

void TextModel::copy_weights_to_memory() {
  std::vector<kernels::WeightView*> views{&output_, &ple_model_proj_};
  for (Layer& L : layers_) {
    for (kernels::WeightView* w :
         {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down, &L.ple_gate, &L.ple_proj})
      views.push_back(w);
  }
  std::erase_if(views, [](const kernels::WeightView* w) { return w->data == nullptr; });
  auto bytes_of = [](const kernels::WeightView* w) {
    return ggml_row_size(w->type, w->n_in) * static_cast<size_t>(w->n_out);
  };
  constexpr size_t kAlign = 64;
  std::vector<size_t> at;  // [views] offset of each copy in resident_
  size_t total = 0;
  for (const kernels::WeightView* w : views) {
    at.push_back(total);
    total += (bytes_of(w) + kAlign - 1) / kAlign * kAlign;
  }
  try {
    resident_ = HugeBuffer(total);
  } catch (const Error&) {
    return;  // kResourceExhausted: the kernels read the mapping instead
  }
  auto* base = static_cast<uint8_t*>(resident_.data());
  // In pieces of 4 MiB shared out over two threads, so a large LM head is not left to one of them.
  constexpr size_t kPiece = size_t{4} << 20;
  struct Piece {
    const uint8_t* src;
    uint8_t* dst;
    size_t n;
  };
  std::vector<Piece> pieces;
  for (size_t i = 0; i < views.size(); ++i) {
    const auto* src = static_cast<const uint8_t*>(views[i]->data);
    const size_t bytes = bytes_of(views[i]);
    for (size_t off = 0; off < bytes; off += kPiece)
      pieces.push_back({src + off, base + at[i] + off, std::min(kPiece, bytes - off)});
  }
  run_in_two([&](int64_t first, int64_t step) {
    for (size_t i = static_cast<size_t>(first); i < pieces.size(); i += static_cast<size_t>(step))
      file_->copy_bytes(pieces[i].src, pieces[i].n, pieces[i].dst);
  });
  for (size_t i = 0; i < views.size(); ++i) views[i]->data = base + at[i];
}

KvCache TextModel::new_cache(int64_t n_ctx, int64_t n_ubatch) const {
  if (n_ctx <= 0 || n_ctx > (int64_t{1} << 24))
    throw Error(Errc::kInvalidArgument, "context size " + std::to_string(n_ctx) + " is out of range");
  if (n_ubatch <= 0) throw Error(Errc::kInvalidArgument, "ubatch size must be positive");
  KvCache c;
  c.n_ctx_ = n_ctx;
  c.n_ubatch_ = std::min(n_ubatch, n_ctx);
  c.layers_.resize(static_cast<size_t>(hp_.n_layer_kv));
  for (int64_t il = 0; il < hp_.n_layer_kv; ++il) {
    KvCache::Layer& L = c.layers_[il];
    L.head_dim = hp_.head_dim(il);
    // A sliding layer needs the window behind the oldest query of a ubatch plus the ubatch itself.
    L.capacity = hp_.is_swa[il] ? std::min(n_ctx, hp_.n_swa + c.n_ubatch_) : n_ctx;
    const size_t n = static_cast<size_t>(hp_.n_head_kv * L.capacity * L.head_dim);
    L.k.assign(n, 0);
    L.v.assign(n, 0);
  }
  return c;
}

}  // namespace hark::gemma4
