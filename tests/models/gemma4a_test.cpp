// The gemma4a audio encoder against llama.cpp's numbers (../shared/fixtures/gemma4-tiny): fed the golden
// mel, every audio stage must match within rel_rms 1e-4 (the README's tolerance for an F32 implementation).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "audio/decode.h"
#include "audio/mel.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "models/gemma4a/encoder.h"
#include "testutil/testutil.h"

namespace hark::gemma4a {
namespace {

constexpr double kRelRmsTol = 1e-4;        // fed the golden mel
constexpr double kRelRmsOwnMelTol = 1e-3;  // fed hark's own mel

std::string tiny(const std::string& rel) {
  return test::fixture("gemma4-tiny/" + rel);
}

std::vector<float> f32_tensor(const gguf::File& f, const std::string& name,
                              std::vector<int64_t>* ne = nullptr) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t) return {};
  EXPECT_EQ(t->type, GgmlType::F32);
  if (ne) *ne = t->ne;
  const auto bytes = f.tensor_data(*t);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

std::vector<int32_t> i32_tensor(const gguf::File& f, const std::string& name) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t) return {};
  const auto bytes = f.tensor_data(*t);
  std::vector<int32_t> v(bytes.size() / sizeof(int32_t));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(int32_t));
  return v;
}

class Gemma4aTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mmproj_ = new gguf::File(gguf::File::open(tiny("mmproj.gguf")));
    enc_ = new AudioEncoder(AudioEncoder::load(*mmproj_));
    pool_ = new ThreadPool(2);
  }
  static void TearDownTestSuite() {
    delete pool_;
    delete enc_;
    delete mmproj_;
  }

  // Encodes every chunk of a golden file and compares the concatenated embeddings and the token counts.
  static void check_golden(const std::string& label) {
    const gguf::File g = gguf::File::open(tiny("golden-" + label + ".gguf"));
    const std::vector<int32_t> counts = i32_tensor(g, "audio.chunk_n_tokens");
    std::vector<float> got;
    for (size_t c = 0; c < counts.size(); ++c) {
      std::vector<int64_t> ne;
      const std::vector<float> mel = f32_tensor(g, "mel." + std::to_string(c), &ne);
      ASSERT_EQ(ne.size(), 2u);
      ASSERT_EQ(ne[1], 128);
      const int n_frames = static_cast<int>(ne[0]);
      EXPECT_EQ(AudioEncoder::n_tokens_for_frames(n_frames), counts[c]) << label << " chunk " << c;
      const std::vector<float> e = enc_->encode(mel, n_frames, *pool_);
      ASSERT_EQ(e.size(), static_cast<size_t>(counts[c]) * enc_->n_embd_out());
      got.insert(got.end(), e.begin(), e.end());
    }
    std::vector<int64_t> ne;
    const std::vector<float> want = f32_tensor(g, "audio.embd", &ne);
    ASSERT_EQ(ne, (std::vector<int64_t>{64, static_cast<int64_t>(got.size() / 64)}));
    ASSERT_EQ(got.size(), want.size());
    const double rr = test::rel_rms(want.data(), got.data(), want.size());
    EXPECT_LE(rr, kRelRmsTol) << label << " max |d| "
                              << test::max_abs_diff(want.data(), got.data(), want.size());
  }

  static gguf::File* mmproj_;
  static AudioEncoder* enc_;
  static ThreadPool* pool_;
};
gguf::File* Gemma4aTest::mmproj_ = nullptr;
AudioEncoder* Gemma4aTest::enc_ = nullptr;
ThreadPool* Gemma4aTest::pool_ = nullptr;

TEST_F(Gemma4aTest, HparamsFromKeys) {
  const Hparams& hp = enc_->hparams();
  EXPECT_EQ(hp.n_mel, 128);
  EXPECT_EQ(hp.n_embd, 64);
  EXPECT_EQ(hp.n_ff, 256);
  EXPECT_EQ(hp.n_layer, 2);
  EXPECT_EQ(hp.n_head, 2);
  EXPECT_EQ(hp.d_head, 32);
  EXPECT_EQ(hp.conv_kernel, 5);
  EXPECT_EQ(enc_->n_embd_out(), 64);
}

