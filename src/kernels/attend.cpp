// attend_f16's checks; the work is the active table's kernel (avx2/attend_avx2.cpp, scalar.cpp's twin).
#include <string>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace hark::kernels {

void attend_f16(const float* q, int64_t n_q, int64_t head_dim, const KvWindow& win, float scale,
                float* scores, float* out) {
  if (n_q < 0 || head_dim < 1 || win.n_keys < 1 || win.n0 < 0 || win.n0 > win.n_keys) {
    throw Error(Errc::kInvalidArgument, "attend_f16: " + std::to_string(n_q) + " queries of " +
                                            std::to_string(head_dim) + " over " + std::to_string(win.n_keys) +
                                            " keys (first piece " + std::to_string(win.n0) + ")");
  }
  active_kernels().attend_f16(q, n_q, head_dim, win, scale, scores, out);
}

}  // namespace hark::kernels
