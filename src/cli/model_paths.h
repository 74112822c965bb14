// Which model files a command uses: the ones named on the command line, or else the small demo model
// bundled with hark (models/demo/ in the source tree, share/hark/models/demo/ when installed).
#pragma once

#include <string>

namespace hark::cli {

struct ModelPaths {
  std::string model;   // text model GGUF
  std::string mmproj;  // audio encoder GGUF
};

// `model` and `mmproj` as given (either may be empty). Both empty: the bundled model, found in
// $HARK_MODEL_DIR, else models/demo/ beside or above the hark executable, else ../share/hark/models/demo/
// relative to it. Only one of the two given, or no bundled model found: Error(kInvalidArgument/kNotFound)
// naming what is missing and where it looked.
ModelPaths resolve_model(const std::string& model, const std::string& mmproj);

// The help text for -m / --mmproj of commands that fall back to the bundled model.
inline constexpr const char* kModelHelp = "Gemma 4 text model GGUF (default: the bundled demo model)";
inline constexpr const char* kMmprojHelp = "Gemma 4 audio encoder GGUF (mmproj), required with -m";

}  // namespace hark::cli
