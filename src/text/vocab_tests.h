// The tokenizer golden format of llama.cpp's `tests/test-tokenizer-0` (`<vocab>.gguf.inp` / `.out`).
//
// `.inp`: the inputs, each followed by the separator line, i.e. separated by "\n__ggml_vocab_test__\n"; a
// separator at the very end does not start another (empty) input. `.out`: one line per input with its token
// ids separated by spaces (no BOS); an input that encodes to nothing has an empty line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hark::text {

std::vector<std::string> split_vocab_test_inputs(std::string_view inp);
// One `.out` line (without the newline) for `ids`.
std::string format_vocab_test_ids(const std::vector<int32_t>& ids);

}  // namespace hark::text
