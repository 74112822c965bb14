// Hostile GGUF files: each must be refused with Error(kCorruptFile/kUnsupported) whose message says what is
// wrong and at which offset — never a crash or an out-of-bounds read (this suite also runs under ASan).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hark::gguf {
namespace {

// Builds GGUF bytes field by field so tests can break any of them.
struct Bytes {
  std::vector<uint8_t> b;
  template <typename T>
  Bytes& put(T v) {
    const size_t n = b.size();
    b.resize(n + sizeof(T));
    std::memcpy(b.data() + n, &v, sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return put<uint32_t>(0x46554747).put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }
  Bytes& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) put<uint64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  Bytes& pad(size_t alignment = 32) {
    while (b.size() % alignment) b.push_back(0);
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

// Parses `bytes`, expects an Error with `code` whose message contains `needle` and "offset".
void expect_error(const std::vector<uint8_t>& bytes, Errc code, const std::string& needle) {
  try {
    File::parse(bytes, "t.gguf");
    FAIL() << "accepted a corrupt file; expected: " << needle;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.code(), code) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_NE(msg.find("offset"), std::string::npos) << msg;
  }
}

std::vector<uint8_t> valid_file() {
  Writer w;
  w.set_string("general.architecture", "x");
  std::vector<float> d(32, 1.0f);
  w.add_tensor_f32("a", {32}, d);
  w.add_tensor_f32("b", {8, 4}, d);
  return w.to_bytes();
}

TEST(GgufCorrupt, EveryTruncationIsRefused) {
  const auto good = valid_file();
  ASSERT_NO_THROW(File::parse(good));
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_THROW(File::parse(cut), Error) << "prefix of " << n << " bytes";
  }
}

TEST(GgufCorrupt, BadMagic) {
  auto b = valid_file();
  b[0] = 'X';
  expect_error(b, Errc::kCorruptFile, "bad magic");
}

TEST(GgufCorrupt, UnsupportedVersions) {
  for (uint32_t v : {1u, 4u, 0xffffffffu})
    expect_error(Bytes().header(0, 0, v).b, Errc::kUnsupported, "version");
  expect_error(Bytes().header(0, 0, 0).b, Errc::kCorruptFile, "version 0");
}

TEST(GgufCorrupt, Version2IsRead) {
  auto b = Bytes().header(0, 1, 2).str("k").put<uint32_t>(4).put<uint32_t>(9).b;
  EXPECT_EQ(File::parse(b).get_int("k"), 9);
}

TEST(GgufCorrupt, HugeCounts) {
  expect_error(Bytes().header(1ull << 60, 0).b, Errc::kCorruptFile, "tensor count");
  expect_error(Bytes().header(0, 1ull << 60).b, Errc::kCorruptFile, "key/value count");
}

TEST(GgufCorrupt, HugeStringLength) {
  expect_error(Bytes().header(0, 1).put<uint64_t>(1ull << 62).zeros(64).b, Errc::kCorruptFile,
               "string length");
  expect_error(Bytes().header(0, 1).put<uint64_t>(100).zeros(20).b, Errc::kCorruptFile, "truncated");
}

TEST(GgufCorrupt, UnknownValueType) {
  expect_error(Bytes().header(0, 1).str("k").put<uint32_t>(13).b, Errc::kCorruptFile,
               "unknown value type 13");
}

TEST(GgufCorrupt, ArrayProblems) {
  // element type unknown
  expect_error(Bytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(77).put<uint64_t>(1).b,
               Errc::kCorruptFile, "unknown array element type");
  // length larger than the file
  expect_error(Bytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(1ull << 40).b,
               Errc::kCorruptFile, "array length");
  expect_error(Bytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1ull << 61).b,
               Errc::kCorruptFile, "array length");
  // nested arrays are refused
  expect_error(Bytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1).b,
               Errc::kUnsupported, "nested");
}

TEST(GgufCorrupt, BadBool) {
  expect_error(Bytes().header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2).b, Errc::kCorruptFile, "bool");
}

TEST(GgufCorrupt, DuplicateKey) {
  auto b =
      Bytes().header(0, 2).str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(
          2);
  expect_error(b.b, Errc::kCorruptFile, "duplicate key 'k'");
}

TEST(GgufCorrupt, BadAlignment) {
  auto b = Bytes().header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(24);
  expect_error(b.b, Errc::kCorruptFile, "power of two");
}

TEST(GgufCorrupt, TensorProblemsAreNamed) {
  auto one = [](const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t off, size_t data) {
    return Bytes().header(1, 0).tensor(name, ne, type, off).pad().zeros(data).b;
  };
  EXPECT_NO_THROW(File::parse(one("t", {4}, 0, 0, 16)));
  expect_error(one("t", {4}, 99, 0, 16), Errc::kCorruptFile, "unknown tensor type 99");
  expect_error(one("t", {0}, 0, 0, 16), Errc::kCorruptFile, "is zero or overflows");
  expect_error(one("t", {1ull << 40, 1ull << 40}, 0, 0, 16), Errc::kCorruptFile, "overflows");
  expect_error(one("t", {1ull << 63}, 0, 0, 16), Errc::kCorruptFile, "overflows");
  expect_error(one("t", {4}, 0, 0, 8), Errc::kCorruptFile, "outside the data section");
  expect_error(one("t", {4}, 0, 1ull << 62, 16), Errc::kCorruptFile, "outside the data section");
  expect_error(one("t", {4}, 0, 8, 64), Errc::kCorruptFile, "not a multiple of the alignment");
  expect_error(one("t", {5}, 12 /*Q4_K*/, 0, 1024), Errc::kCorruptFile, "block size");
  expect_error(Bytes().header(1, 0).str("t").put<uint32_t>(5).zeros(64).b, Errc::kCorruptFile, "n_dims 5");
  expect_error(Bytes().header(1, 0).str("t").put<uint32_t>(0).zeros(64).b, Errc::kCorruptFile, "n_dims 0");
  expect_error(one("", {4}, 0, 0, 16), Errc::kCorruptFile, "empty name");
}

TEST(GgufCorrupt, OverlapAndDuplicateTensors) {
  auto two = [](const std::string& n1, uint64_t o1, const std::string& n2, uint64_t o2) {
    return Bytes().header(2, 0).tensor(n1, {16}, 0, o1).tensor(n2, {16}, 0, o2).pad().zeros(256).b;
  };
  EXPECT_NO_THROW(File::parse(two("a", 0, "b", 64)));
  expect_error(two("a", 0, "b", 32), Errc::kCorruptFile, "overlap");
  expect_error(two("a", 0, "a", 64), Errc::kCorruptFile, "duplicate tensor name 'a'");
}

TEST(GgufCorrupt, RandomByteFlipsNeverCrash) {
  const auto good = valid_file();
  uint32_t seed = 12345;
  for (int rep = 0; rep < 20000; ++rep) {
    auto b = good;
    for (int k = 0; k < 3; ++k) {
      seed = seed * 1664525u + 1013904223u;
      b[(seed >> 8) % b.size()] = static_cast<uint8_t>(seed >> 24);
    }
    try {
      File f = File::parse(b);
      for (const auto& t : f.tensors()) ASSERT_LE(f.data_offset() + t.offset + t.n_bytes, b.size());
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace hark::gguf
