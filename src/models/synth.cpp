#include "models/synth.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace hark::models {
namespace {

struct TextShape {
  int n_embd, n_layer, n_head, n_head_kv, head_dim_swa, head_dim_full, n_ple, swa, shared_kv, full_every;
  std::vector<int32_t> ffn;  // per layer
};

struct AudioShape {
  int n_embd, n_layer, n_head, n_ff, conv_ch0, conv_ch1, out_dims;
};

TextShape text_shape(SynthShape s) {
  switch (s) {
    case SynthShape::kTiny: {
      TextShape t{64, 10, 2, 1, 64, 128, 16, 128, 5, 5, {}};
      for (int i = 0; i < 10; ++i) t.ffn.push_back(i < 5 ? 256 : 512);
      return t;
    }
    case SynthShape::kE2B: {
      TextShape t{1536, 35, 8, 1, 256, 512, 256, 512, 20, 5, {}};
      for (int i = 0; i < 35; ++i) t.ffn.push_back(i < 15 ? 6144 : 12288);
      return t;
    }
    case SynthShape::kE4B: {
      TextShape t{2560, 42, 8, 2, 256, 512, 256, 512, 18, 6, {}};
      for (int i = 0; i < 42; ++i) t.ffn.push_back(10240);
      return t;
    }
  }
  throw Error(Errc::kInvalidArgument, "unknown shape");
}

AudioShape audio_shape(SynthShape s) {
  if (s == SynthShape::kTiny) return {64, 2, 2, 256, 16, 8, 96};
  return {1024, 12, 8, 4096, 128, 32, 1536};  // the same conformer for E2B and E4B
}

bool is_full_layer(const TextShape& t, int il) {
  return (il + 1) % t.full_every == 0;
}

// llama-quantize's "use more bits" rule for attn_v / ffn_down in the _M mixes.
bool more_bits(int il, int n) {
  return il < n / 8 || il >= 7 * n / 8 || (il - n / 8) % 3 == 2;
}

GgmlType base_type(SynthQuant q) {
  switch (q) {
    case SynthQuant::kF32:
      return GgmlType::F32;
    case SynthQuant::kF16:
      return GgmlType::F16;
    case SynthQuant::kBF16:
      return GgmlType::BF16;
    case SynthQuant::kQ8_0:
      return GgmlType::Q8_0;
    case SynthQuant::kQ4_K_M:
      return GgmlType::Q4_K;
    case SynthQuant::kQ5_K_M:
      return GgmlType::Q5_K;
  }
  return GgmlType::F32;
}

// Falls back as llama-quantize does when a row cannot hold whole 256-element super-blocks.
GgmlType fit_row(GgmlType t, int64_t row) {
  if (row % ggml_type_info(t).block_size == 0) return t;
  GgmlType f = GgmlType::F16;
  if (t == GgmlType::Q4_K) f = GgmlType::Q5_0;
  if (t == GgmlType::Q5_K) f = GgmlType::Q5_1;
  if (t == GgmlType::Q6_K) f = GgmlType::Q8_0;
  return row % ggml_type_info(f).block_size == 0 ? f : GgmlType::F16;
}

// A deterministic, fast stream of uniform values per tensor (splitmix64 seeded by name and row).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_name(const std::string& s, uint64_t seed) {
  uint64_t h = seed ^ 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

struct Init {
  float lo, hi;  // uniform range
};

class Builder {
 public:
  Builder(gguf::Writer& w, ThreadPool& pool, uint64_t seed) : w_(w), pool_(pool), seed_(seed) {}

  void add(const std::string& name, GgmlType type, std::vector<int64_t> ne, Init init) {
    type = fit_row(type, ne[0]);
    const uint64_t key = hash_name(name, seed_);
    ThreadPool* pool = &pool_;
    w_.add_tensor_generated(name, type, ne, [=](std::span<uint8_t> dst) {
      const int64_t row = ne[0];
      const int64_t rows = static_cast<int64_t>(dst.size() / ggml_row_size(type, row));
      const size_t row_bytes = ggml_row_size(type, row);
      pool->parallel_for(rows, 64, [&](int64_t b, int64_t e) {
        std::vector<float> buf(static_cast<size_t>(row));
        for (int64_t r = b; r < e; ++r) {
          uint64_t state = mix(key + static_cast<uint64_t>(r));
          for (auto& v : buf) {
            state = mix(state);
            v = init.lo + (init.hi - init.lo) * static_cast<float>((state >> 40) * (1.0 / 16777216.0));
          }
          kernels::quantize_row(type, buf.data(), dst.data() + static_cast<size_t>(r) * row_bytes, row);
        }
      });
    });
  }

