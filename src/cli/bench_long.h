// `hark bench --audio-minutes 1,5,20 CLIP...`: the long-audio pipeline (the engine's transcribe, as `hark
// transcribe` runs it) on audio of each length built from the clips, each length in its own child process
// so that its peak RSS is its own.
#pragma once

#include <string>
#include <vector>

namespace hark::cli {

struct LongBenchArgs {
  std::string model, mmproj, json_out;
  std::vector<std::string> clips;  // speech recordings, repeated in order with pauses between them
  std::vector<double> minutes;     // audio lengths to run
  int threads = 0;
  int max_tokens_per_window = 0;  // 0: the engine's default cap (grows with the window's length)
  double pause_s = 1.0;           // silence between two clips
};

// Prints a table and one JSON line (also written to json_out when set); returns the exit code.
int run_long_bench(const LongBenchArgs& a);

}  // namespace hark::cli
