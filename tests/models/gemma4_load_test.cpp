// Loading checks on a small synthetic gemma4 file: a broken model (missing or misshapen tensor, bad
// hyperparameter) must give Error(kModelInvalid) naming what is wrong, never a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "core/error.h"
#include "gguf/gguf.h"
#include "models/gemma4/model.h"

namespace hark::gemma4 {
namespace {

// 3 layers (sliding, full, sliding), the last one reading layer 0's cache; every weight F32.
struct Spec {
  std::set<std::string> drop = {};                           // tensors left out
  std::map<std::string, std::vector<int64_t>> reshape = {};  // tensors written with another shape
  std::function<void(gguf::Writer&)> edit_keys = {};         // runs after the default keys
};

constexpr int64_t kVocab = 40, kEmbd = 8, kLayers = 3, kHead = 2, kHdFull = 8, kHdSwa = 4, kPle = 4;

std::vector<uint8_t> build(const Spec& spec) {
  gguf::Writer w;
  w.set_string("general.architecture", "gemma4");
  w.set_u32("gemma4.block_count", kLayers);
  w.set_u32("gemma4.embedding_length", kEmbd);
  w.set_u32("gemma4.attention.head_count", kHead);
  w.set_u32("gemma4.attention.head_count_kv", 1);
  w.set_u32("gemma4.attention.key_length", kHdFull);
  w.set_u32("gemma4.attention.value_length", kHdFull);
  w.set_u32("gemma4.attention.key_length_swa", kHdSwa);
  w.set_u32("gemma4.attention.value_length_swa", kHdSwa);
  w.set_f32("gemma4.rope.freq_base", 1e6f);
  w.set_f32("gemma4.rope.freq_base_swa", 1e4f);
  w.set_f32("gemma4.attention.layer_norm_rms_epsilon", 1e-6f);
  w.set_f32("gemma4.final_logit_softcapping", 30.0f);
  w.set_u32("gemma4.attention.sliding_window", 4);
  w.set_u32("gemma4.attention.shared_kv_layers", 1);
  w.set_u32("gemma4.embedding_length_per_layer_input", kPle);
  gguf::Array ff{gguf::ValueType::I32, std::vector<int32_t>{16, 16, 32}};
  w.set_array("gemma4.feed_forward_length", ff);
  gguf::Array pattern{gguf::ValueType::BOOL, std::vector<bool>{true, false, true}};
  w.set_array("gemma4.attention.sliding_window_pattern", pattern);
  if (spec.edit_keys) spec.edit_keys(w);

  uint32_t seed = 1;
  auto add = [&](const std::string& name, std::vector<int64_t> ne, std::vector<float> values = {}) {
    if (spec.drop.count(name)) return;
    if (auto it = spec.reshape.find(name); it != spec.reshape.end()) ne = it->second;
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    std::vector<float> data(static_cast<size_t>(n));
    for (size_t i = 0; i < data.size(); ++i) {
      if (i < values.size()) {
        data[i] = values[i];
        continue;
      }
      seed = seed * 1664525u + 1013904223u;
      data[i] = 0.6f * (static_cast<float>(seed >> 8) / static_cast<float>(1u << 24) - 0.5f);
    }
    w.add_tensor_f32(name, ne, data);
  };
  add("token_embd.weight", {kEmbd, kVocab});
  add("per_layer_token_embd.weight", {kPle * kLayers, kVocab});
  add("per_layer_model_proj.weight", {kEmbd, kPle * kLayers});
  add("per_layer_proj_norm.weight", {kPle});
  add("output_norm.weight", {kEmbd});
  add("rope_freqs.weight", {kHdFull / 2}, {1.0f, 1.0f, 1e30f, 1e30f});  // half the pairs unrotated
  const int64_t n_ff[kLayers] = {16, 16, 32};
  for (int64_t il = 0; il < kLayers; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    const int64_t hd = il == 1 ? kHdFull : kHdSwa;
    add(p + "attn_norm.weight", {kEmbd});
    add(p + "attn_q.weight", {kEmbd, hd * kHead});
    add(p + "attn_k.weight", {kEmbd, hd});
    add(p + "attn_v.weight", {kEmbd, hd});
    add(p + "attn_output.weight", {hd * kHead, kEmbd});
    add(p + "attn_q_norm.weight", {hd});
    add(p + "attn_k_norm.weight", {hd});
    add(p + "post_attention_norm.weight", {kEmbd});
    add(p + "layer_output_scale.weight", {1});
    add(p + "ffn_norm.weight", {kEmbd});
    add(p + "ffn_gate.weight", {kEmbd, n_ff[il]});
    add(p + "ffn_up.weight", {kEmbd, n_ff[il]});
    add(p + "ffn_down.weight", {n_ff[il], kEmbd});
    add(p + "post_ffw_norm.weight", {kEmbd});
    add(p + "inp_gate.weight", {kEmbd, kPle});
    add(p + "proj.weight", {kPle, kEmbd});
    add(p + "post_norm.weight", {kEmbd});
  }
  return w.to_bytes();
}

// Loads the spec's model and returns the error it gives (kInternal with "loaded" if none).
Error load_error(const Spec& spec) {
  const std::vector<uint8_t> bytes = build(spec);
  try {
    TextModel::load(gguf::File::parse(bytes, "synthetic"));
  } catch (const Error& e) {
    return e;
  }
  return Error(Errc::kInternal, "loaded");
}

void expect_invalid(const Spec& spec, const std::string& mentions) {
  const Error e = load_error(spec);
  EXPECT_EQ(e.code(), Errc::kModelInvalid) << e.what();
  EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
}

TEST(Gemma4Load, SyntheticModelRuns) {
  const std::vector<uint8_t> bytes = build({});
  const TextModel m = TextModel::load(gguf::File::parse(bytes, "synthetic"));
  EXPECT_EQ(m.hparams().n_vocab, kVocab);
  EXPECT_EQ(m.hparams().kv_layer, (std::vector<int64_t>{0, 1, 0}));
  ThreadPool pool(1);
  KvCache cache = m.new_cache(32, 4);  // sliding ring of 4 + 4 slots, wraps within the prompt
  std::vector<Input> batch;
  for (int32_t t = 0; t < 12; ++t) batch.push_back(Input::tok(t % kVocab, true));
  std::vector<float> logits;
  m.forward(cache, batch, logits, pool);
  ASSERT_EQ(logits.size(), static_cast<size_t>(12 * kVocab));
  for (float x : logits) {
    ASSERT_TRUE(std::isfinite(x));
    ASSERT_LE(std::fabs(x), 30.0f);  // soft-capped
  }
  // The same tokens one at a time give the same last logits.
  KvCache one = m.new_cache(32, 4);
  std::vector<float> step;
  for (const Input& in : batch) m.forward(one, std::span<const Input>(&in, 1), step, pool);
  for (int64_t i = 0; i < kVocab; ++i) EXPECT_NEAR(step[i], logits[11 * kVocab + i], 1e-4);
}

// Rows without logits skip the KV-shared layers; the rows that remain (non-contiguous here) must get the
// logits they get when every row is computed to the end.
TEST(Gemma4Load, SparseLogitRowsMatchAllRows) {
  const std::vector<uint8_t> bytes = build({});
  const TextModel m = TextModel::load(gguf::File::parse(bytes, "synthetic"));
  ThreadPool pool(1);
  std::vector<Input> all, sparse;
  for (int32_t t = 0; t < 12; ++t) {
    all.push_back(Input::tok((t * 7) % kVocab, true));
    sparse.push_back(Input::tok((t * 7) % kVocab, t == 3 || t == 7 || t == 11));
  }
  KvCache ca = m.new_cache(32, 12);
  KvCache cs = m.new_cache(32, 12);
  std::vector<float> la, ls;
  m.forward(ca, all, la, pool);
  m.forward(cs, sparse, ls, pool);
  ASSERT_EQ(ls.size(), static_cast<size_t>(3 * kVocab));
  const int rows[] = {3, 7, 11};
  for (int r = 0; r < 3; ++r)
    for (int64_t i = 0; i < kVocab; ++i) EXPECT_NEAR(ls[r * kVocab + i], la[rows[r] * kVocab + i], 1e-5);
  // A batch without logits still fills the cache for the next step.
  for (Input& in : sparse) in.logits = false;
  KvCache cn = m.new_cache(32, 12);
  m.forward(cn, sparse, ls, pool);
  EXPECT_TRUE(ls.empty());
  const Input next = Input::tok(5, true);
  std::vector<float> after_all, after_none;
  m.forward(ca, std::span<const Input>(&next, 1), after_all, pool);
  m.forward(cn, std::span<const Input>(&next, 1), after_none, pool);
  for (int64_t i = 0; i < kVocab; ++i) EXPECT_NEAR(after_none[i], after_all[i], 1e-5);
}

// The matrices every token reads are copied out of the file at load: changing the file's bytes for them
// afterwards changes nothing. The embedding tables are still read from the file (one row per token).
TEST(Gemma4Load, MatricesAreCopiedAtLoad) {
  std::vector<uint8_t> bytes = build({});
  const gguf::File file = gguf::File::parse(bytes, "synthetic");
  const TextModel m = TextModel::load(file);
  ThreadPool pool(1);
  std::vector<Input> batch;
  for (int32_t t = 0; t < 6; ++t) batch.push_back(Input::tok((t * 5) % kVocab, t == 5));
  auto run = [&] {
    KvCache cache = m.new_cache(16, 8);
    std::vector<float> logits;
    m.forward(cache, batch, logits, pool);
    return logits;
  };
  const std::vector<float> before = run();
  auto scribble = [&](const char* name) {
    const std::span<const uint8_t> d = file.tensor_data(*file.find_tensor(name));
    std::fill_n(bytes.begin() + (d.data() - bytes.data()), d.size(), uint8_t{0x7f});
  };
  for (const char* name : {"blk.0.attn_q.weight", "blk.1.ffn_up.weight", "blk.2.ffn_down.weight",
                           "blk.1.proj.weight", "per_layer_model_proj.weight"})
    scribble(name);
  EXPECT_EQ(run(), before);
  scribble("per_layer_token_embd.weight");
  EXPECT_NE(run(), before);
}

TEST(Gemma4Load, MissingTensor) {
  expect_invalid({.drop = {"blk.1.ffn_up.weight"}}, "blk.1.ffn_up.weight");
  expect_invalid({.drop = {"per_layer_token_embd.weight"}}, "per_layer_token_embd.weight");
  expect_invalid({.drop = {"rope_freqs.weight"}}, "rope_freqs.weight");
  expect_invalid({.drop = {"token_embd.weight"}}, "token_embd.weight");
}

TEST(Gemma4Load, OptionalTensorsMayBeAbsent) {
  // KV-shared layers need no K/V weights; attn_v and layer_output_scale are optional.
  const std::vector<uint8_t> bytes =
      build({.drop = {"blk.2.attn_k.weight", "blk.2.attn_v.weight", "blk.2.attn_k_norm.weight",
                      "blk.0.attn_v.weight", "blk.1.layer_output_scale.weight"}});
  EXPECT_NO_THROW(TextModel::load(gguf::File::parse(bytes, "synthetic")));
}

TEST(Gemma4Load, MisshapenTensor) {
  expect_invalid({.reshape = {{"blk.0.attn_q.weight", {kEmbd, 3}}}}, "blk.0.attn_q.weight");
  expect_invalid({.reshape = {{"output_norm.weight", {kEmbd + 1}}}}, "output_norm.weight");
  expect_invalid({.reshape = {{"blk.2.ffn_down.weight", {16, kEmbd}}}}, "blk.2.ffn_down.weight");
}

TEST(Gemma4Load, BadHyperparameters) {
  expect_invalid({.edit_keys = [](gguf::Writer& w) { w.set_string("general.architecture", "llama"); }},
                 "general.architecture");
  expect_invalid({.edit_keys = [](gguf::Writer& w) { w.set_u32("gemma4.attention.head_count_kv", 3); }},
                 "head_count");
  expect_invalid({.edit_keys =
                      [](gguf::Writer& w) {
                        w.set_array("gemma4.attention.sliding_window_pattern",
                                    {gguf::ValueType::BOOL, std::vector<bool>{true, false}});
                      }},
                 "sliding_window_pattern");
  expect_invalid(
      {.edit_keys =
           [](gguf::Writer& w) {
             w.set_array("gemma4.feed_forward_length", {gguf::ValueType::I32, std::vector<int32_t>{16, 16}});
           }},
      "feed_forward_length");
  expect_invalid({.edit_keys = [](gguf::Writer& w) { w.set_u32("gemma4.attention.shared_kv_layers", 3); }},
                 "shared_kv_layers");
  expect_invalid({.edit_keys = [](gguf::Writer& w) { w.set_u32("gemma4.rope.dimension_count_swa", 6); }},
                 "dimension_count_swa");
  // Only full-attention layers before the shared sliding layer 2: nothing to read from.
  expect_invalid({.edit_keys =
                      [](gguf::Writer& w) {
                        w.set_array("gemma4.attention.sliding_window_pattern",
                                    {gguf::ValueType::BOOL, std::vector<bool>{false, false, true}});
                      }},
                 "KV-shared layer 2");
  expect_invalid(
      {.edit_keys = [](gguf::Writer& w) { w.set_f32("gemma4.attention.layer_norm_rms_epsilon", -1); }},
      "epsilon");
}

TEST(Gemma4Load, MissingKeyIsNamed) {
  gguf::Writer w;
  w.set_string("general.architecture", "gemma4");
  const std::vector<uint8_t> bytes = w.to_bytes();
  try {
    TextModel::load(gguf::File::parse(bytes, "keys"));
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find("gemma4.block_count"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hark::gemma4
