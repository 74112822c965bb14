// The Gemma 4 audio encoder ("gemma4a" mmproj): log-mel frames in, one embedding row per 40 ms of audio out,
// ready to be placed among the text model's input embeddings.
//
//   mel [n_mel=128][n_frames]
//   -> 2 x (conv2d 3x3 stride 2 pad 1, LayerNorm over channels, ReLU)   [T/4][F/4][C1]
//   -> flatten (channel innermost) + a.input_projection                  [n_tok][n_embd]
//   -> n_layer conformer blocks (half FFN, chunked local attention, light conv, half FFN, RMSNorm)
//   -> a.pre_encode.out (+bias)                                          [n_tok][n_embd_pre]
//   -> RMSNorm without weight (x mm.a.soft_emb_norm if present) -> mm.a.input_projection
//                                                                       [n_tok][n_embd_out]
// See docs/gemma4a.md for the detailed order of operations and where each fact comes from.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "audio/mel.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"

namespace hark::gemma4a {

// Captures named intermediates for tests: "audio.subsampled.<chunk>" (after a.input_projection) and
// "audio.block<i>.<chunk>" (output of conformer block i), each [n_tok][n_embd] row-major.
struct Trace {
  int chunk = 0;  // suffix of the names, to match the goldens' per-chunk naming
  std::map<std::string, std::vector<float>> tensors;
};

struct Hparams {
  int n_mel = 0;        // clip.audio.num_mel_bins
  int n_embd = 0;       // clip.audio.embedding_length (conformer width)
  int n_ff = 0;         // clip.audio.feed_forward_length
  int n_layer = 0;      // clip.audio.block_count
  int n_head = 0;       // clip.audio.attention.head_count
  int d_head = 0;       // n_embd / n_head
  float eps = 1e-6f;    // clip.audio.attention.layer_norm_epsilon
  int n_embd_out = 0;   // clip.audio.projection_dim (= text model width)
  int conv_kernel = 0;  // depthwise conv width, from conv_dw's shape
};

struct Weights;  // bound tensor views, defined in weights.h

class AudioEncoder {
 public:
  // Binds every tensor of a gemma4a mmproj. A missing or misshapen tensor, an unsupported type or a bad key
  // throws Error(kModelInvalid) naming it. The File must outlive the encoder (weights stay mmap'd).
  static AudioEncoder load(const gguf::File& mmproj);

  AudioEncoder(AudioEncoder&&) noexcept;
  AudioEncoder& operator=(AudioEncoder&&) noexcept;
  ~AudioEncoder();

  const Hparams& hparams() const { return hp_; }
  int n_embd_out() const { return hp_.n_embd_out; }
  // Tokens one chunk of n_frames mel frames becomes: two stride-2 convolutions, ceil(n/2) each
  // (25 tokens per second of audio at 100 frames per second).
  static int n_tokens_for_frames(int n_frames);

  // mel: [n_mel][n_frames], frames contiguous per mel bin (llama.cpp's layout). Returns
  // [n_tokens_for_frames(n_frames)][n_embd_out] row-major. Throws Error(kInvalidArgument) on a size mismatch.
  std::vector<float> encode(std::span<const float> mel, int n_frames, ThreadPool& pool,
                            Trace* trace = nullptr) const;
  // One chunk of audio::gemma4_log_mel.
  std::vector<float> encode(const audio::MelChunk& mel, ThreadPool& pool, Trace* trace = nullptr) const {
    return encode(mel.data, mel.n_frames, pool, trace);
  }

 private:
  AudioEncoder() = default;
  Hparams hp_;
  std::unique_ptr<Weights> w_;
};

}  // namespace hark::gemma4a
