#include "kernels/dispatch.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace hark::kernels {

Isa choose_isa(const char* request) {
  Isa best = Isa::kScalar;
  if (cpu_supports(Isa::kAmx)) {
    best = Isa::kAmx;
  } else if (cpu_supports(Isa::kAvx512)) {
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
  if (v == "amx") want = Isa::kAmx;
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

namespace {

KernelTable build(Isa isa) {
  KernelTable t;
  fill_scalar(t);
  if (isa >= Isa::kAvx2) {
    fill_avx2(t);
    fill_avx2_tiles(t);
    fill_avx2_attend(t);
  }
  if (isa >= Isa::kAvx512) {
    fill_avx512(t);
    fill_avx512_tiles(t);
    fill_avx512_gemm(t);
    fill_avx512_act(t);
  }
  if (isa >= Isa::kAmx) {
    fill_amx(t);
    fill_amx_qgemm(t);
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
    case Isa::kAmx:
      return "amx";
  }
  return "?";
}

namespace {

// CPU features from cpuid, and whether the OS saves the wide registers (xgetbv), so that a kernel is only
// chosen when both the CPU and the OS can run it. (Plain cpuid keeps this the same under GCC and Clang,
// whose __builtin_cpu_supports know different feature names.)
struct CpuFeatures {
  bool avx2 = false;
  bool avx512 = false;  // F, BW, DQ, VL, VNNI and BF16 together
  bool amx = false;     // AMX-TILE, -BF16 and -INT8, tile data enabled by the OS for this process
};

// Linux hands out the 8 KiB AMX tile state per process on request (arch_prctl ARCH_REQ_XCOMP_PERM for
// XTILEDATA); without it the first tile instruction faults. Granted for every thread of the process.
bool request_amx_state() {
  constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

CpuFeatures detect_features() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (__get_cpuid_count(1, 0, &a, &b, &c, &d) == 0) return f;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  uint32_t xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool os_ymm = (xcr0_lo & 0x6u) == 0x6u;    // SSE and AVX state
  const bool os_zmm = (xcr0_lo & 0xe6u) == 0xe6u;  // plus opmask and both ZMM halves
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return f;
  const bool avx2 = b & (1u << 5), bmi2 = b & (1u << 8);
  const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24), amx_int8 = d & (1u << 25);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
             avx512vl = b & (1u << 31), vnni = c & (1u << 11);
  bool bf16 = false;
  if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d) != 0) bf16 = a & (1u << 5);
  f.avx2 = os_ymm && avx2 && fma && f16c && bmi2;
  f.avx512 = f.avx2 && os_zmm && avx512f && avx512dq && avx512bw && avx512vl && vnni && bf16;
  const bool os_tiles = (xcr0_lo & 0x60000u) == 0x60000u;  // XTILECFG and XTILEDATA
  f.amx = f.avx512 && amx_tile && amx_bf16 && amx_int8 && os_tiles && request_amx_state();
  return f;
}

}  // namespace

bool cpu_supports(Isa isa) {
  static const CpuFeatures f = detect_features();
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return f.avx2;
    case Isa::kAvx512:
      return f.avx512;
    case Isa::kAmx:
      return f.amx;
  }
  return false;
}

Isa active_isa() {
  static const Isa isa = choose_isa(std::getenv("HARK_ISA"));
  return isa;
}

const KernelTable& kernel_table(Isa isa) {
  static const KernelTable tables[4] = {build(Isa::kScalar), build(Isa::kAvx2), build(Isa::kAvx512),
                                        build(Isa::kAmx)};
  return tables[static_cast<int>(isa)];
}

}  // namespace hark::kernels
