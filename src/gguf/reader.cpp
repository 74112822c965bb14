#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hark::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxStringLength = 1ull << 30;

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::BOOL:
      return 1;
    case ValueType::U16:
    case ValueType::I16:
      return 2;
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::F32:
      return 4;
    case ValueType::U64:
    case ValueType::I64:
    case ValueType::F64:
      return 8;
    case ValueType::STRING:
      return 8;  // at least its length prefix
    case ValueType::ARRAY:
      return 12;  // at least type + count
  }
  return 1;
}

bool valid_value_type(uint32_t t) {
  return t <= static_cast<uint32_t>(ValueType::F64);
}

}  // namespace

// Reads the byte stream with bounds checks; every failure names the offset.
class Parser {
 public:
  Parser(std::span<const uint8_t> b, const std::string& name) : b_(b), name_(name) {}

  [[noreturn]] void fail(Errc code, const std::string& what, uint64_t at) const {
    std::ostringstream os;
    os << name_ << ": " << what << " at offset " << at;
    throw Error(code, os.str());
  }
  [[noreturn]] void fail(const std::string& what, uint64_t at) const { fail(Errc::kCorruptFile, what, at); }

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return b_.size() - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail(std::string("truncated file: ") + what + " needs " + std::to_string(n) + " bytes, " +
               std::to_string(remaining()) + " left",
           pos_);
  }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(what);
    if (len > kMaxStringLength)
      fail(std::string(what) + ": string length " + std::to_string(len) + " is too large", at);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), len);
    pos_ += len;
    return s;
  }

  template <typename T>
  std::vector<T> read_vec(uint64_t n, const char* what) {
    need(n * sizeof(T), what);  // n was bounded by the caller so this cannot overflow
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), b_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return v;
  }

  Value read_value(ValueType type, const std::string& key, bool in_array) {
    Value v;
    v.type = type;
    switch (type) {
      case ValueType::U8:
        v.data = read<uint8_t>("value");
        break;
      case ValueType::I8:
        v.data = read<int8_t>("value");
        break;
      case ValueType::U16:
        v.data = read<uint16_t>("value");
        break;
      case ValueType::I16:
        v.data = read<int16_t>("value");
        break;
      case ValueType::U32:
        v.data = read<uint32_t>("value");
        break;
      case ValueType::I32:
        v.data = read<int32_t>("value");
        break;
      case ValueType::F32:
        v.data = read<float>("value");
        break;
      case ValueType::BOOL: {
        const uint64_t at = pos_;
        uint8_t x = read<uint8_t>("value");
        if (x > 1) fail("key '" + key + "': bool value " + std::to_string(x) + " is not 0 or 1", at);
        v.data = x != 0;
        break;
      }
      case ValueType::STRING:
        v.data = read_string("string value");
        break;
      case ValueType::U64:
        v.data = read<uint64_t>("value");
        break;
      case ValueType::I64:
        v.data = read<int64_t>("value");
        break;
      case ValueType::F64:
        v.data = read<double>("value");
        break;
      case ValueType::ARRAY: {
        if (in_array) fail(Errc::kUnsupported, "key '" + key + "': nested arrays are not supported", pos_);
        v.data = read_array(key);
        break;
      }
    }
    return v;
  }

  Array read_array(const std::string& key) {
    const uint64_t at = pos_;
    const uint32_t et = read<uint32_t>("array element type");
    if (!valid_value_type(et))
      fail("key '" + key + "': unknown array element type " + std::to_string(et), at);
    Array a;
    a.elem_type = static_cast<ValueType>(et);
    const uint64_t count_at = pos_;
    const uint64_t n = read<uint64_t>("array length");
    if (a.elem_type == ValueType::ARRAY)
      fail(Errc::kUnsupported, "key '" + key + "': nested arrays are not supported", at);
    if (n > remaining() / scalar_size(a.elem_type))
      fail("key '" + key + "': array length " + std::to_string(n) + " exceeds the file size", count_at);
    switch (a.elem_type) {
      case ValueType::U8:
        a.data = read_vec<uint8_t>(n, "array");
        break;
      case ValueType::I8:
        a.data = read_vec<int8_t>(n, "array");
        break;
      case ValueType::U16:
        a.data = read_vec<uint16_t>(n, "array");
        break;
      case ValueType::I16:
        a.data = read_vec<int16_t>(n, "array");
        break;
      case ValueType::U32:
        a.data = read_vec<uint32_t>(n, "array");
        break;
      case ValueType::I32:
        a.data = read_vec<int32_t>(n, "array");
        break;
      case ValueType::F32:
        a.data = read_vec<float>(n, "array");
        break;
      case ValueType::U64:
        a.data = read_vec<uint64_t>(n, "array");
        break;
      case ValueType::I64:
        a.data = read_vec<int64_t>(n, "array");
        break;
      case ValueType::F64:
        a.data = read_vec<double>(n, "array");
        break;
      case ValueType::BOOL: {
        std::vector<bool> v(n);
        for (uint64_t i = 0; i < n; ++i) {
          const uint64_t p = pos_;
          uint8_t x = read<uint8_t>("array");
          if (x > 1) fail("key '" + key + "': bool element " + std::to_string(x) + " is not 0 or 1", p);
          v[i] = x != 0;
        }
        a.data = std::move(v);
        break;
      }
      case ValueType::STRING: {
        std::vector<std::string> v;
        v.reserve(n);
        for (uint64_t i = 0; i < n; ++i) v.push_back(read_string("array string"));
        a.data = std::move(v);
        break;
      }
      case ValueType::ARRAY:
        break;  // refused above
    }
    return a;
  }

  void parse(File& f) {
    const uint32_t magic = read<uint32_t>("magic");
    if (magic != kMagic) fail("bad magic (not a GGUF file)", 0);
    const uint32_t version = read<uint32_t>("version");
    if (version == 1 || version > 3)
      fail(Errc::kUnsupported, "GGUF version " + std::to_string(version) + " is not supported (2 and 3 are)",
           4);
    if (version == 0) fail("GGUF version 0 is invalid", 4);
    f.version_ = version;
    const uint64_t n_tensors = read<uint64_t>("tensor count");
    const uint64_t n_kv = read<uint64_t>("key/value count");
    // Every tensor info needs at least 8+4+4+8 bytes, every key/value 8+4+1.
    if (n_tensors > remaining() / 24)
      fail("tensor count " + std::to_string(n_tensors) + " exceeds the file size", 8);
    if (n_kv > remaining() / 13)
      fail("key/value count " + std::to_string(n_kv) + " exceeds the file size", 16);

    f.kvs_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
      const uint64_t at = pos_;
      std::string key = read_string("key");
      if (f.kv_index_.count(key)) fail("duplicate key '" + key + "'", at);
      const uint64_t type_at = pos_;
      const uint32_t t = read<uint32_t>("value type");
      if (!valid_value_type(t)) fail("key '" + key + "': unknown value type " + std::to_string(t), type_at);
      Value v = read_value(static_cast<ValueType>(t), key, false);
      f.kv_index_.emplace(key, f.kvs_.size());
      f.kvs_.emplace_back(std::move(key), std::move(v));
    }

    if (const Value* a = f.find("general.alignment")) {
      if (a->type != ValueType::U32) fail("general.alignment must be u32", 0);
      const uint32_t al = std::get<uint32_t>(a->data);
      if (al == 0 || (al & (al - 1)) != 0)
        fail("general.alignment " + std::to_string(al) + " is not a power of two", 0);
      f.alignment_ = al;
    }

    f.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
      const uint64_t at = pos_;
      TensorInfo ti;
      ti.name = read_string("tensor name");
      if (ti.name.empty()) fail("tensor " + std::to_string(i) + " has an empty name", at);
      if (f.tensor_index_.count(ti.name)) fail("duplicate tensor name '" + ti.name + "'", at);
      const uint64_t dims_at = pos_;
      const uint32_t n_dims = read<uint32_t>("tensor n_dims");
      if (n_dims == 0 || n_dims > kMaxDims)
        fail("tensor '" + ti.name + "': n_dims " + std::to_string(n_dims) + " is not in 1.." +
                 std::to_string(kMaxDims),
             dims_at);
      int64_t n_el = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        const uint64_t dat = pos_;
        const uint64_t ne = read<uint64_t>("tensor dim");
        if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
            static_cast<int64_t>(ne) > std::numeric_limits<int64_t>::max() / n_el)
          fail("tensor '" + ti.name + "': dimension " + std::to_string(d) + " = " + std::to_string(ne) +
                   " is zero or overflows",
               dat);
        n_el *= static_cast<int64_t>(ne);
        ti.ne.push_back(static_cast<int64_t>(ne));
      }
      const uint64_t type_at = pos_;
      const uint32_t type = read<uint32_t>("tensor type");
      const auto info = ggml_type_info(type);
      if (!info) fail("tensor '" + ti.name + "': unknown tensor type " + std::to_string(type), type_at);
      ti.type = info->type;
      if (ti.ne[0] % info->block_size != 0)
        fail("tensor '" + ti.name + "': row length " + std::to_string(ti.ne[0]) +
                 " is not a multiple of the " + std::string(info->name) + " block size " +
                 std::to_string(info->block_size),
             dims_at);
      const uint64_t n_blocks = static_cast<uint64_t>(n_el / info->block_size);
      if (n_blocks > std::numeric_limits<uint64_t>::max() / info->type_size)
        fail("tensor '" + ti.name + "': byte size overflows", dims_at);
      ti.n_bytes = n_blocks * info->type_size;
      const uint64_t off_at = pos_;
      ti.offset = read<uint64_t>("tensor offset");
      if (ti.offset % f.alignment_ != 0)
        fail("tensor '" + ti.name + "': offset " + std::to_string(ti.offset) +
                 " is not a multiple of the alignment " + std::to_string(f.alignment_),
             off_at);
      f.tensor_index_.emplace(ti.name, f.tensors_.size());
      f.tensors_.push_back(std::move(ti));
    }

    // The data section starts at the next multiple of the alignment (it may be empty at end of file).
    uint64_t data = pos_ + (f.alignment_ - pos_ % f.alignment_) % f.alignment_;
    if (n_tensors > 0 && data > b_.size()) fail("truncated file: data section starts past the end", pos_);
    f.data_offset_ = data;
    const uint64_t data_size = data <= b_.size() ? b_.size() - data : 0;

    // Bounds and overlap: sort by offset and check each tensor ends before the next begins.
    std::vector<const TensorInfo*> order;
    order.reserve(f.tensors_.size());
    for (const auto& t : f.tensors_) {
      if (t.offset > data_size || t.n_bytes > data_size - t.offset)
        fail("tensor '" + t.name + "': data [" + std::to_string(t.offset) + ", +" +
                 std::to_string(t.n_bytes) + ") lies outside the data section of " +
                 std::to_string(data_size) + " bytes",
             data);
      order.push_back(&t);
    }
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < order.size(); ++i)
      if (order[i - 1]->offset + order[i - 1]->n_bytes > order[i]->offset)
        fail("tensors '" + order[i - 1]->name + "' and '" + order[i]->name + "' overlap",
             data + order[i]->offset);
  }

 private:
  std::span<const uint8_t> b_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