TEST_F(Gemma4aTest, TokenCounts) {
  // 25 tokens per second at 100 mel frames per second; two ceil-halvings.
  EXPECT_EQ(AudioEncoder::n_tokens_for_frames(1099), 275);
  EXPECT_EQ(AudioEncoder::n_tokens_for_frames(2999), 750);
  EXPECT_EQ(AudioEncoder::n_tokens_for_frames(299), 75);
  EXPECT_EQ(AudioEncoder::n_tokens_for_frames(99), 25);
  EXPECT_EQ(AudioEncoder::n_tokens_for_frames(1), 1);
}

TEST_F(Gemma4aTest, IntermediatesMatchJfk) {
  const gguf::File g = gguf::File::open(tiny("golden-jfk.gguf"));
  const gguf::File im = gguf::File::open(tiny("intermediates-jfk.gguf"));
  std::vector<int64_t> ne;
  const std::vector<float> mel = f32_tensor(g, "mel.0", &ne);
  Trace trace;
  enc_->encode(mel, static_cast<int>(ne[0]), *pool_, &trace);
  for (const char* name : {"audio.subsampled.0", "audio.block0.0"}) {
    std::vector<int64_t> want_ne;
    const std::vector<float> want = f32_tensor(im, name, &want_ne);
    ASSERT_TRUE(trace.tensors.count(name)) << name;
    const std::vector<float>& got = trace.tensors[name];
    ASSERT_EQ(got.size(), want.size()) << name;
    const double rr = test::rel_rms(want.data(), got.data(), want.size());
    EXPECT_LE(rr, kRelRmsTol) << name << " max |d| "
                              << test::max_abs_diff(want.data(), got.data(), want.size());
  }
}

TEST_F(Gemma4aTest, EmbeddingsMatchJfk) {
  check_golden("jfk");
}
TEST_F(Gemma4aTest, EmbeddingsMatchJfkTwoChunks) {
  check_golden("jfk_x3");
}
TEST_F(Gemma4aTest, EmbeddingsMatchSilence) {
  check_golden("silence_1s");
}
TEST_F(Gemma4aTest, EmbeddingsMatchNoise) {
  check_golden("noise_1s");
}

// The whole front end: wav -> decode -> hark's own log-mel -> encoder, against llama.cpp's embeddings.
// The README's tolerance from our own mel is rel_rms 1e-3: the mel only has to be close to llama.cpp's
// (tests/audio). Measured 3.1e-6 where the mel comes out bitwise equal.
TEST_F(Gemma4aTest, EmbeddingsFromOwnMelMatch) {
  for (const std::string label : {"jfk", "jfk_x3"}) {
    const audio::Decoded pcm = audio::decode_file(test::fixture("audio/" + label + ".wav"));
    const std::vector<audio::MelChunk> chunks = audio::gemma4_log_mel(pcm.samples, pool_);
    const gguf::File g = gguf::File::open(tiny("golden-" + label + ".gguf"));
    const std::vector<int32_t> counts = i32_tensor(g, "audio.chunk_n_tokens");
    ASSERT_EQ(chunks.size(), counts.size()) << label;
    std::vector<float> got;
    for (size_t c = 0; c < chunks.size(); ++c) {
      const std::vector<float> e = enc_->encode(chunks[c], *pool_);
      EXPECT_EQ(e.size(), static_cast<size_t>(counts[c]) * 64) << label << " chunk " << c;
      got.insert(got.end(), e.begin(), e.end());
    }
    const std::vector<float> want = f32_tensor(g, "audio.embd");
    ASSERT_EQ(got.size(), want.size()) << label;
    EXPECT_LE(test::rel_rms(want.data(), got.data(), want.size()), kRelRmsOwnMelTol) << label;
  }
}

TEST_F(Gemma4aTest, MelSizeMismatchIsInvalidArgument) {
  const std::vector<float> mel(128 * 10 - 1, 0.0f);
  try {
    enc_->encode(mel, 10, *pool_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kInvalidArgument);
  }
}

// --- Model validation: a damaged mmproj must give Error(kModelInvalid) naming what is wrong.

using KvEdit = std::function<bool(const std::string& key, gguf::Value& v)>;  // false drops the key
using TensorEdit =
    std::function<bool(const std::string& name, std::vector<int64_t>& ne, std::span<const uint8_t>& data)>;

