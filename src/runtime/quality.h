// Guards against the failure modes of audio-LLM transcription: repetition loops and runaway output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace hark::runtime {

// Whisper's measure: bytes of the UTF-8 text over bytes of its zlib (deflate) compression. Natural speech
// is around 1.0-1.8; looping text compresses well and scores above 2.4.
double compression_ratio(std::string_view text);

// True when the tail of `tokens` is one n-gram (1 <= n <= max_ngram) repeated back to back so that the
// repeated run covers at least `min_run_tokens` tokens and at least `min_repeats` copies. Checked after
// every decoded token, so the cost is O(max_ngram * min_run_tokens).
bool ends_in_repetition(std::span<const int32_t> tokens, int max_ngram = 16, int min_repeats = 4,
                        int min_run_tokens = 24);

// When `tokens` ends in a repetition: how many tokens to drop so that one copy of the repeated n-gram is
// kept (the shortest n <= 16 whose run passes ends_in_repetition). 0 when there is none.
size_t loop_tail(std::span<const int32_t> tokens);

// The tokens a loop found later could still drop: for every n <= 16, the part of the tail that repeats the
// n tokens before it. Streaming holds these back, so a client never receives text that loop_tail removes
// (repeat_tail(t) >= loop_tail(t), and a tail that loop_tail later drops was held back at every step).
size_t repeat_tail(std::span<const int32_t> tokens);

}  // namespace hark::runtime
