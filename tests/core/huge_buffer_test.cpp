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

}  // namespace
}  // namespace hark
