// Long audio: cut the speech regions found by voice activity detection into windows of at most 30 s (what
// Gemma 4 was trained on), cutting inside pauses. Each window is transcribed on its own with the previous
// window's text as context, so cost grows linearly with duration and memory stays flat.
#pragma once

#include <cstdint>
#include <vector>

namespace hark::runtime {

struct TimeRange {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t length_ms() const { return end_ms - start_ms; }
};

struct WindowOptions {
  int64_t max_window_ms = 30000;  // the model's longest clip
  int64_t pad_ms = 200;           // audio kept around speech, at most half of the neighbouring pause
};

struct Window {
  TimeRange audio;                // the samples sent to the model
  std::vector<TimeRange> speech;  // the speech regions inside it, in order
};

// `speech` must be sorted and non-overlapping, inside [0, total_ms]. A region longer than max_window_ms
// (no pause to cut at) is split into equal parts no longer than the limit. No speech gives no windows.
std::vector<Window> plan_windows(const std::vector<TimeRange>& speech, int64_t total_ms,
                                 const WindowOptions& opt);

}  // namespace hark::runtime