File File::open(const std::string& path) {
  auto map = std::make_shared<MappedFile>(path);
  File f = parse(map->bytes(), path);
  f.map_ = std::move(map);
  return f;
}

File File::parse(std::span<const uint8_t> bytes, std::string name) {
  File f;
  f.bytes_ = bytes;
  f.name_ = std::move(name);
  Parser p(bytes, f.name_);
  p.parse(f);
  return f;
}

void File::copy_bytes(const uint8_t* p, size_t n, void* dst) const {
  if (p < bytes_.data() || static_cast<size_t>(p - bytes_.data()) > bytes_.size() ||
      n > bytes_.size() - static_cast<size_t>(p - bytes_.data()))
    throw Error(Errc::kInvalidArgument, "copy_bytes: a range outside '" + name_ + "'");
  if (map_) {
    map_->read(static_cast<size_t>(p - bytes_.data()), dst, n);
  } else {
    std::memcpy(dst, p, n);
  }
}

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> File::tensor_data(const TensorInfo& t) const {
  return bytes_.subspan(data_offset_ + t.offset, t.n_bytes);
}

namespace {
[[noreturn]] void missing(const File& f, std::string_view key) {
  throw Error(Errc::kModelInvalid, f.name() + ": missing key '" + std::string(key) + "'");
}
}  // namespace

int64_t File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) missing(*this, key);
  return v->as_int(key);
}
double File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) missing(*this, key);
  return v->as_float(key);
}
bool File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) missing(*this, key);
  return v->as_bool(key);
}
const std::string& File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) missing(*this, key);
  return v->as_string(key);
}
const Array& File::get_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v) missing(*this, key);
  return v->as_array(key);
}
int64_t File::get_int(std::string_view key, int64_t fallback) const {
  const Value* v = find(key);
  return v ? v->as_int(key) : fallback;
}
double File::get_float(std::string_view key, double fallback) const {
  const Value* v = find(key);
  return v ? v->as_float(key) : fallback;
}
bool File::get_bool(std::string_view key, bool fallback) const {
  const Value* v = find(key);
  return v ? v->as_bool(key) : fallback;
}
std::string File::get_string(std::string_view key, const std::string& fallback) const {
  const Value* v = find(key);
  return v ? v->as_string(key) : fallback;
}

}  // namespace hark::gguf
