// A read-only memory-mapped file (RAII). Model weights stay in the page cache and are shared by every
// request; the mapping copies nothing (weights a kernel wants in another layout are copied by their
// model's loader, reading through read()). The file also stays open for read(), the path for sparse lookups.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace hark {

class MappedFile {
 public:
  // Throws Error(kNotFound / kIo) naming the path.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

  // Copies n bytes at `offset` with pread(2) rather than through the mapping. For sparse lookups in big
  // tables (one row of a 1.3 GB embedding per token): a touch through the mapping makes the kernel map the
  // whole page-cache folio around it, measured at ~460 KB of resident memory per row first touched. Throws
  // Error(kInvalidArgument) past the end and Error(kIo) on a failed or short read.
  void read(size_t offset, void* dst, size_t n) const;

 private:
  void release();
  std::string path_;
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace hark
