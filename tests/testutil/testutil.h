// Paths and small helpers shared by all test executables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hark::test {

// ../shared beside the checkout (fixtures, goldens).
std::string shared_dir();
// "<shared>/fixtures/<rel>".
std::string fixture(const std::string& rel);
// The source tree and the build tree of this build.
std::string source_dir();
std::string binary_dir();
// Path to the built `hark` executable.
std::string hark_binary();
// A fresh empty directory for one test's scratch files.
std::string temp_dir();

std::vector<uint8_t> read_file(const std::string& path);
void write_file(const std::string& path, const void* data, size_t size);

// Runs a shell command, returns its exit status and captures stdout+stderr.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& cmd);

// Relative RMS error ||a-b|| / ||a|| and max |a-b|.
double rel_rms(const float* a, const float* b, size_t n);
double max_abs_diff(const float* a, const float* b, size_t n);

}  // namespace hark::test
