// `hark dump -m ... --mmproj ...` writes every golden tensor; compared here with llama.cpp's for jfk within
// the README's tolerances (this is the contract external checks use on clips we have not seen).
#include <gtest/gtest.h>

#include <map>

#include "gguf/gguf.h"
#include "testutil/testutil.h"

namespace hark {
namespace {

template <typename T>
std::vector<T> tensor(const gguf::File& f, const std::string& name) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t) return {};
  const auto b = f.tensor_data(*t);
  return std::vector<T>(reinterpret_cast<const T*>(b.data()),
                        reinterpret_cast<const T*>(b.data()) + t->n_elements());
}

TEST(DumpModel, EveryGoldenTensorOfJfkMatchesLlamaCpp) {
  const std::string out = test::temp_dir() + "/jfk.gguf";
  const std::string m = test::fixture("gemma4-tiny/");
  const std::string golden_path = m + "golden-jfk.gguf";
  auto r = test::run_command(test::hark_binary() + " dump -m " + m + "model.gguf --mmproj " + m +
                             "mmproj.gguf --audio " + test::fixture("audio/jfk.wav") + " --teacher-force " +
                             golden_path + " -t 2 -o " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const gguf::File ours = gguf::File::open(out);
  const gguf::File golden = gguf::File::open(golden_path);

  EXPECT_EQ(tensor<int32_t>(ours, "prompt.tokens"), tensor<int32_t>(golden, "prompt.tokens"));
  EXPECT_EQ(tensor<int32_t>(ours, "prompt.audio_spans"), tensor<int32_t>(golden, "prompt.audio_spans"));
  EXPECT_EQ(tensor<int32_t>(ours, "audio.chunk_n_tokens"), tensor<int32_t>(golden, "audio.chunk_n_tokens"));
  for (const auto& [name, max_rel] :
       std::map<std::string, double>{{"mel.0", 1e-5}, {"audio.embd", 1e-3}, {"logits.last", 2e-2}}) {
    const auto a = tensor<float>(golden, name), b = tensor<float>(ours, name);
    ASSERT_EQ(a.size(), b.size()) << name;
    EXPECT_LE(test::rel_rms(a.data(), b.data(), a.size()), max_rel) << name;
  }
  const auto gl = tensor<float>(golden, "logits.last"), ol = tensor<float>(ours, "logits.last");
  EXPECT_LE(test::max_abs_diff(gl.data(), ol.data(), gl.size()), 0.3);

  // Teacher-forced steps: shared top-8 entries within 0.3, argmax equal where llama.cpp's margin > 0.3.
  const auto g_ids = tensor<int32_t>(golden, "greedy.topk_ids"),
             o_ids = tensor<int32_t>(ours, "greedy.topk_ids");
  const auto g_lg = tensor<float>(golden, "greedy.topk_logits"),
             o_lg = tensor<float>(ours, "greedy.topk_logits");
  const auto margin = tensor<float>(golden, "greedy.margin");
  ASSERT_EQ(g_ids.size(), o_ids.size());
  int shared = 0;
  for (size_t s = 0; s < margin.size(); ++s) {
    if (margin[s] > 0.3f) {
      EXPECT_EQ(o_ids[s * 8], g_ids[s * 8]) << "step " << s;
    }
    for (size_t i = 0; i < 8; ++i)
      for (size_t j = 0; j < 8; ++j)
        if (g_ids[s * 8 + i] == o_ids[s * 8 + j]) {
          EXPECT_NEAR(o_lg[s * 8 + j], g_lg[s * 8 + i], 0.3) << "step " << s << " id " << g_ids[s * 8 + i];
          ++shared;
        }
  }
  EXPECT_GT(shared, static_cast<int>(margin.size()) * 6);
}

TEST(DumpModel, ModelStagesWithoutAModelAreRefused) {
  auto r = test::run_command(test::hark_binary() + " dump --stage logits " + test::fixture("audio/jfk.wav") +
                             " -o " + test::temp_dir() + "/x.gguf");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--mmproj"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hark
