#include "runtime/quality.h"

#include <zlib.h>

#include <algorithm>
#include <vector>

namespace hark::runtime {

double compression_ratio(std::string_view text) {
  if (text.empty()) return 0.0;
  uLongf out_len = compressBound(static_cast<uLong>(text.size()));
  std::vector<Bytef> out(out_len);
  if (compress2(out.data(), &out_len, reinterpret_cast<const Bytef*>(text.data()),
                static_cast<uLong>(text.size()), Z_BEST_COMPRESSION) != Z_OK ||
      out_len == 0)
    return 0.0;
  return static_cast<double>(text.size()) / static_cast<double>(out_len);
}

bool ends_in_repetition(std::span<const int32_t> tokens, int max_ngram, int min_repeats, int min_run_tokens) {
  const size_t len = tokens.size();
  for (int n = 1; n <= max_ngram; ++n) {
    const size_t un = static_cast<size_t>(n);
    const size_t need =
        std::max<size_t>(un * static_cast<size_t>(min_repeats), static_cast<size_t>(min_run_tokens));
    const size_t copies = (need + un - 1) / un;
    if (copies * un > len) continue;
    const size_t start = len - copies * un;
    bool periodic = true;
    for (size_t i = start + un; i < len && periodic; ++i) periodic = tokens[i] == tokens[i - un];
    if (periodic) return true;
  }
  return false;
}

namespace {

// Length of the periodic tail with period n: the longest suffix in which every token equals the one n
// before it, counting the first n tokens of the suffix (n when the last token breaks the period).
size_t periodic_run(std::span<const int32_t> t, size_t n) {
  size_t run = n;
  while (run < t.size() && t[t.size() - 1 - run] == t[t.size() - 1 - run + n]) ++run;
  return run;
}

}  // namespace

size_t loop_tail(std::span<const int32_t> t) {
  for (size_t n = 1; n <= 16 && 2 * n <= t.size(); ++n) {
    const size_t run = periodic_run(t, n);
    if (run >= 2 * n && ends_in_repetition(t.subspan(t.size() - run))) return run - n;
  }
  return 0;
}

size_t repeat_tail(std::span<const int32_t> t) {
  size_t hold = 0;
  for (size_t n = 1; n <= 16 && n < t.size(); ++n) hold = std::max(hold, periodic_run(t, n) - n);
  return hold;
}

}  // namespace hark::runtime
