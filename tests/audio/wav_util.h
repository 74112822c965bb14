// Reads the 16 kHz mono 16-bit PCM wav fixtures for the audio tests (s16 / 32768, as llama.cpp's decoder
// converts them), and small helpers to build test signals from them.
#pragma once

#include <string>
#include <vector>

namespace hark::test {

std::vector<float> read_pcm16_wav(const std::string& path);

}  // namespace hark::test
