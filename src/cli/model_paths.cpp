#include "cli/model_paths.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.h"

namespace hark::cli {
namespace fs = std::filesystem;

namespace {

bool has_pair(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "model.gguf", ec) && fs::is_regular_file(dir / "mmproj.gguf", ec);
}

std::vector<fs::path> bundled_candidates() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("HARK_MODEL_DIR"); env && *env) {
    dirs.emplace_back(env);
    return dirs;  // an explicit choice: never fall back silently to another model
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return dirs;
  // build/release/hark and build/test/hark sit two levels below the source tree's models/.
  fs::path dir = exe.parent_path();
  for (int up = 0; up < 4 && !dir.empty(); ++up, dir = dir.parent_path()) {
    dirs.push_back(dir / "models" / "demo");
    if (dir == dir.parent_path()) break;
  }
  dirs.push_back(exe.parent_path().parent_path() / "share" / "hark" / "models" / "demo");
  return dirs;
}

}  // namespace

ModelPaths resolve_model(const std::string& model, const std::string& mmproj) {
  if (!model.empty() && !mmproj.empty()) return {model, mmproj};
  if (!model.empty()) throw Error(Errc::kInvalidArgument, "-m needs --mmproj (the audio encoder GGUF) too");
  if (!mmproj.empty()) throw Error(Errc::kInvalidArgument, "--mmproj needs -m (the text model GGUF) too");
  std::string looked;
  for (const fs::path& dir : bundled_candidates()) {
    if (has_pair(dir)) return {(dir / "model.gguf").string(), (dir / "mmproj.gguf").string()};
    looked += "\n  " + dir.string();
  }
  throw Error(Errc::kNotFound,
              "no model given (-m MODEL.gguf --mmproj MMPROJ.gguf) and no bundled model (model.gguf + "
              "mmproj.gguf) found in:" +
                  looked);
}

}  // namespace hark::cli
