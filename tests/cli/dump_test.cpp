// Black-box tests of `hark dump`: its tensors must be the goldens' (same names, shapes, layout, values).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "gguf/gguf.h"
#include "testutil/testutil.h"

namespace hark {
namespace {

test::CommandResult dump(const std::string& args) {
  return test::run_command(test::hark_binary() + " dump " + args);
}

std::span<const float> f32(const gguf::File& f, const std::string& name) {
  const auto* t = f.find_tensor(name);
  if (!t) return {};
  const auto bytes = f.tensor_data(*t);
  return {reinterpret_cast<const float*>(bytes.data()), bytes.size() / sizeof(float)};
}

TEST(Dump, MelOfJfkMatchesTheGolden) {
  const std::string out = test::temp_dir() + "/jfk.gguf";
  const auto r = dump("--stage mel '" + test::fixture("audio/jfk.wav") + "' -o '" + out + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto ours = gguf::File::open(out);
  const auto golden = gguf::File::open(test::fixture("gemma4-tiny/golden-jfk.gguf"));
  const auto* t = ours.find_tensor("mel.0");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, GgmlType::F32);
  EXPECT_EQ(t->ne, golden.find_tensor("mel.0")->ne);
  EXPECT_EQ(ours.find_tensor("mel.1"), nullptr);
  const auto a = f32(ours, "mel.0"), g = f32(golden, "mel.0");
  ASSERT_EQ(a.size(), g.size());
  // Tolerances of ../shared/fixtures/README.md (in practice the values are bitwise equal).
  double sum = 0, max_above_m5 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - g[i]);
    sum += d;
    if (g[i] > -5.0f) max_above_m5 = std::max(max_above_m5, d);
  }
  EXPECT_LE(test::max_abs_diff(g.data(), a.data(), a.size()), 5e-3);
  EXPECT_LE(sum / static_cast<double>(a.size()), 2e-5);
  EXPECT_LE(max_above_m5, 1e-4);
}

TEST(Dump, TwoChunksAndPcmInOneFile) {
  const std::string out = test::temp_dir() + "/x3.gguf";
  const auto r =
      dump("--stage pcm --stage mel -t 2 '" + test::fixture("audio/jfk_x3.wav") + "' -o '" + out + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto ours = gguf::File::open(out);
  EXPECT_EQ(ours.get_int("dump.n_chunks"), 2);
  EXPECT_EQ(f32(ours, "pcm").size(), 33u * 16000);
  const auto golden = gguf::File::open(test::fixture("gemma4-tiny/golden-jfk_x3.gguf"));
  for (const char* name : {"mel.0", "mel.1"}) {
    ASSERT_NE(ours.find_tensor(name), nullptr) << name;
    EXPECT_EQ(ours.find_tensor(name)->ne, golden.find_tensor(name)->ne) << name;
    EXPECT_LE(test::max_abs_diff(f32(golden, name).data(), f32(ours, name).data(), f32(golden, name).size()),
              5e-3);
  }
}

TEST(Dump, PcmIsTheWavSamples) {
  const std::string out = test::temp_dir() + "/pcm.gguf";
  const auto r = dump("--stage pcm '" + test::fixture("audio/jfk.wav") + "' -o '" + out + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto ours = gguf::File::open(out);
  const auto pcm = f32(ours, "pcm");
  EXPECT_EQ(ours.find_tensor("mel.0"), nullptr);
  // The same speech as headerless s16le: 16 kHz mono needs no resampling, so samples are s16 / 32768.
  const auto raw = test::read_file(test::fixture("audio/formats/jfk_16k_s16le.raw"));
  ASSERT_EQ(pcm.size(), raw.size() / 2);
  std::vector<float> expected(pcm.size());  // [n_samples]
  for (size_t i = 0; i < expected.size(); ++i) {
    int16_t s;
    std::memcpy(&s, raw.data() + 2 * i, 2);
    expected[i] = s / 32768.0f;
  }
  EXPECT_LE(test::max_abs_diff(expected.data(), pcm.data(), pcm.size()), 1e-6);
}

TEST(Dump, UserMistakesAreClearErrors) {
  const std::string dir = test::temp_dir();
  auto r = dump("--stage mel '" + dir + "/missing.wav' -o '" + dir + "/o.gguf'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("missing.wav"), std::string::npos) << r.output;
  r = dump("--stage bogus '" + test::fixture("audio/jfk.wav") + "' -o '" + dir + "/o.gguf'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("bogus"), std::string::npos) << r.output;
  r = dump("--stage mel '" + test::fixture("audio/corrupt/random.bin") + "' -o '" + dir + "/o.gguf'");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("hark: error:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("random.bin"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hark
