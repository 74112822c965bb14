// An owned, zero-filled block of anonymous memory for large data built once at load (weights packed for a
// kernel). It asks the kernel for transparent huge pages: filling hundreds of MB through 4 KiB first-touch
// faults measured 1.9 s for 615 MB on the dev VM (each fault a hypervisor exit), against ~0.1 s with 2 MiB
// pages, and the kernels that stream it take fewer TLB misses. Where huge pages are off it is ordinary
// memory; so is a block under 2 MiB (a huge page would be faulted in whole for it).
//
// HugePageAllocator puts large scratch arrays (a prompt's or an audio chunk's activations, rewritten by
// every layer) on the same kind of memory.
#pragma once

#include <cstddef>
#include <limits>
#include <new>
#include <vector>

namespace hark {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// `bytes` of zero-filled anonymous memory: from kHugePageBytes on, starting on a 2 MiB boundary with
// transparent huge pages asked for; below, ordinary pages. nullptr (errno set) when it cannot be had.
// unmap_huge takes the same byte count back.
void* map_huge(size_t bytes);
void unmap_huge(void* p, size_t bytes);

class HugeBuffer {
 public:
  HugeBuffer() = default;
  // Throws Error(kResourceExhausted) when the memory cannot be had.
  explicit HugeBuffer(size_t bytes);
  ~HugeBuffer();
  HugeBuffer(HugeBuffer&& other) noexcept;  // leaves `other` empty
  HugeBuffer& operator=(HugeBuffer&& other) noexcept;
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release();
  void* data_ = nullptr;
  size_t size_ = 0;  // as asked
};

// A std::allocator for large scratch arrays: blocks of kHugePageBytes and more come from map_huge, smaller
// ones from operator new. Under AddressSanitizer all come from operator new, so its checks still cover them.
template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  static bool mapped(size_t n) {
#if defined(__SANITIZE_ADDRESS__)
    (void)n;
    return false;
#else
    return n * sizeof(T) >= kHugePageBytes;
#endif
  }
  T* allocate(size_t n) {
    if (n > std::numeric_limits<size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    if (!mapped(n)) return static_cast<T*>(::operator new(n * sizeof(T)));
    void* p = map_huge(n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) noexcept {
    if (mapped(n)) {
      unmap_huge(p, n * sizeof(T));
    } else {
      ::operator delete(p);
    }
  }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace hark
