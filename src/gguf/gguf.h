// GGUF files (versions 2 and 3), as ggml and llama.cpp write them.
//
// Layout: magic "GGUF", u32 version, u64 tensor count, u64 key/value count, the key/values, the tensor
// infos (name, n_dims, dims, type, offset), padding to `general.alignment` (default 32), the data section.
// The reader validates everything against the file size before it trusts it: a corrupt file yields
// Error(kCorruptFile / kUnsupported) whose message names what is wrong and the byte offset, never a crash.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/ggml_type.h"
#include "core/mmap.h"

namespace hark::gguf {

enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
std::string_view value_type_name(ValueType t);

// An array holds elements of one scalar or string type (nested arrays are refused, as ggml does).
struct Array {
  ValueType elem_type = ValueType::U8;
  std::variant<std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>, std::vector<int16_t>,
               std::vector<uint32_t>, std::vector<int32_t>, std::vector<float>, std::vector<bool>,
               std::vector<std::string>, std::vector<uint64_t>, std::vector<int64_t>, std::vector<double>>
      data;
  size_t size() const;
};

struct Value {
  ValueType type = ValueType::U8;
  std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string, Array,
               uint64_t, int64_t, double>
      data;

  // Conversions that throw Error(kModelInvalid) naming `key` when the stored type does not fit.
  int64_t as_int(std::string_view key) const;   // any integer type (u64 above INT64_MAX refused)
  double as_float(std::string_view key) const;  // F32/F64 or any integer
  bool as_bool(std::string_view key) const;
  const std::string& as_string(std::string_view key) const;
  const Array& as_array(std::string_view key) const;
  // One line for display; arrays show their first `max_items` elements.
  std::string to_string(size_t max_items = 8) const;
};

struct TensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;      // relative to the data section
  uint64_t n_bytes = 0;
  int64_t n_elements() const;
};

class File {
 public:
  // Maps and parses a file. Throws hark::Error naming the path, problem and offset.
  static File open(const std::string& path);
  // Parses bytes owned by the caller (they must outlive the File). `name` is used in messages.
  static File parse(std::span<const uint8_t> bytes, std::string name = "<memory>");

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  const std::string& name() const { return name_; }

  // Key/values in file order.
  const std::vector<std::pair<std::string, Value>>& kvs() const { return kvs_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed accessors: the key must exist (else Error(kModelInvalid) "missing key ...").
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  const Array& get_array(std::string_view key) const;
  // Optional forms return the fallback when the key is absent (a present key of the wrong type throws).
  int64_t get_int(std::string_view key, int64_t fallback) const;
  double get_float(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::string get_string(std::string_view key, const std::string& fallback) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // The tensor's bytes inside the mapped file (valid as long as this File lives).
  std::span<const uint8_t> tensor_data(const TensorInfo& t) const;
  const uint8_t* base() const { return bytes_.data(); }
  // Copies the n bytes at `p` (inside this file's bytes) to `dst`. For a file opened from disk this reads
  // through the file descriptor and leaves the mapping untouched (MappedFile::read: sparse lookups would
  // otherwise grow resident memory by whole folios); a parsed buffer is copied directly.
  void copy_bytes(const uint8_t* p, size_t n, void* dst) const;
  size_t file_size() const { return bytes_.size(); }

 private:
  std::shared_ptr<MappedFile> map_;
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kvs_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;

  friend class Parser;
};

// Builds a GGUF file (version 3). Tensors are written in the order added, each aligned.
class Writer {
 public:
  explicit Writer(uint64_t alignment = 32) : alignment_(alignment) {}

  void set(const std::string& key, Value value);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_array(const std::string& key, Array a);

  // `data` must hold exactly the bytes for `ne` elements of `type`; the writer copies it.
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                  std::span<const uint8_t> data);
  void add_tensor_f32(const std::string& name, std::vector<int64_t> ne, std::span<const float> data);
  void add_tensor_i32(const std::string& name, std::vector<int64_t> ne, std::span<const int32_t> data);
  // A tensor whose bytes are produced only while writing (`fill` gets a buffer of exactly its size), so
  // multi-gigabyte files can be written without holding them in memory.
  using Fill = std::function<void(std::span<uint8_t> dst)>;
  void add_tensor_generated(const std::string& name, GgmlType type, std::vector<int64_t> ne, Fill fill);

  std::vector<uint8_t> to_bytes() const;
  void write(const std::string& path) const;  // throws Error(kIo)

 private:
  uint64_t alignment_;
  std::vector<std::pair<std::string, Value>> kvs_;
  struct PendingTensor {
    TensorInfo info;
    std::vector<uint8_t> data;  // empty when `fill` produces the bytes
    Fill fill;
  };
  TensorInfo make_info(const std::string& name, GgmlType type, std::vector<int64_t> ne) const;
  std::vector<uint8_t> header_bytes() const;
  std::vector<PendingTensor> tensors_;
};

// Helpers to build Values.
Value make_value(uint32_t v);
Value make_value(int32_t v);
Value make_value(float v);
Value make_value(bool v);
Value make_value(std::string v);
Value make_value(Array a);

}  // namespace hark::gguf
