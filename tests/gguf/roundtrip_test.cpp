#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"
#include "testutil/testutil.h"

namespace hark::gguf {
namespace {

TEST(Gguf, WriterOutputReadsBack) {
  Writer w;
  w.set_string("general.architecture", "test");
  w.set_u32("a.u32", 7);
  w.set_f32("a.f32", 1.5f);
  w.set_bool("a.bool", true);
  Array toks;
  toks.elem_type = ValueType::STRING;
  toks.data = std::vector<std::string>{"a", "bb", ""};
  w.set_array("a.strings", toks);
  std::vector<float> x(64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i);
  w.add_tensor_f32("x", {16, 4}, x);
  std::vector<int32_t> y = {1, -2, 3};
  w.add_tensor_i32("y", {3}, y);
  const auto bytes = w.to_bytes();

  const File f = File::parse(bytes);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "test");
  EXPECT_EQ(f.get_int("a.u32"), 7);
  EXPECT_EQ(f.get_float("a.f32"), 1.5);
  EXPECT_TRUE(f.get_bool("a.bool"));
  EXPECT_EQ(f.get_int("missing", 42), 42);
  EXPECT_EQ(std::get<std::vector<std::string>>(f.get_array("a.strings").data)[1], "bb");
  ASSERT_EQ(f.tensors().size(), 2u);
  const TensorInfo* t = f.find_tensor("x");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->ne, (std::vector<int64_t>{16, 4}));
  auto data = f.tensor_data(*t);
  ASSERT_EQ(data.size(), 64 * sizeof(float));
  EXPECT_EQ(reinterpret_cast<const float*>(data.data())[63], 63.0f);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  const TensorInfo* ty = f.find_tensor("y");
  EXPECT_EQ(reinterpret_cast<const int32_t*>(f.tensor_data(*ty).data())[1], -2);
}

TEST(Gguf, MissingKeyAndWrongTypeNameTheKey) {
  Writer w;
  w.set_string("k.s", "x");
  const auto bytes = w.to_bytes();
  const File f = File::parse(bytes);
  try {
    f.get_int("k.missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kModelInvalid);
    EXPECT_NE(std::string(e.what()).find("k.missing"), std::string::npos);
  }
  try {
    f.get_int("k.s");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("k.s"), std::string::npos);
  }
}

TEST(Gguf, ReadsEveryFixtureModel) {
  for (const char* rel :
       {"gemma4-tiny/model.gguf", "gemma4-tiny/model-q4_k_m.gguf", "gemma4-tiny/mmproj.gguf",
        "tokenizer/ggml-vocab-gemma-4.gguf", "gemma4-tiny/golden-jfk.gguf"}) {
    const File f = File::open(test::fixture(rel));
    EXPECT_GT(f.kvs().size(), 0u) << rel;
  }
  const File m = File::open(test::fixture("gemma4-tiny/model.gguf"));
  EXPECT_EQ(m.tensors().size(), 176u);
  EXPECT_EQ(m.get_string("general.architecture"), "gemma4");
  const TensorInfo* te = m.find_tensor("token_embd.weight");
  ASSERT_NE(te, nullptr);
  EXPECT_EQ(te->type, GgmlType::Q8_0);
  EXPECT_EQ(te->ne, (std::vector<int64_t>{64, 262144}));
}

}  // namespace
}  // namespace hark::gguf

namespace hark::gguf {
namespace {

TEST(Gguf, GeneratedTensorsAreStreamedToDisk) {
  Writer w(64);
  w.set_string("general.architecture", "gen");
  w.add_tensor_generated("g", GgmlType::F32, {8, 3}, [](std::span<uint8_t> dst) {
    ASSERT_EQ(dst.size(), 96u);
    for (size_t i = 0; i < 24; ++i) reinterpret_cast<float*>(dst.data())[i] = float(i) * 0.5f;
  });
  std::vector<float> x(16, 2.0f);
  w.add_tensor_f32("x", {16}, x);
  const std::string path = test::temp_dir() + "/gen.gguf";
  w.write(path);
  const auto bytes = test::read_file(path);
  EXPECT_EQ(bytes, w.to_bytes());
  const File f = File::open(path);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(reinterpret_cast<const float*>(f.tensor_data(*f.find_tensor("g")).data())[23], 11.5f);
  EXPECT_EQ(reinterpret_cast<const float*>(f.tensor_data(*f.find_tensor("x")).data())[15], 2.0f);
}

// copy_bytes reads through the file descriptor for an opened file and copies a parsed buffer directly:
// the same bytes either way, and ranges outside the file are refused.
TEST(Gguf, CopyBytesMatchesTheMappedBytes) {
  const std::string path = test::fixture("gemma4-tiny/model.gguf");
  const File opened = File::open(path);
  const auto raw = test::read_file(path);
  const File parsed = File::parse(std::span<const uint8_t>(raw.data(), raw.size()), "raw");
  for (const File* f : {&opened, &parsed}) {
    const auto t = f->tensor_data(*f->find_tensor("per_layer_token_embd.weight"));
    ASSERT_GT(t.size(), 4096u);
    for (size_t off : {size_t{0}, size_t{123}, t.size() - 1000}) {
      std::vector<uint8_t> got(1000, 0xab);
      f->copy_bytes(t.data() + off, got.size(), got.data());
      EXPECT_TRUE(std::equal(got.begin(), got.end(), t.begin() + static_cast<std::ptrdiff_t>(off))) << off;
    }
    uint8_t b = 0;
    EXPECT_THROW(f->copy_bytes(f->base() + f->file_size(), 1, &b), Error);
    EXPECT_THROW(f->copy_bytes(f->base() + f->file_size() - 4, 8, &b), Error);
    f->copy_bytes(f->base() + f->file_size(), 0, &b);  // an empty range at the end is fine
  }
}

}  // namespace
}  // namespace hark::gguf
