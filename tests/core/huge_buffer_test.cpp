// HugeBuffer: zero-filled, writable memory, on a 2 MiB boundary from 2 MiB on (so huge pages can back it),
// owned by one object at a time.
#include "core/huge_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

namespace hark {
namespace {

TEST(HugeBuffer, ZeroFilledAlignedAndWritable) {
  constexpr size_t kBytes = (size_t{5} << 20) + 3;  // not a whole number of huge pages
  HugeBuffer b(kBytes);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), kBytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % (size_t{2} << 20), 0u);
  auto* p = static_cast<uint8_t*>(b.data());
  for (size_t i = 0; i < kBytes; i += 4093) ASSERT_EQ(p[i], 0) << i;
  ASSERT_EQ(p[kBytes - 1], 0);
  p[0] = 1;
  p[kBytes - 1] = 2;
  EXPECT_EQ(p[0] + p[kBytes - 1], 3);
}

TEST(HugeBuffer, SmallBlockIsZeroFilledAndWritable) {
  HugeBuffer b(5000);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), 5000u);
  auto* p = static_cast<uint8_t*>(b.data());
  for (size_t i = 0; i < 5000; ++i) ASSERT_EQ(p[i], 0) << i;
  p[4999] = 9;
  EXPECT_EQ(p[4999], 9);
}

TEST(HugeBuffer, MovesOwnership) {
  HugeBuffer a(4096);
  void* const data = a.data();
  HugeBuffer b(std::move(a));
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.size(), 4096u);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.size(), 0u);
  HugeBuffer c(8192);
  c = std::move(b);
  EXPECT_EQ(c.data(), data);
  EXPECT_EQ(c.size(), 4096u);
}

TEST(HugeBuffer, EmptyHasNoMemory) {
  const HugeBuffer e(0);
  EXPECT_EQ(e.data(), nullptr);
  EXPECT_EQ(e.size(), 0u);
}

// HugeVector: a std::vector whose blocks of 2 MiB and more start on a 2 MiB boundary (so huge pages can
// back them; under AddressSanitizer they come from operator new like the small ones, for its checks).
TEST(HugeVector, LargeBlocksAreAlignedAndBehaveAsVectors) {
  HugeVector<float> v(size_t{3} << 20);  // 12 MiB
  for (size_t i = 0; i < v.size(); i += 1021) ASSERT_EQ(v[i], 0.0f) << i;
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % kHugePageBytes, 0u);
#endif
  v[5] = 1.5f;
  v.back() = 2.5f;
  v.resize(v.size() * 2);  // moves to a new block
  EXPECT_EQ(v[5], 1.5f);
  EXPECT_EQ(v[(size_t{3} << 20) - 1], 2.5f);
  EXPECT_EQ(v.back(), 0.0f);
  const HugeVector<float> copy = v;
  EXPECT_EQ(copy, v);
  HugeVector<float> small(10, 1.0f);  // from operator new
  small.push_back(2.0f);
  EXPECT_EQ(small.size(), 11u);
  EXPECT_EQ(small.back(), 2.0f);
  v.clear();
  v.shrink_to_fit();
  EXPECT_EQ(v.capacity(), 0u);
}

}  // namespace
}  // namespace hark