  // A matrix [n_in -> n_out] with entries of standard deviation 1/sqrt(n_in).
  void matrix(const std::string& name, GgmlType type, int64_t n_in, int64_t n_out) {
    const float a = std::sqrt(3.0f / static_cast<float>(n_in));
    add(name, type, {n_in, n_out}, {-a, a});
  }
  void norm(const std::string& name, int64_t n) { add(name, GgmlType::F32, {n}, {0.8f, 1.2f}); }
  void scalar(const std::string& name, float v) { add(name, GgmlType::F32, {1}, {v, v}); }

 private:
  gguf::Writer& w_;
  ThreadPool& pool_;
  uint64_t seed_;
};

void copy_tokenizer(gguf::Writer& w, const std::string& vocab_path) {
  if (vocab_path.empty())
    throw Error(Errc::kInvalidArgument, "synth: a vocabulary GGUF (--vocab) is required");
  const gguf::File vocab = gguf::File::open(vocab_path);
  int copied = 0;
  for (const auto& [k, v] : vocab.kvs())
    if (k.rfind("tokenizer.", 0) == 0) {
      w.set(k, v);
      ++copied;
    }
  if (copied == 0 || !vocab.has("tokenizer.ggml.tokens"))
    throw Error(Errc::kInvalidArgument, "synth: '" + vocab_path + "' has no tokenizer.ggml.tokens");
}

}  // namespace

SynthShape parse_synth_shape(const std::string& s) {
  if (s == "tiny") return SynthShape::kTiny;
  if (s == "e2b") return SynthShape::kE2B;
  if (s == "e4b") return SynthShape::kE4B;
  throw Error(Errc::kInvalidArgument, "unknown shape '" + s + "' (tiny, e2b, e4b)");
}

SynthQuant parse_synth_quant(const std::string& s) {
  if (s == "f32") return SynthQuant::kF32;
  if (s == "f16") return SynthQuant::kF16;
  if (s == "bf16") return SynthQuant::kBF16;
  if (s == "q8_0") return SynthQuant::kQ8_0;
  if (s == "q4_k_m") return SynthQuant::kQ4_K_M;
  if (s == "q5_k_m") return SynthQuant::kQ5_K_M;
  throw Error(Errc::kInvalidArgument, "unknown type '" + s + "' (f32, f16, bf16, q8_0, q4_k_m, q5_k_m)");
}

