#include "models/gemma4a/weights.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "kernels/kernels.h"

namespace hark::gemma4a {
namespace {

[[noreturn]] void invalid(const gguf::File& f, const std::string& what) {
  throw Error(Errc::kModelInvalid, f.name() + ": " + what + " (is this a gemma4a mmproj file?)");
}

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ne[i]);
  }
  s += ']';
  return s;
}

// A positive integer hyperparameter.
int get_positive(const gguf::File& f, const std::string& key) {
  if (!f.has(key)) invalid(f, "missing key " + key);
  const int64_t v = f.get_int(key);
  if (v <= 0 || v > (1 << 20)) invalid(f, "key " + key + " = " + std::to_string(v) + " is out of range");
  return static_cast<int>(v);
}

class Binder {
 public:
  explicit Binder(const gguf::File& f) : f_(f) {}

  const gguf::TensorInfo* find(const std::string& name) const { return f_.find_tensor(name); }

  // The tensor `name` with exactly the shape `ne` (ggml order).
  const gguf::TensorInfo& require(const std::string& name, const std::vector<int64_t>& ne) const {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    if (!t) invalid(f_, "missing tensor " + name);
    if (t->ne != ne)
      invalid(f_, "tensor " + name + " has shape " + shape_str(t->ne) + ", expected " + shape_str(ne));
    return *t;
  }

  // A small vector (norm weight, scale, bias) as F32.
  std::vector<float> vec(const std::string& name, int64_t n) const {
    const gguf::TensorInfo* found = f_.find_tensor(name);
    if (!found) invalid(f_, "missing tensor " + name);
    // Converters sometimes keep broadcast shapes such as [1, 1, n] for biases: any shape holding the n
    // values along one axis is accepted.
    if (found->n_elements() != n || std::find(found->ne.begin(), found->ne.end(), n) == found->ne.end())
      invalid(f_, "tensor " + name + " has shape " + shape_str(found->ne) + ", expected [" +
                      std::to_string(n) + "]");
    const gguf::TensorInfo& t = *found;
    if (t.type != GgmlType::F32 && t.type != GgmlType::F16 && t.type != GgmlType::BF16)
      invalid(f_, "tensor " + name + " has unsupported type " + std::string(ggml_type_name(t.type)));
    std::vector<float> v(static_cast<size_t>(n));
    kernels::dequantize_row(t.type, f_.tensor_data(t).data(), v.data(), n);
    return v;
  }
  std::vector<float> vec_opt(const std::string& name, int64_t n) const {
    return find(name) ? vec(name, n) : std::vector<float>{};
  }

  // Any float tensor of n elements, converted to F16.
  std::vector<fp16_t> to_f16(const std::string& name, int64_t n) const {
    const gguf::TensorInfo* t = find(name);
    if (!t || t->n_elements() != n) invalid(f_, "tensor " + name + " is missing or misshapen");
    if (t->type != GgmlType::F32 && t->type != GgmlType::F16 && t->type != GgmlType::BF16)
      invalid(f_, "tensor " + name + " has unsupported type " + std::string(ggml_type_name(t->type)));
    std::vector<float> v(static_cast<size_t>(n));
    kernels::dequantize_row(t->type, f_.tensor_data(*t).data(), v.data(), n);
    std::vector<fp16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_fp16(v[i]);
    return h;
  }

  float scalar(const std::string& name) const { return vec(name, 1)[0]; }

  // A ClippableLinear "<base>.weight" of n_in -> n_out (ggml ne = [n_in, n_out]) with its optional clamp
  // bounds, its F16 weight packed for the GEMM. Biases are bound by the caller, only where llama.cpp's graph
  // adds one.
  Linear linear(const std::string& base, int64_t n_in, int64_t n_out) const {
    Linear l = unpacked_linear(base, n_in, n_out);
    pack(l);
    return l;
  }

  // linear() without the packed copy, and with the conv shape `ne` when given: for the subsampling convs,
  // whose weight the caller replaces (and packs) first.
  Linear unpacked_linear(const std::string& base, int64_t n_in, int64_t n_out,
                         std::vector<int64_t> ne = {}) const {
    const std::string name = base + ".weight";
    if (ne.empty()) ne = {n_in, n_out};
    const gguf::TensorInfo& t = require(name, ne);
    if (!kernels::has_matmul(t.type) || n_in % ggml_type_info(t.type).block_size != 0)
      invalid(f_, "tensor " + name + " has unsupported type " + std::string(ggml_type_name(t.type)) +
                      " for rows of " + std::to_string(n_in));
    Linear l;
    l.w = kernels::WeightView{t.type, f_.tensor_data(t).data(), n_in, n_out};
    const bool has_any = find(base + ".input_min") || find(base + ".input_max") ||
                         find(base + ".output_min") || find(base + ".output_max");
    if (has_any) {
      l.clamped = true;
      l.in_min = scalar(base + ".input_min");
      l.in_max = scalar(base + ".input_max");
      l.out_min = scalar(base + ".output_min");
      l.out_max = scalar(base + ".output_max");
      if (!(l.in_min <= l.in_max) || !(l.out_min <= l.out_max))
        invalid(f_, "clamp bounds of " + base + " are empty or NaN");
    }
    return l;
  }

