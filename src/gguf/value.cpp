#include <cmath>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hark::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8:
      return "u8";
    case ValueType::I8:
      return "i8";
    case ValueType::U16:
      return "u16";
    case ValueType::I16:
      return "i16";
    case ValueType::U32:
      return "u32";
    case ValueType::I32:
      return "i32";
    case ValueType::F32:
      return "f32";
    case ValueType::BOOL:
      return "bool";
    case ValueType::STRING:
      return "string";
    case ValueType::ARRAY:
      return "array";
    case ValueType::U64:
      return "u64";
    case ValueType::I64:
      return "i64";
    case ValueType::F64:
      return "f64";
  }
  return "?";
}

size_t Array::size() const {
  return std::visit([](const auto& v) { return v.size(); }, data);
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

namespace {
[[noreturn]] void wrong_type(std::string_view key, const char* want, ValueType got) {
  throw Error(Errc::kModelInvalid, "key '" + std::string(key) + "' should be " + want + " but is " +
                                       std::string(value_type_name(got)));
}
}  // namespace

int64_t Value::as_int(std::string_view key) const {
  switch (type) {
    case ValueType::U8:
      return std::get<uint8_t>(data);
    case ValueType::I8:
      return std::get<int8_t>(data);
    case ValueType::U16:
      return std::get<uint16_t>(data);
    case ValueType::I16:
      return std::get<int16_t>(data);
    case ValueType::U32:
      return std::get<uint32_t>(data);
    case ValueType::I32:
      return std::get<int32_t>(data);
    case ValueType::I64:
      return std::get<int64_t>(data);
    case ValueType::U64: {
      uint64_t v = std::get<uint64_t>(data);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw Error(Errc::kModelInvalid,
                    "key '" + std::string(key) + "' value " + std::to_string(v) + " is too large");
      return static_cast<int64_t>(v);
    }
    default:
      wrong_type(key, "an integer", type);
  }
}

double Value::as_float(std::string_view key) const {
  if (type == ValueType::F32) return std::get<float>(data);
  if (type == ValueType::F64) return std::get<double>(data);
  if (type == ValueType::BOOL || type == ValueType::STRING || type == ValueType::ARRAY)
    wrong_type(key, "a number", type);
  return static_cast<double>(as_int(key));
}

bool Value::as_bool(std::string_view key) const {
  if (type != ValueType::BOOL) wrong_type(key, "a bool", type);
  return std::get<bool>(data);
}

const std::string& Value::as_string(std::string_view key) const {
  if (type != ValueType::STRING) wrong_type(key, "a string", type);
  return std::get<std::string>(data);
}

const Array& Value::as_array(std::string_view key) const {
  if (type != ValueType::ARRAY) wrong_type(key, "an array", type);
  return std::get<Array>(data);
}

namespace {

void put_string(std::ostringstream& os, const std::string& s, size_t max_len) {
  os << '"';
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n')
      os << "\\n";
    else if (c == '"')
      os << "\\\"";
    else if (c == '\\')
      os << "\\\\";
    else if (c < 0x20)
      os << "\\x" << std::hex << int(c) << std::dec;
    else
      os << s[i];
  }
  if (s.size() > max_len) os << "...";
  os << '"';
}

template <typename T>
void put_scalar(std::ostringstream& os, const T& v) {
  if constexpr (std::is_same_v<T, bool>)
    os << (v ? "true" : "false");
  else if constexpr (std::is_same_v<T, std::string>)
    put_string(os, v, 60);
  else if constexpr (sizeof(T) == 1)
    os << int(v);
  else
    os << v;
}

}  // namespace

std::string Value::to_string(size_t max_items) const {
  std::ostringstream os;
  os.precision(7);
  if (type == ValueType::ARRAY) {
    const Array& a = std::get<Array>(data);
    os << "[" << value_type_name(a.elem_type) << " x " << a.size() << "] [";
    std::visit(
        [&](const auto& vec) {
          for (size_t i = 0; i < vec.size() && i < max_items; ++i) {
            if (i) os << ", ";
            using E = typename std::decay_t<decltype(vec)>::value_type;
            put_scalar<E>(os, vec[i]);
          }
          if (vec.size() > max_items) os << ", ...";
        },
        a.data);
    os << "]";
  } else {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (!std::is_same_v<T, Array>) put_scalar<T>(os, v);
        },
        data);
  }
  return os.str();
}

Value make_value(uint32_t v) {
  return Value{ValueType::U32, v};
}
Value make_value(int32_t v) {
  return Value{ValueType::I32, v};
}
Value make_value(float v) {
  return Value{ValueType::F32, v};
}
Value make_value(bool v) {
  return Value{ValueType::BOOL, v};
}
Value make_value(std::string v) {
  return Value{ValueType::STRING, std::move(v)};
}
Value make_value(Array a) {
  return Value{ValueType::ARRAY, std::move(a)};
}

}  // namespace hark::gguf
