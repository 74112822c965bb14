#include "runtime/windowing.h"

#include <algorithm>

#include "core/error.h"

namespace hark::runtime {

std::vector<Window> plan_windows(const std::vector<TimeRange>& speech, int64_t total_ms,
                                 const WindowOptions& opt) {
  if (opt.max_window_ms <= 2 * opt.pad_ms || opt.pad_ms < 0)
    throw Error(Errc::kInvalidArgument, "window length must exceed twice the padding");
  // Split over-long regions so that every piece plus its padding fits a window.
  const int64_t max_speech = opt.max_window_ms - 2 * opt.pad_ms;
  std::vector<TimeRange> pieces;
  for (const auto& r : speech) {
    const int64_t s = std::clamp<int64_t>(r.start_ms, 0, total_ms);
    const int64_t e = std::clamp<int64_t>(r.end_ms, s, total_ms);
    if (e <= s) continue;
    const int64_t parts = (e - s + max_speech - 1) / max_speech;
    for (int64_t k = 0; k < parts; ++k)
      pieces.push_back({s + (e - s) * k / parts, s + (e - s) * (k + 1) / parts});
  }
  // Greedily group consecutive pieces while the group (with padding) fits in one window.
  std::vector<Window> windows;
  for (size_t i = 0; i < pieces.size();) {
    Window w;
    w.speech.push_back(pieces[i]);
    size_t j = i + 1;
    while (j < pieces.size() && pieces[j].end_ms - pieces[i].start_ms <= max_speech)
      w.speech.push_back(pieces[j++]);
    windows.push_back(std::move(w));
    i = j;
  }
  // Pad each window into the pauses around it, never past half a pause (the neighbour owns the other half).
  for (size_t k = 0; k < windows.size(); ++k) {
    const int64_t first = windows[k].speech.front().start_ms;
    const int64_t last = windows[k].speech.back().end_ms;
    const int64_t prev_end = k > 0 ? windows[k - 1].speech.back().end_ms : -2 * opt.pad_ms;
    const int64_t next_start =
        k + 1 < windows.size() ? windows[k + 1].speech.front().start_ms : total_ms + 2 * opt.pad_ms;
    const int64_t left = std::min(opt.pad_ms, (first - prev_end) / 2);
    const int64_t right = std::min(opt.pad_ms, (next_start - last) / 2);
    windows[k].audio = {std::max<int64_t>(0, first - left), std::min(total_ms, last + right)};
  }
  return windows;
}

}  // namespace hark::runtime