  // Lays out an F16 weight once for the packed GEMM (a copy as large as the weight). Rows inside the file
  // are read through copy_bytes, so the mapping's pages are never touched and stay out of resident memory.
  void pack(Linear& l) const {
    l.packed = {};
    if (l.w.type != GgmlType::F16) return;
    const auto* src = static_cast<const fp16_t*>(l.w.data);
    const auto* p = reinterpret_cast<const uint8_t*>(src);
    const bool in_file = p >= f_.base() && p < f_.base() + f_.file_size();
    l.packed = kernels::pack_f16(l.w.n_in, l.w.n_out, [&](int64_t row0, int64_t n, fp16_t* dst) {
      const fp16_t* rows = src + row0 * l.w.n_in;
      const size_t bytes = static_cast<size_t>(n * l.w.n_in) * sizeof(fp16_t);
      if (in_file) {
        f_.copy_bytes(reinterpret_cast<const uint8_t*>(rows), bytes, dst);
      } else {
        std::memcpy(dst, rows, bytes);
      }
    });
  }

 private:
  const gguf::File& f_;
};

}  // namespace

void load_weights(const gguf::File& f, Hparams& hp, Weights& w) {
  const std::string proj = f.get_string("clip.audio.projector_type", f.get_string("clip.projector_type", ""));
  if (proj != "gemma4a") invalid(f, "clip.audio.projector_type is \"" + proj + "\", expected \"gemma4a\"");

  hp.n_mel = get_positive(f, "clip.audio.num_mel_bins");
  hp.n_embd = get_positive(f, "clip.audio.embedding_length");
  hp.n_ff = get_positive(f, "clip.audio.feed_forward_length");
  hp.n_layer = get_positive(f, "clip.audio.block_count");
  hp.n_head = get_positive(f, "clip.audio.attention.head_count");
  hp.n_embd_out = get_positive(f, "clip.audio.projection_dim");
  hp.eps = static_cast<float>(f.get_float("clip.audio.attention.layer_norm_epsilon", 1e-6));
  if (!(hp.eps > 0.0f && hp.eps < 1.0f))
    invalid(f, "clip.audio.attention.layer_norm_epsilon is out of range");
  if (hp.n_embd % hp.n_head != 0)
    invalid(f, "clip.audio.embedding_length " + std::to_string(hp.n_embd) +
                   " is not a multiple of head_count " + std::to_string(hp.n_head));
  hp.d_head = hp.n_embd / hp.n_head;

  const Binder b(f);
  const int64_t E = hp.n_embd;

  // Subsampling: conv ne = [kw=3, kh=3, c_in, c_out]; each halves time and frequency (ceil).
  int c_in = 1;
  int n_freq = hp.n_mel;
  for (int i = 0; i < 2; ++i) {
    const std::string base = "a.conv1d." + std::to_string(i);
    const gguf::TensorInfo* t = b.find(base + ".weight");
    if (!t) invalid(f, "missing tensor " + base + ".weight");
    if (t->ne.size() != 4 || t->ne[3] <= 0 || t->ne[3] > 4096)
      invalid(f, "tensor " + base + ".weight has shape " + shape_str(t->ne) + ", expected [3,3," +
                     std::to_string(c_in) + ",c_out]");
    const int c_out = static_cast<int>(t->ne[3]);
    w.conv[i] = b.unpacked_linear(base, 9LL * c_in, c_out, {3, 3, c_in, c_out});
    if (w.conv[i].clamped)
      invalid(f, "tensor " + base + ".weight: a clamped subsampling conv is not supported");
    w.conv_f16[i] = b.to_f16(base + ".weight", 9LL * c_in * c_out);
    w.conv[i].w = kernels::WeightView{GgmlType::F16, w.conv_f16[i].data(), 9LL * c_in, c_out};
    b.pack(w.conv[i]);
    w.conv[i].bias = b.vec_opt(base + ".bias", c_out);
    w.conv_norm[i] = b.vec(base + ".norm.weight", c_out);
    w.conv_channels[i] = c_out;
    c_in = c_out;
    n_freq = (n_freq + 1) / 2;
  }
  w.n_freq_out = n_freq;
  w.input_proj = b.linear("a.input_projection", static_cast<int64_t>(n_freq) * c_in, E);
  w.input_proj.bias = b.vec_opt("a.input_projection.bias", E);

  w.blocks.resize(static_cast<size_t>(hp.n_layer));
  for (int il = 0; il < hp.n_layer; ++il) {
    Block& L = w.blocks[static_cast<size_t>(il)];
    const std::string p = "a.blk." + std::to_string(il) + ".";
    L.ffn_norm = b.vec(p + "ffn_norm.weight", E);
    L.ffn_up = b.linear(p + "ffn_up", E, hp.n_ff);
    L.ffn_down = b.linear(p + "ffn_down", hp.n_ff, E);
    L.ffn_post_norm = b.vec(p + "ffn_post_norm.weight", E);
    L.attn_pre_norm = b.vec(p + "attn_pre_norm.weight", E);
    L.attn_q = b.linear(p + "attn_q", E, E);
    L.attn_k = b.linear(p + "attn_k", E, E);
    L.attn_v = b.linear(p + "attn_v", E, E);
    L.attn_out = b.linear(p + "attn_out", E, E);
    L.attn_out.bias = b.vec_opt(p + "attn_out.bias", E);
    L.attn_k_rel = b.linear(p + "attn_k_rel", E, E);
    L.per_dim_scale = b.vec(p + "per_dim_scale.weight", hp.d_head);
    L.per_dim_k_scale = b.vec_opt(p + "per_dim_k_scale.weight", hp.d_head);
    L.attn_post_norm = b.vec(p + "attn_post_norm.weight", E);
    L.conv_pre_norm = b.vec(p + "conv_norm.weight", E);
    L.conv_pw1 = b.linear(p + "conv_pw1", E, 2 * E);
    const gguf::TensorInfo* dw = b.find(p + "conv_dw.weight");
    if (!dw) invalid(f, "missing tensor " + p + "conv_dw.weight");
    if (dw->ne.size() != 2 || dw->ne[1] != E || dw->ne[0] < 1 || dw->ne[0] > 64)
      invalid(f, "tensor " + p + "conv_dw.weight has shape " + shape_str(dw->ne) + ", expected [kernel," +
                     std::to_string(E) + "]");
    if (il == 0) hp.conv_kernel = static_cast<int>(dw->ne[0]);
    if (dw->ne[0] != hp.conv_kernel)
      invalid(f, "tensor " + p + "conv_dw.weight: kernel width differs from block 0");
    {
      const gguf::TensorInfo& t = b.require(p + "conv_dw.weight", {hp.conv_kernel, E});
      if (t.type != GgmlType::F32 && t.type != GgmlType::F16 && t.type != GgmlType::BF16)
        invalid(f,
                "tensor " + p + "conv_dw.weight has unsupported type " + std::string(ggml_type_name(t.type)));
      L.conv_dw.resize(static_cast<size_t>(hp.conv_kernel * E));
      kernels::dequantize_row(t.type, f.tensor_data(t).data(), L.conv_dw.data(), hp.conv_kernel * E);
    }
    L.conv_dw_bias = b.vec_opt(p + "conv_dw.bias", E);
    L.conv_dw_norm = b.vec(p + "norm_conv.weight", E);
    L.conv_pw2 = b.linear(p + "conv_pw2", E, E);
    L.ffn_norm_1 = b.vec(p + "ffn_norm_1.weight", E);
    L.ffn_up_1 = b.linear(p + "ffn_up_1", E, hp.n_ff);
    L.ffn_down_1 = b.linear(p + "ffn_down_1", hp.n_ff, E);
    L.ffn_post_norm_1 = b.vec(p + "ffn_post_norm_1.weight", E);
    L.ln2 = b.vec(p + "ln2.weight", E);
  }

  const gguf::TensorInfo* pre = b.find("a.pre_encode.out.weight");
  if (!pre) invalid(f, "missing tensor a.pre_encode.out.weight");
  if (pre->ne.size() != 2 || pre->ne[0] != E || pre->ne[1] <= 0 || pre->ne[1] > (1 << 16))
    invalid(f, "tensor a.pre_encode.out.weight has shape " + shape_str(pre->ne) + ", expected [" +
                   std::to_string(E) + ",n]");
  const int64_t n_pre = pre->ne[1];
  w.pre_encode_out = b.linear("a.pre_encode.out", E, n_pre);
  w.pre_encode_out.bias = b.vec_opt("a.pre_encode.out.bias", n_pre);
  w.soft_emb_norm = b.vec_opt("mm.a.soft_emb_norm.weight", n_pre);
  w.mm_input_proj = b.linear("mm.a.input_projection", n_pre, hp.n_embd_out);
}

}  // namespace hark::gemma4a