void write_synth_text_model(const SynthOptions& opt, const std::string& path, ThreadPool& pool) {
  const TextShape t = text_shape(opt.shape);
  gguf::Writer w;
  const std::string a = "gemma4.";
  w.set_string("general.architecture", "gemma4");
  w.set_string("general.type", "model");
  w.set_string("general.name", "hark-synth-gemma4");
  w.set_string("general.description", "random weights written by hark synth; for benchmarks only");
  w.set_u32(a + "block_count", static_cast<uint32_t>(t.n_layer));
  w.set_u32(a + "context_length", 131072);
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(t.n_embd));
  gguf::Array ffn{gguf::ValueType::I32, t.ffn};
  w.set_array(a + "feed_forward_length", ffn);
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(t.n_head));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(t.n_head_kv));
  w.set_f32(a + "rope.freq_base", 1e6f);
  w.set_f32(a + "rope.freq_base_swa", 1e4f);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-6f);
  w.set_u32(a + "attention.key_length", static_cast<uint32_t>(t.head_dim_full));
  w.set_u32(a + "attention.value_length", static_cast<uint32_t>(t.head_dim_full));
  w.set_f32(a + "final_logit_softcapping", 30.0f);
  w.set_u32(a + "attention.sliding_window", static_cast<uint32_t>(t.swa));
  w.set_u32(a + "attention.shared_kv_layers", static_cast<uint32_t>(t.shared_kv));
  w.set_u32(a + "embedding_length_per_layer_input", static_cast<uint32_t>(t.n_ple));
  std::vector<bool> pattern;
  for (int il = 0; il < t.n_layer; ++il) pattern.push_back(!is_full_layer(t, il));
  w.set_array(a + "attention.sliding_window_pattern", gguf::Array{gguf::ValueType::BOOL, pattern});
  w.set_u32(a + "attention.key_length_swa", static_cast<uint32_t>(t.head_dim_swa));
  w.set_u32(a + "attention.value_length_swa", static_cast<uint32_t>(t.head_dim_swa));
  w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(t.head_dim_full));
  w.set_u32(a + "rope.dimension_count_swa", static_cast<uint32_t>(t.head_dim_swa));
  copy_tokenizer(w, opt.vocab_path);
  w.set_u32("general.quantization_version", 2);

  const int64_t n_vocab = 262144;
  const GgmlType base = base_type(opt.quant);
  const bool k_mix = opt.quant == SynthQuant::kQ4_K_M || opt.quant == SynthQuant::kQ5_K_M;
  Builder b(w, pool, opt.seed);
  // The tied embedding doubles as the output head, which the _M mixes keep at Q6_K.
  b.add("token_embd.weight", k_mix ? GgmlType::Q6_K : base, {t.n_embd, n_vocab}, {-0.5f, 0.5f});
  b.add("per_layer_token_embd.weight", base, {static_cast<int64_t>(t.n_layer) * t.n_ple, n_vocab},
        {-0.5f, 0.5f});
  b.matrix("per_layer_model_proj.weight", base, t.n_embd, static_cast<int64_t>(t.n_layer) * t.n_ple);
  b.norm("per_layer_proj_norm.weight", t.n_ple);
  b.norm("output_norm.weight", t.n_embd);
  // Proportional RoPE: a quarter of the full-attention head is rotated, the rest has infinite wavelength.
  std::vector<float> freqs(static_cast<size_t>(t.head_dim_full / 2), 1e30f);
  for (int i = 0; i < t.head_dim_full / 8; ++i) freqs[static_cast<size_t>(i)] = 1.0f;
  w.add_tensor_f32("rope_freqs.weight", {t.head_dim_full / 2}, freqs);
  for (int il = 0; il < t.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    const int hd = is_full_layer(t, il) ? t.head_dim_full : t.head_dim_swa;
    const GgmlType strong = k_mix && more_bits(il, t.n_layer) ? GgmlType::Q6_K : base;
    b.norm(p + "attn_norm.weight", t.n_embd);
    b.matrix(p + "attn_q.weight", base, t.n_embd, static_cast<int64_t>(t.n_head) * hd);
    b.matrix(p + "attn_k.weight", base, t.n_embd, static_cast<int64_t>(t.n_head_kv) * hd);
    b.matrix(p + "attn_v.weight", strong, t.n_embd, static_cast<int64_t>(t.n_head_kv) * hd);
    b.matrix(p + "attn_output.weight", base, static_cast<int64_t>(t.n_head) * hd, t.n_embd);
    b.add(p + "attn_q_norm.weight", GgmlType::F32, {hd}, {0.3f, 0.45f});
    b.add(p + "attn_k_norm.weight", GgmlType::F32, {hd}, {0.3f, 0.45f});
    b.norm(p + "post_attention_norm.weight", t.n_embd);
    b.add(p + "layer_output_scale.weight", GgmlType::F32, {1}, {0.3f, 1.0f});
    b.norm(p + "ffn_norm.weight", t.n_embd);
    const int64_t ff = t.ffn[static_cast<size_t>(il)];
    b.matrix(p + "ffn_gate.weight", base, t.n_embd, ff);
    b.matrix(p + "ffn_up.weight", base, t.n_embd, ff);
    b.matrix(p + "ffn_down.weight", strong, ff, t.n_embd);
    b.norm(p + "post_ffw_norm.weight", t.n_embd);
    b.matrix(p + "inp_gate.weight", base, t.n_embd, t.n_ple);
    b.matrix(p + "proj.weight", base, t.n_ple, t.n_embd);
    b.norm(p + "post_norm.weight", t.n_embd);
  }
  w.write(path);
}

