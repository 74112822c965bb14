#include "kernels/dispatch.h"

#include <cstdlib>
#include <string_view>

namespace hark::kernels {

Isa choose_isa(const char* request) {
  Isa best = Isa::kScalar;
  if (cpu_supports(Isa::kAvx512)) {
    best = Isa::kAvx512;
  } else if (cpu_supports(Isa::kAvx2)) {
    best = Isa::kAvx2;
  }
  if (request == nullptr) return best;
  const std::string_view v(request);
  Isa want = best;
  if (v == "scalar") want = Isa::kScalar;
  if (v == "avx2") want = Isa::kAvx2;
  if (v == "avx512") want = Isa::kAvx512;
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

namespace {

KernelTable build(Isa isa) {
  KernelTable t;
  fill_scalar(t);
  if (isa >= Isa::kAvx2) {
    fill_avx2(t);
    fill_avx2_tiles(t);
  }
  if (isa >= Isa::kAvx512) {
    fill_avx512(t);
    fill_avx512_tiles(t);
  }
  t.isa = isa;
  return t;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "?";
}

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi2");
    case Isa::kAvx512:
      return cpu_supports(Isa::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
             __builtin_cpu_supports("avx512bf16");
  }
  return false;
}

Isa active_isa() {
  static const Isa isa = choose_isa(std::getenv("HARK_ISA"));
  return isa;
}

const KernelTable& kernel_table(Isa isa) {
  static const KernelTable tables[3] = {build(Isa::kScalar), build(Isa::kAvx2), build(Isa::kAvx512)};
  return tables[static_cast<int>(isa)];
}

}  // namespace hark::kernels
