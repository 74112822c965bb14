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

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kSmallPage = 4096;

[[noreturn]] void out_of_memory(size_t bytes, int err) {
  throw Error(Errc::kResourceExhausted,
              "cannot allocate " + std::to_string(bytes) + " bytes: " + std::strerror(err));
}

}  // namespace

HugeBuffer::HugeBuffer(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  if (bytes < kHugePage) {
    // A huge page would be faulted in whole for a small block (the demo model's weights are tens of KB):
    // small blocks get ordinary pages.
    mapped_ = (bytes + kSmallPage - 1) / kSmallPage * kSmallPage;
    data_ = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data_ == MAP_FAILED) out_of_memory(bytes, errno);
    return;
  }
  mapped_ = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // Map one huge page more than needed and trim, so the block starts on a 2 MiB boundary (a huge page can
  // only back an aligned range).
  const size_t span = mapped_ + kHugePage;
  void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) out_of_memory(bytes, errno);
  const auto base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t start = (base + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  if (start > base) ::munmap(p, start - base);
  if (const size_t tail = base + span - (start + mapped_); tail > 0)
    ::munmap(reinterpret_cast<void*>(start + mapped_), tail);
  data_ = reinterpret_cast<void*>(start);
  ::madvise(data_, mapped_, MADV_HUGEPAGE);  // advisory: without THP the pages are just small
}

HugeBuffer::~HugeBuffer() {
  release();
}

HugeBuffer::HugeBuffer(HugeBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      mapped_(std::exchange(o.mapped_, 0)) {}

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mapped_ = std::exchange(o.mapped_, 0);
  }
  return *this;
}

void HugeBuffer::release() {
  if (data_ != nullptr) ::munmap(data_, mapped_);
  data_ = nullptr;
  size_ = mapped_ = 0;
}

}  // namespace hark
