// hark synth must write exactly llama.cpp's layout: at the tiny shape its files have the same tensor names,
// shapes and keys as the fixture models llama.cpp loaded.
#include "models/synth.h"

#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "gguf/gguf.h"
#include "testutil/testutil.h"

namespace hark::models {
namespace {

void expect_same_layout(const gguf::File& ours, const gguf::File& ref) {
  ASSERT_EQ(ours.tensors().size(), ref.tensors().size());
  for (const auto& t : ref.tensors()) {
    const gguf::TensorInfo* o = ours.find_tensor(t.name);
    ASSERT_NE(o, nullptr) << t.name;
    EXPECT_EQ(o->ne, t.ne) << t.name;
  }
  for (const auto& [key, value] : ref.kvs()) {
    if (key.rfind("general.", 0) == 0) continue;
    const gguf::Value* v = ours.find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(v->to_string(), value.to_string()) << key;
  }
}

TEST(Synth, TinyShapeMatchesTheFixtureLayout) {
  const std::string dir = test::temp_dir();
  SynthOptions opt;
  opt.shape = SynthShape::kTiny;
  opt.quant = SynthQuant::kQ4_K_M;
  opt.mmproj_quant = SynthQuant::kF32;
  opt.vocab_path = test::fixture("tokenizer/ggml-vocab-gemma-4.gguf");
  ThreadPool pool(2);
  write_synth_text_model(opt, dir + "/m.gguf", pool);
  write_synth_mmproj(opt, dir + "/mm.gguf", pool);
  const gguf::File m = gguf::File::open(dir + "/m.gguf");
  const gguf::File mm = gguf::File::open(dir + "/mm.gguf");
  expect_same_layout(m, gguf::File::open(test::fixture("gemma4-tiny/model.gguf")));
  expect_same_layout(mm, gguf::File::open(test::fixture("gemma4-tiny/mmproj.gguf")));
  // 64-wide rows cannot hold K-quant super-blocks: the fallbacks llama-quantize uses appear instead.
  EXPECT_EQ(m.find_tensor("blk.0.attn_q.weight")->type, GgmlType::Q5_0);
  EXPECT_EQ(m.find_tensor("token_embd.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(m.find_tensor("blk.1.ffn_down.weight")->type, GgmlType::Q4_K);
}

TEST(Synth, BadNamesAreRefused) {
  EXPECT_THROW(parse_synth_shape("e9b"), Error);
  EXPECT_THROW(parse_synth_quant("q3_k_xl"), Error);
}

}  // namespace
}  // namespace hark::models
