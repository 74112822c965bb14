#include <cstring>
#include <fstream>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hark::gguf {
namespace {

class Out {
 public:
  std::vector<uint8_t> b;
  template <typename T>
  void put(T v) {
    const size_t n = b.size();
    b.resize(n + sizeof(T));
    std::memcpy(b.data() + n, &v, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
  void pad(uint64_t alignment) {
    while (b.size() % alignment) b.push_back(0);
  }
};

void put_value(Out& o, const Value& v) {
  if (v.type == ValueType::ARRAY) {
    const Array& a = std::get<Array>(v.data);
    o.put<uint32_t>(static_cast<uint32_t>(a.elem_type));
    o.put<uint64_t>(a.size());
    std::visit(
        [&](const auto& vec) {
          using E = typename std::decay_t<decltype(vec)>::value_type;
          for (const auto& e : vec) {
            if constexpr (std::is_same_v<E, std::string>)
              o.put_string(e);
            else if constexpr (std::is_same_v<E, bool>)
              o.put<uint8_t>(e ? 1 : 0);
            else
              o.put<E>(e);
          }
        },
        a.data);
    return;
  }
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>)
          o.put_string(x);
        else if constexpr (std::is_same_v<T, bool>)
          o.put<uint8_t>(x ? 1 : 0);
        else if constexpr (!std::is_same_v<T, Array>)
          o.put<T>(x);
      },
      v.data);
}

}  // namespace

void Writer::set(const std::string& key, Value value) {
  for (auto& kv : kvs_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  kvs_.emplace_back(key, std::move(value));
}
void Writer::set_u32(const std::string& key, uint32_t v) {
  set(key, make_value(v));
}
void Writer::set_i32(const std::string& key, int32_t v) {
  set(key, make_value(v));
}
void Writer::set_u64(const std::string& key, uint64_t v) {
  set(key, Value{ValueType::U64, v});
}
void Writer::set_f32(const std::string& key, float v) {
  set(key, make_value(v));
}
void Writer::set_bool(const std::string& key, bool v) {
  set(key, make_value(v));
}
void Writer::set_string(const std::string& key, const std::string& v) {
  set(key, make_value(v));
}
void Writer::set_array(const std::string& key, Array a) {
  set(key, make_value(std::move(a)));
}

TensorInfo Writer::make_info(const std::string& name, GgmlType type, std::vector<int64_t> ne) const {
  TensorInfo ti;
  ti.name = name;
  ti.type = type;
  ti.ne = std::move(ne);
  const auto& info = ggml_type_info(type);
  bool ok = !ti.ne.empty() && ti.ne.size() <= 4 && ti.ne[0] % info.block_size == 0;
  for (int64_t d : ti.ne) ok = ok && d > 0;
  if (!ok) throw Error(Errc::kInvalidArgument, "gguf writer: bad shape for tensor '" + name + "'");
  ti.n_bytes = static_cast<uint64_t>(ti.n_elements() / info.block_size) * info.type_size;
  for (const auto& t : tensors_)
    if (t.info.name == name)
      throw Error(Errc::kInvalidArgument, "gguf writer: duplicate tensor '" + name + "'");
  return ti;
}

void Writer::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                        std::span<const uint8_t> data) {
  TensorInfo ti = make_info(name, type, std::move(ne));
  if (ti.n_bytes != data.size())
    throw Error(Errc::kInvalidArgument, "gguf writer: tensor '" + name + "' has " +
                                            std::to_string(data.size()) + " bytes, its shape needs " +
                                            std::to_string(ti.n_bytes));
  tensors_.push_back({std::move(ti), std::vector<uint8_t>(data.begin(), data.end()), nullptr});
}

void Writer::add_tensor_generated(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                                  Fill fill) {
  tensors_.push_back({make_info(name, type, std::move(ne)), {}, std::move(fill)});
}

void Writer::add_tensor_f32(const std::string& name, std::vector<int64_t> ne, std::span<const float> data) {
  add_tensor(name, GgmlType::F32, std::move(ne),
             {reinterpret_cast<const uint8_t*>(data.data()), data.size() * sizeof(float)});
}

void Writer::add_tensor_i32(const std::string& name, std::vector<int64_t> ne, std::span<const int32_t> data) {
  add_tensor(name, GgmlType::I32, std::move(ne),
             {reinterpret_cast<const uint8_t*>(data.data()), data.size() * sizeof(int32_t)});
}

std::vector<uint8_t> Writer::header_bytes() const {
  Out o;
  o.put<uint32_t>(0x46554747);
  o.put<uint32_t>(3);
  o.put<uint64_t>(tensors_.size());
  const bool custom_alignment = alignment_ != 32;
  bool has_alignment_key = false;
  for (const auto& kv : kvs_) has_alignment_key |= kv.first == "general.alignment";
  o.put<uint64_t>(kvs_.size() + (custom_alignment && !has_alignment_key ? 1 : 0));
  for (const auto& kv : kvs_) {
    o.put_string(kv.first);
    o.put<uint32_t>(static_cast<uint32_t>(kv.second.type));
    put_value(o, kv.second);
  }
  if (custom_alignment && !has_alignment_key) {
    o.put_string("general.alignment");
    o.put<uint32_t>(static_cast<uint32_t>(ValueType::U32));
    o.put<uint32_t>(static_cast<uint32_t>(alignment_));
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    o.put_string(t.info.name);
    o.put<uint32_t>(static_cast<uint32_t>(t.info.ne.size()));
    for (int64_t d : t.info.ne) o.put<uint64_t>(static_cast<uint64_t>(d));
    o.put<uint32_t>(static_cast<uint32_t>(t.info.type));
    o.put<uint64_t>(offset);
    offset += (t.info.n_bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  o.pad(alignment_);
  return o.b;
}

namespace {
// Bytes of tensor `t`, produced on demand for generated tensors.
template <typename T, typename Sink>
void emit_tensor(const T& t, Sink&& sink) {
  if (!t.fill) {
    sink(t.data.data(), t.data.size());
    return;
  }
  std::vector<uint8_t> buf(t.info.n_bytes);
  t.fill(std::span<uint8_t>(buf));
  sink(buf.data(), buf.size());
}
}  // namespace

std::vector<uint8_t> Writer::to_bytes() const {
  std::vector<uint8_t> b = header_bytes();
  for (const auto& t : tensors_) {
    emit_tensor(t, [&](const uint8_t* p, size_t n) { b.insert(b.end(), p, p + n); });
    while (b.size() % alignment_) b.push_back(0);
  }
  return b;
}

void Writer::write(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(Errc::kIo, "cannot create '" + path + "'");
  const std::vector<uint8_t> header = header_bytes();
  f.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
  const std::vector<char> zeros(alignment_, 0);
  for (const auto& t : tensors_) {
    emit_tensor(t, [&](const uint8_t* p, size_t n) {
      f.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n));
    });
    const size_t pad = (alignment_ - t.info.n_bytes % alignment_) % alignment_;
    f.write(zeros.data(), static_cast<std::streamsize>(pad));
  }
  f.close();
  if (!f) throw Error(Errc::kIo, "cannot write '" + path + "'");
}
}  // namespace hark::gguf
