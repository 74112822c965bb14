#include "text/vocab_tests.h"

namespace hark::text {

std::vector<std::string> split_vocab_test_inputs(std::string_view inp) {
  static constexpr std::string_view kSep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t pos = 0;
  while (pos < inp.size()) {
    const size_t next = inp.find(kSep, pos);
    if (next == std::string_view::npos) {
      inputs.emplace_back(inp.substr(pos));
      break;
    }
    inputs.emplace_back(inp.substr(pos, next - pos));
    pos = next + kSep.size();
  }
  return inputs;
}

std::string format_vocab_test_ids(const std::vector<int32_t>& ids) {
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
  }
  return line;
}

}  // namespace hark::text
