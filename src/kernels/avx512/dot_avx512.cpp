// AVX-512 (F/BW/DQ/VL) + VNNI + BF16 kernels.
#include "kernels/dispatch.h"

namespace hark::kernels {

void fill_avx512(KernelTable& t) {}

}  // namespace hark::kernels
