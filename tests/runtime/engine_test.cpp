// End to end through the engine on the tiny fixture model: wav -> decode -> mel -> gemma4a -> llama-server's
// prompt -> gemma4 -> greedy tokens, compared with what llama.cpp generated (the golden ladder's last rung).
#include "runtime/gemma4_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "audio/decode.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "testutil/testutil.h"
#include "tiny_engine.h"

namespace hark::runtime {
namespace {

template <typename T>
std::vector<T> golden_vec(const gguf::File& g, const char* name) {
  const auto* t = g.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  const auto bytes = g.tensor_data(*t);
  const T* p = reinterpret_cast<const T*>(bytes.data());
  return std::vector<T>(p, p + bytes.size() / sizeof(T));
}

class EngineGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(EngineGolden, TeacherForcedLogitsMatchLlamaCpp) {
  const std::string clip = GetParam();
  const gguf::File golden = gguf::File::open(test::fixture("gemma4-tiny/golden-" + clip + ".gguf"));
  auto e = tiny_engine();
  const audio::Decoded pcm = audio::decode_file(test::fixture("audio/" + clip + ".wav"), {});
  const std::vector<std::vector<std::vector<float>>> audio = {e->encode_audio(pcm.samples)};
  text::AudioInput in;
  for (const auto& rows : audio[0]) in.chunk_rows.push_back(static_cast<int32_t>(rows.size() / 64));
  const text::Prompt prompt = text::llama_server_transcription_prompt(e->tokenizer(), in);
  EXPECT_EQ(prompt.flat_tokens(), golden_vec<int32_t>(golden, "prompt.tokens"));

  // Teacher-forced: feed llama.cpp's greedy tokens and compare each step's top-8 logits (README: within
  // 0.3) and the argmax wherever llama.cpp's margin exceeds the noise floor (0.3).
  const auto want = golden_vec<int32_t>(golden, "greedy.tokens");
  const auto margin = golden_vec<float>(golden, "greedy.margin");
  const auto topk_ids = golden_vec<int32_t>(golden, "greedy.topk_ids");
  const auto topk_logits = golden_vec<float>(golden, "greedy.topk_logits");
  std::vector<float> logits;
  gemma4::KvCache cache = e->prefill(prompt, audio, logits);
  int clear_steps = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    for (size_t k = 0; k < 8; ++k)
      EXPECT_NEAR(logits[static_cast<size_t>(topk_ids[i * 8 + k])], topk_logits[i * 8 + k], 0.3)
          << "step " << i << " rank " << k;
    const int32_t argmax =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (margin[i] > 0.3f) {
      EXPECT_EQ(argmax, want[i]) << "step " << i << " margin " << margin[i];
      ++clear_steps;
    }
    const gemma4::Input next = gemma4::Input::tok(want[i], true);
    e->text_model().forward(cache, std::span<const gemma4::Input>(&next, 1), logits, e->pool());
  }
  EXPECT_GT(clear_steps, 10);
}

INSTANTIATE_TEST_SUITE_P(Clips, EngineGolden, ::testing::Values("jfk", "jfk_x3", "silence_1s", "noise_1s"));

TEST(Engine, SilenceAndNoiseGiveNoText) {
  auto e = tiny_engine();
  for (const char* clip : {"audio/silence_1s.wav", "audio/noise_1s.wav"}) {
    TranscribeRequest req;
    req.pcm16k = audio::decode_file(test::fixture(clip), {}).samples;
    const TranscribeResult r = e->transcribe(req, {});
    EXPECT_EQ(r.text, "") << clip;
    EXPECT_TRUE(r.segments.empty()) << clip;
    EXPECT_EQ(r.usage.output_tokens, 0) << clip;
  }
}

TEST(Engine, SpeechGivesSegmentsInsideTheAudioAndStreamsTheSameText) {
  auto e = tiny_engine();
  TranscribeRequest req;
  req.pcm16k = audio::decode_file(test::fixture("audio/jfk.wav"), {}).samples;
  std::string streamed;
  Callbacks cb;
  cb.on_delta = [&](std::string_view d, std::span<const TokenLogprob>) { streamed += d; };
  const TranscribeResult r = e->transcribe(req, cb);
  ASSERT_FALSE(r.segments.empty());
  EXPECT_GT(r.usage.output_tokens, 0);
  EXPECT_EQ(r.usage.input_audio_tokens, 275);
  for (const auto& s : r.segments) {
    EXPECT_GE(s.start, 0.0);
    EXPECT_LE(s.end, 11.0);
    EXPECT_LT(s.start, s.end);
    EXPECT_LE(s.avg_logprob, 0.0f);
    EXPECT_GE(s.no_speech_prob, 0.0f);
    EXPECT_LE(s.no_speech_prob, 1.0f);
  }
  // What was streamed is what the result holds (whitespace aside: the result is trimmed).
  auto squash = [](std::string s) {
    std::string o;
    for (char c : s)
      if (!std::isspace(static_cast<unsigned char>(c))) o += c;
    return o;
  };
  EXPECT_EQ(squash(streamed), squash(r.text));
}

TEST(Engine, CancellationStopsTheRequest) {
  auto e = tiny_engine();
  TranscribeRequest req;
  req.pcm16k = audio::decode_file(test::fixture("audio/jfk.wav"), {}).samples;
  Callbacks cb;
  cb.cancelled = [] { return true; };
  try {
    e->transcribe(req, cb);
    FAIL();
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), Errc::kCancelled);
  }
}

