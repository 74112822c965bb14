#include "core/huge_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "core/error.h"

namespace hark {
namespace {

constexpr size_t kSmallPage = 4096;

[[noreturn]] void out_of_memory(size_t bytes, int err) {
  throw Error(Errc::kResourceExhausted,
              "cannot allocate " + std::to_string(bytes) + " bytes: " + std::strerror(err));
}

size_t mapped_bytes(size_t bytes) {
  const size_t page = bytes < kHugePageBytes ? kSmallPage : kHugePageBytes;
  return (bytes + page - 1) / page * page;
}

}  // namespace

void* map_huge(size_t bytes) {
  const size_t mapped = mapped_bytes(bytes);
  if (bytes < kHugePageBytes) {
    // A huge page would be faulted in whole for a small block (the demo model's weights are tens of KB):
    // small blocks get ordinary pages.
    void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  // Map one huge page more than needed and trim, so the block starts on a 2 MiB boundary (a huge page can
  // only back an aligned range).
  const size_t span = mapped + kHugePageBytes;
  void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t start = (base + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  if (start > base) ::munmap(p, start - base);
  if (const size_t tail = base + span - (start + mapped); tail > 0)
    ::munmap(reinterpret_cast<void*>(start + mapped), tail);
  ::madvise(reinterpret_cast<void*>(start), mapped, MADV_HUGEPAGE);  // advisory: without THP, small pages
  return reinterpret_cast<void*>(start);
}

void unmap_huge(void* p, size_t bytes) {
  if (p != nullptr) ::munmap(p, mapped_bytes(bytes));
}

HugeBuffer::HugeBuffer(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  data_ = map_huge(bytes);
  if (data_ == nullptr) out_of_memory(bytes, errno);
}

HugeBuffer::~HugeBuffer() {
  release();
}

HugeBuffer::HugeBuffer(HugeBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

void HugeBuffer::release() {
  unmap_huge(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace hark
