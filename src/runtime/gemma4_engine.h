// The Gemma 4 engine: log-mel -> gemma4a audio encoder -> Gemma 4 prompt -> gemma4 text decoder -> text.
// Long audio is cut by voice activity detection into windows of at most 30 s (runtime/windowing.h), each
// transcribed with the previous window's text as context; segments carry Whisper-style diagnostics.
// One loaded model serves concurrent requests: weights are shared and read-only, each call has its own
// KV cache, and the kernels share one thread pool (dispatches from concurrent calls are serialised).
#pragma once

#include <memory>
#include <string>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "models/gemma4/model.h"
#include "models/gemma4a/encoder.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "text/chat_prompt.h"
#include "text/tokenizer.h"

namespace hark::runtime {

struct EngineOptions {
  std::string model_path;   // text model GGUF (gemma4)
  std::string mmproj_path;  // audio encoder GGUF (clip, gemma4a)
  std::string alias;        // model id to serve under; default: general.name or the file name
  int threads = 0;          // 0 = all cores
  int64_t n_ctx = 4096;     // positions per request (prompt + generated)
  // Tokens generated per window at most: max_tokens_base + max_tokens_per_second * seconds of audio. Speech
  // rarely exceeds 5 tokens/s; the cap stops a looping model long before the context fills.
  int max_tokens_base = 32;
  int max_tokens_per_second = 12;
};

class Gemma4Engine : public Engine {
 public:
  // Loads and validates both files; throws Error(kModelInvalid / kNotFound / ...) naming the problem.
  static std::shared_ptr<Gemma4Engine> load(const EngineOptions& options);

  std::string model_id() const override { return model_id_; }
  bool ready() const override { return true; }
  TranscribeResult transcribe(const TranscribeRequest& request, const Callbacks& callbacks) override;
  ChatResult chat(const ChatRequest& request, const Callbacks& callbacks) override;

  // Building blocks, also used by `hark dump` and `hark bench`.
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  const gemma4::TextModel& text_model() const { return *text_; }
  const gemma4a::AudioEncoder& encoder() const { return *encoder_; }
  ThreadPool& pool() const { return *pool_; }
  const EngineOptions& options() const { return opt_; }

  // Encoder rows of each 30 s mel chunk of `pcm16k`: [chunk][n_tokens][n_embd].
  std::vector<std::vector<float>> encode_audio(std::span<const float> pcm16k) const;

  // Output of one generation.
  struct Generation {
    std::vector<int32_t> tokens;    // generated ids (without the end-of-generation token)
    std::vector<float> logprobs;    // per token
    std::string text;               // decoded, thinking removed, trimmed
    float first_eog_prob = 0.0f;    // probability that the first generated token ends the turn
    bool stopped_by_limit = false;  // max tokens or context reached
    bool stopped_by_loop = false;   // the repetition guard cut a loop (its repeats are dropped)
    int64_t n_prompt = 0;
  };
  // Feeds `prompt` (audio pieces filled from `audio`: [audio_index][chunk_index] -> rows) into a new cache
  // and leaves the logits after its last position in `logits`.
  gemma4::KvCache prefill(const text::Prompt& prompt,
                          const std::vector<std::vector<std::vector<float>>>& audio,
                          std::vector<float>& logits) const;
  // Runs `prompt` (audio pieces filled from `audio`: [audio_index][chunk_index] -> rows) and samples up to
  // `max_tokens`. Streams visible text through callbacks.on_delta when set.
  Generation generate(const text::Prompt& prompt, const std::vector<std::vector<std::vector<float>>>& audio,
                      const SamplingParams& sampling, int64_t max_tokens, const Callbacks& callbacks,
                      bool want_logprobs) const;

 private:
  Gemma4Engine() = default;

  EngineOptions opt_;
  std::string model_id_;
  std::shared_ptr<gguf::File> text_file_, mmproj_file_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  std::unique_ptr<gemma4::TextModel> text_;
  std::unique_ptr<gemma4a::AudioEncoder> encoder_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace hark::runtime
