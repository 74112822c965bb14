// Gemma 4 hyperparameters from GGUF keys, as llama.cpp reads them for architecture `gemma4`.
#include <string>

#include "core/error.h"
#include "models/gemma4/model.h"

namespace hark::gemma4 {
namespace {

[[noreturn]] void invalid(const std::string& msg) {
  throw Error(Errc::kModelInvalid, "gemma4 model: " + msg);
}

std::string key(const char* name) {
  return std::string("gemma4.") + name;
}

int64_t positive(const gguf::File& f, const char* name) {
  const int64_t v = f.get_int(key(name));
  if (v <= 0 || v > (int64_t{1} << 31)) invalid(key(name) + " = " + std::to_string(v) + " is out of range");
  return v;
}

// A per-layer integer key: either one value for every layer or an array with one entry per layer.
std::vector<int64_t> per_layer_ints(const gguf::File& f, const char* name, int64_t n_layer) {
  const gguf::Value* v = f.find(key(name));
  if (!v) invalid("missing key " + key(name));
  std::vector<int64_t> out;
  if (v->type != gguf::ValueType::ARRAY) {
    out.assign(static_cast<size_t>(n_layer), v->as_int(key(name)));
  } else {
    const gguf::Array& a = v->as_array(key(name));
    if (static_cast<int64_t>(a.size()) != n_layer)
      invalid(key(name) + " has " + std::to_string(a.size()) + " entries, expected " +
              std::to_string(n_layer));
    std::visit(
        [&](const auto& vec) {
          using T = typename std::decay_t<decltype(vec)>::value_type;
          if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
            for (const T& x : vec) out.push_back(static_cast<int64_t>(x));
          } else {
            invalid(key(name) + " must hold integers");
          }
        },
        a.data);
  }
  for (int64_t x : out)
    if (x <= 0 || x > (int64_t{1} << 31)) invalid(key(name) + " has out-of-range entry " + std::to_string(x));
  return out;
}

}  // namespace

HParams HParams::from_gguf(const gguf::File& f) {
  const std::string arch = f.get_string("general.architecture", "");
  if (arch != "gemma4") invalid("general.architecture is '" + arch + "', expected 'gemma4'");
  if (f.get_int(key("expert_count"), 0) > 0)
    throw Error(Errc::kUnsupported, "gemma4 model: mixture-of-experts variants are not supported");

  HParams hp;
  hp.n_layer = positive(f, "block_count");
  hp.n_embd = positive(f, "embedding_length");
  hp.n_head = positive(f, "attention.head_count");
  hp.n_head_kv = positive(f, "attention.head_count_kv");
  if (hp.n_head % hp.n_head_kv != 0)
    invalid("attention.head_count " + std::to_string(hp.n_head) + " is not a multiple of head_count_kv " +
            std::to_string(hp.n_head_kv));
  hp.n_ctx_train = f.get_int(key("context_length"), 0);
  hp.n_swa = positive(f, "attention.sliding_window");

  hp.head_dim_full = positive(f, "attention.key_length");
  hp.head_dim_swa = positive(f, "attention.key_length_swa");
  if (positive(f, "attention.value_length") != hp.head_dim_full)
    invalid("attention.value_length differs from attention.key_length");
  if (positive(f, "attention.value_length_swa") != hp.head_dim_swa)
    invalid("attention.value_length_swa differs from attention.key_length_swa");
  hp.n_rot_full = f.get_int(key("rope.dimension_count"), hp.head_dim_full);
  hp.n_rot_swa = f.get_int(key("rope.dimension_count_swa"), hp.head_dim_swa);
  if (hp.n_rot_full <= 0 || hp.n_rot_full % 2 || hp.n_rot_full > hp.head_dim_full)
    invalid("rope.dimension_count = " + std::to_string(hp.n_rot_full) + " must be even and <= key_length");
  if (hp.n_rot_swa <= 0 || hp.n_rot_swa % 2 || hp.n_rot_swa > hp.head_dim_swa)
    invalid("rope.dimension_count_swa = " + std::to_string(hp.n_rot_swa) +
            " must be even and <= key_length_swa");
  hp.rope_base_full = static_cast<float>(f.get_float(key("rope.freq_base"), 10000.0));
  hp.rope_base_swa = static_cast<float>(f.get_float(key("rope.freq_base_swa"), hp.rope_base_full));
  if (!(hp.rope_base_full > 1.0f) || !(hp.rope_base_swa > 1.0f)) invalid("rope.freq_base(_swa) must be > 1");

  hp.norm_eps = static_cast<float>(f.get_float(key("attention.layer_norm_rms_epsilon")));
  if (!(hp.norm_eps > 0.0f) || hp.norm_eps > 1.0f)
    invalid("attention.layer_norm_rms_epsilon must be in (0, 1]");
  hp.final_softcap = static_cast<float>(f.get_float(key("final_logit_softcapping"), 0.0));
  if (!(hp.final_softcap >= 0.0f)) invalid("final_logit_softcapping must be >= 0");
  hp.n_embd_per_layer = f.get_int(key("embedding_length_per_layer_input"), 0);
  if (hp.n_embd_per_layer < 0 || hp.n_embd_per_layer > (int64_t{1} << 20))
    invalid("embedding_length_per_layer_input is out of range");

  hp.n_ff = per_layer_ints(f, "feed_forward_length", hp.n_layer);

  const std::string pattern_key = key("attention.sliding_window_pattern");
  const gguf::Array& pattern = f.get_array(pattern_key);
  const auto* flags = std::get_if<std::vector<bool>>(&pattern.data);
  if (!flags || static_cast<int64_t>(flags->size()) != hp.n_layer)
    invalid(pattern_key + " must be a bool array with one entry per layer");
  hp.is_swa = *flags;

  const int64_t n_shared = f.get_int(key("attention.shared_kv_layers"), 0);
  if (n_shared < 0 || n_shared >= hp.n_layer)
    invalid("attention.shared_kv_layers = " + std::to_string(n_shared) + " must be below block_count");
  hp.n_layer_kv = hp.n_layer - n_shared;
  // A shared layer reads the last layer of its own kind (sliding/full) that keeps a cache; for the
  // released models this is what llama.cpp's fixed offsets (n_layer_kv - 2 / - 1) pick.
  hp.kv_layer.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (il < hp.n_layer_kv) {
      hp.kv_layer[il] = il;
      continue;
    }
    int64_t src = hp.n_layer_kv - 1;
    while (src >= 0 && hp.is_swa[src] != hp.is_swa[il]) --src;
    if (src < 0)
      invalid("KV-shared layer " + std::to_string(il) + " has no earlier " +
              (hp.is_swa[il] ? "sliding" : "full") + "-attention layer to read from");
    hp.kv_layer[il] = src;
  }
  return hp;
}

}  // namespace hark::gemma4
