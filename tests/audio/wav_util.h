// Reads the 16 kHz mono 16-bit PCM wav fixtures for the mel and VAD tests as s16 / 32768 (what llama.cpp's
// decoder made of them for the goldens). Kept apart from the FFmpeg decoder on purpose: these tests then
// fail only for their own code; `hark dump`'s black-box test covers decoder + mel together.
#pragma once

#include <string>
#include <vector>

namespace hark::test {

std::vector<float> read_pcm16_wav(const std::string& path);

}  // namespace hark::test