// Loading the two files fails with `code` and a message that names `mention`.
void expect_load_error(const std::string& model, const std::string& mmproj, Errc code,
                       const std::string& mention) {
  EngineOptions o;
  o.model_path = model;
  o.mmproj_path = mmproj;
  try {
    Gemma4Engine::load(o);
    FAIL() << "loaded " << model << " + " << mmproj;
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), code);
    EXPECT_NE(std::string(err.what()).find(mention), std::string::npos) << err.what();
  }
}

TEST(Engine, MismatchedFilesAreRefused) {
  expect_load_error(test::fixture("gemma4-tiny/mmproj.gguf"), test::fixture("gemma4-tiny/model.gguf"),
                    Errc::kModelInvalid, "--mmproj");
}

// A copy of fixture `name` at `out` (in the temp dir), edited by `edit` before its tensors are added, and
// without the tensor `drop` (if not empty).
std::string edited_copy(const std::string& name, const std::string& out,
                        const std::function<void(gguf::Writer&)>& edit, const std::string& drop = "") {
  const gguf::File src = gguf::File::open(test::fixture(name));
  gguf::Writer w(src.alignment());
  for (const auto& [key, value] : src.kvs()) w.set(key, value);
  edit(w);
  for (const gguf::TensorInfo& t : src.tensors())
    if (t.name != drop) w.add_tensor(t.name, t.type, t.ne, src.tensor_data(t));
  const std::string path = test::temp_dir() + "/" + out;
  w.write(path);
  return path;
}

// The tokenizer and the encoder load on threads of their own while the text model loads; their errors
// must still be the load's.
TEST(Engine, ATokenizerErrorFailsTheLoad) {
  const std::string path =
      edited_copy("gemma4-tiny/model.gguf", "engine-bad-tokenizer.gguf",
                  [](gguf::Writer& w) { w.set_string("tokenizer.ggml.model", "llama"); });
  expect_load_error(path, test::fixture("gemma4-tiny/mmproj.gguf"), Errc::kUnsupported,
                    "tokenizer.ggml.model");
}

TEST(Engine, AnEncoderErrorFailsTheLoad) {
  const std::string path = edited_copy(
      "gemma4-tiny/mmproj.gguf", "engine-bad-mmproj.gguf", [](gguf::Writer&) {}, "a.blk.0.attn_q.weight");
  expect_load_error(test::fixture("gemma4-tiny/model.gguf"), path, Errc::kModelInvalid,
                    "a.blk.0.attn_q.weight");
}

}  // namespace
}  // namespace hark::runtime
