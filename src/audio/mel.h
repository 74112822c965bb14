// Gemma 4 audio features: the log-mel spectrogram llama.cpp's `gemma4a` preprocessor computes
// (tools/mtmd/mtmd-audio.cpp), which follows the Hugging Face Gemma 4 feature extractor.
//
// 16 kHz mono PCM is cut into 30 s chunks (480 000 samples; the last one shorter). Per chunk: 160 zeros
// in front (semicausal padding), frames of 320 samples (20 ms) every 160 samples (10 ms), each multiplied
// by a periodic Hann window and zero-padded to a 512-point FFT; magnitude |X| of the 257 bins; 128 HTK
// triangular mel filters over 0-8000 Hz without area normalisation; natural log of max(mel, 1e-3).
// Frames per chunk: (len + 160 - 321) / 160 + 1 (C integer division), as PyTorch's unfold of 321-sample
// windows gives: 11 s -> 1099, 30 s -> 2999, 1 s -> 99.
#pragma once

#include <span>
#include <vector>

#include "core/thread_pool.h"

namespace hark::audio {

inline constexpr int kMelSampleRate = 16000;
inline constexpr int kMelBins = 128;
inline constexpr int kMelChunkSamples = 30 * kMelSampleRate;

struct MelChunk {
  int n_frames = 0;
  std::vector<float> data;  // [kMelBins][n_frames]: frames contiguous per mel bin (llama.cpp's layout)
};

// Number of mel frames llama.cpp makes from a chunk of `n_samples` samples (0 when it makes none).
int gemma4_mel_frames(int64_t n_samples);

// Log-mel of every 30 s chunk of `pcm16k` in order. A trailing chunk too short for one frame (1 sample)
// is dropped. Throws Error(kAudioEmpty) when no frame results. `pool` (optional) splits frames over threads;
// the result does not depend on the thread count.
std::vector<MelChunk> gemma4_log_mel(std::span<const float> pcm16k, ThreadPool* pool = nullptr);

}  // namespace hark::audio