void write_synth_mmproj(const SynthOptions& opt, const std::string& path, ThreadPool& pool) {
  const TextShape t = text_shape(opt.shape);
  const AudioShape s = audio_shape(opt.shape);
  const GgmlType type = base_type(opt.mmproj_quant);
  if (opt.mmproj_quant == SynthQuant::kQ4_K_M || opt.mmproj_quant == SynthQuant::kQ5_K_M)
    throw Error(Errc::kInvalidArgument, "synth: the mmproj type must be f32, f16, bf16 or q8_0");
  gguf::Writer w;
  w.set_string("general.architecture", "clip");
  w.set_string("general.type", "mmproj");
  w.set_string("general.name", "hark-synth-gemma4-audio");
  w.set_bool("clip.has_vision_encoder", false);
  w.set_bool("clip.has_audio_encoder", true);
  w.set_string("clip.audio.projector_type", "gemma4a");
  w.set_u32("clip.audio.num_mel_bins", 128);
  w.set_u32("clip.audio.embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32("clip.audio.feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32("clip.audio.block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32("clip.audio.attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_f32("clip.audio.attention.layer_norm_epsilon", 1e-6f);
  w.set_u32("clip.audio.projection_dim", static_cast<uint32_t>(t.n_embd));

  Builder b(w, pool, opt.seed + 1);
  const float c0 = std::sqrt(3.0f / 9.0f), c1 = std::sqrt(3.0f / (9.0f * static_cast<float>(s.conv_ch0)));
  b.add("a.conv1d.0.weight", GgmlType::F32, {3, 3, 1, s.conv_ch0}, {-c0, c0});
  b.norm("a.conv1d.0.norm.weight", s.conv_ch0);
  b.add("a.conv1d.1.weight", GgmlType::F32, {3, 3, s.conv_ch0, s.conv_ch1}, {-c1, c1});
  b.norm("a.conv1d.1.norm.weight", s.conv_ch1);
  b.matrix("a.input_projection.weight", type, 32 * s.conv_ch1, s.n_embd);
  const int head_dim = s.n_embd / s.n_head;
  auto clipped = [&](const std::string& name, int64_t n_in, int64_t n_out) {
    b.matrix(name + ".weight", type, n_in, n_out);
    b.scalar(name + ".input_min", -1e4f);
    b.scalar(name + ".input_max", 1e4f);
    b.scalar(name + ".output_min", -1e4f);
    b.scalar(name + ".output_max", 1e4f);
  };
  for (int il = 0; il < s.n_layer; ++il) {
    const std::string p = "a.blk." + std::to_string(il) + ".";
    b.norm(p + "ffn_norm.weight", s.n_embd);
    clipped(p + "ffn_up", s.n_embd, s.n_ff);
    clipped(p + "ffn_down", s.n_ff, s.n_embd);
    b.norm(p + "ffn_post_norm.weight", s.n_embd);
    b.norm(p + "attn_pre_norm.weight", s.n_embd);
    clipped(p + "attn_q", s.n_embd, s.n_embd);
    clipped(p + "attn_k", s.n_embd, s.n_embd);
    clipped(p + "attn_v", s.n_embd, s.n_embd);
    clipped(p + "attn_out", s.n_embd, s.n_embd);
    b.matrix(p + "attn_k_rel.weight", type, s.n_embd, s.n_embd);
    b.add(p + "per_dim_scale.weight", GgmlType::F32, {head_dim}, {0.5f, 0.9f});
    b.norm(p + "attn_post_norm.weight", s.n_embd);
    b.norm(p + "conv_norm.weight", s.n_embd);
    clipped(p + "conv_pw1", s.n_embd, 2 * s.n_embd);
    b.add(p + "conv_dw.weight", GgmlType::F32, {5, s.n_embd}, {-0.7f, 0.7f});
    b.norm(p + "norm_conv.weight", s.n_embd);
    clipped(p + "conv_pw2", s.n_embd, s.n_embd);
    b.norm(p + "ffn_norm_1.weight", s.n_embd);
    clipped(p + "ffn_up_1", s.n_embd, s.n_ff);
    clipped(p + "ffn_down_1", s.n_ff, s.n_embd);
    b.norm(p + "ffn_post_norm_1.weight", s.n_embd);
    b.norm(p + "ln2.weight", s.n_embd);
  }
  b.matrix("a.pre_encode.out.weight", type, s.n_embd, s.out_dims);
  b.add("a.pre_encode.out.bias", GgmlType::F32, {s.out_dims}, {-0.05f, 0.05f});
  b.matrix("mm.a.input_projection.weight", type, s.out_dims, t.n_embd);
  w.write(path);
}

}  // namespace hark::models
