// AVX2 + FMA + F16C kernels.
#include "kernels/dispatch.h"

namespace hark::kernels {

void fill_avx2(KernelTable& t) {}

}  // namespace hark::kernels
