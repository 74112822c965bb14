// libFuzzer target for the GGUF parser: any bytes must parse or throw hark::Error, never crash.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = hark::gguf::File::parse({data, size}, "fuzz");
    for (const auto& t : f.tensors()) {
      auto bytes = f.tensor_data(t);
      volatile uint8_t sink = bytes.empty() ? 0 : bytes[bytes.size() - 1];
      (void)sink;
    }
    for (const auto& kv : f.kvs()) (void)kv.second.to_string();
  } catch (const hark::Error&) {
  }
  return 0;
}
