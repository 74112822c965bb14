// Writing a subcommand's JSON report to the file named by its --json option.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace hark::cli {

// Writes `j` indented, with a final newline; throws Errc::kIo when the file cannot be written.
inline void write_json_file(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path, std::ios::binary);
  if (!(out << j.dump(2) << "\n")) throw Error(Errc::kIo, "cannot write '" + path + "'");
}

}  // namespace hark::cli