// The tiny mmproj rewritten through gguf::Writer with edits applied.
std::vector<uint8_t> edited_mmproj(const KvEdit& kv_edit, const TensorEdit& t_edit) {
  const gguf::File src = gguf::File::open(tiny("mmproj.gguf"));
  gguf::Writer w;
  for (const auto& [key, value] : src.kvs()) {
    gguf::Value v = value;
    if (key == "general.alignment") continue;
    if (kv_edit(key, v)) w.set(key, v);
  }
  for (const gguf::TensorInfo& t : src.tensors()) {
    std::vector<int64_t> ne = t.ne;
    std::span<const uint8_t> data = src.tensor_data(t);
    if (t_edit(t.name, ne, data)) w.add_tensor(t.name, t.type, ne, data);
  }
  return w.to_bytes();
}

const KvEdit kKeepKeys = [](const std::string&, gguf::Value&) { return true; };
const TensorEdit kKeepTensors = [](const std::string&, std::vector<int64_t>&, std::span<const uint8_t>&) {
  return true;
};

void expect_model_invalid(const std::vector<uint8_t>& bytes, const std::string& needle) {
  const gguf::File f = gguf::File::parse(bytes, "edited-mmproj.gguf");
  try {
    AudioEncoder::load(f);
    FAIL() << "loaded without error; expected one naming " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kModelInvalid) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Gemma4aModelTest, UneditedCopyLoads) {
  const std::vector<uint8_t> bytes = edited_mmproj(kKeepKeys, kKeepTensors);
  const gguf::File f = gguf::File::parse(bytes, "copy.gguf");
  EXPECT_EQ(AudioEncoder::load(f).n_embd_out(), 64);
}

TEST(Gemma4aModelTest, MissingTensorIsNamed) {
  for (const std::string name :
       {"a.blk.1.conv_dw.weight", "a.conv1d.0.norm.weight", "mm.a.input_projection.weight",
        "a.blk.0.ln2.weight", "a.blk.0.per_dim_scale.weight"}) {
    expect_model_invalid(edited_mmproj(kKeepKeys, [&](const std::string& n, std::vector<int64_t>&,
                                                      std::span<const uint8_t>&) { return n != name; }),
                         name);
  }
}

TEST(Gemma4aModelTest, MisshapenTensorIsNamed) {
  // attn_q as [64 -> 32]: half its rows.
  expect_model_invalid(
      edited_mmproj(kKeepKeys,
                    [](const std::string& n, std::vector<int64_t>& ne, std::span<const uint8_t>& d) {
                      if (n == "a.blk.0.attn_q.weight") {
                        ne = {64, 32};
                        d = d.first(d.size() / 2);
                      }
                      return true;
                    }),
      "a.blk.0.attn_q.weight");
}

TEST(Gemma4aModelTest, PartialClampIsNamed) {
  expect_model_invalid(
      edited_mmproj(kKeepKeys, [](const std::string& n, std::vector<int64_t>&,
                                  std::span<const uint8_t>&) { return n != "a.blk.1.ffn_up.output_max"; }),
      "a.blk.1.ffn_up.output_max");
}

TEST(Gemma4aModelTest, BadKeysAreNamed) {
  expect_model_invalid(
      edited_mmproj([](const std::string& k, gguf::Value&) { return k != "clip.audio.block_count"; },
                    kKeepTensors),
      "clip.audio.block_count");
  expect_model_invalid(edited_mmproj(
                           [](const std::string& k, gguf::Value& v) {
                             if (k == "clip.audio.attention.head_count") v = gguf::make_value(uint32_t{0});
                             return true;
                           },
                           kKeepTensors),
                       "clip.audio.attention.head_count");
  expect_model_invalid(edited_mmproj(
                           [](const std::string& k, gguf::Value& v) {
                             if (k == "clip.audio.attention.head_count") v = gguf::make_value(uint32_t{3});
                             return true;
                           },
                           kKeepTensors),
                       "head_count");
  expect_model_invalid(edited_mmproj(
                           [](const std::string& k, gguf::Value& v) {
                             if (k == "clip.audio.projector_type")
                               v = gguf::make_value(std::string("whisper"));
                             return true;
                           },
                           kKeepTensors),
                       "clip.audio.projector_type");
  // A wider text model than the embedder's output: mm.a.input_projection no longer fits.
  expect_model_invalid(edited_mmproj(
                           [](const std::string& k, gguf::Value& v) {
                             if (k == "clip.audio.projection_dim") v = gguf::make_value(uint32_t{128});
                             return true;
                           },
                           kKeepTensors),
                       "mm.a.input_projection.weight");
}

}  // namespace
}  // namespace hark::gemma4a
