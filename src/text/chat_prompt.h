// Gemma 4 prompts as a sequence of pieces: runs of token ids and audio slots that the runtime fills with
// encoder output rows (one slot per 30 s chunk). See docs/prompt.md for the exact texts.
//
// Layout of one turn (Gemma 4 chat format): `<|turn>ROLE\nCONTENT<turn|>\n`, roles `system`, `user`,
// `model`. Audio inside CONTENT is `<|audio>` + the rows of every chunk of that audio back to back +
// `<audio|>`. A prompt starts with `<bos>` and ends with the generation cue `<|turn>model\n`. Special tokens
// are looked up by text; text supplied by users is tokenized without special-token parsing, so a user cannot
// inject `<|turn>` or other control tokens.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/tokenizer.h"

namespace hark::text {

struct PromptPiece {
  enum class Kind { kTokens, kAudio };
  Kind kind = Kind::kTokens;
  std::vector<int32_t> tokens;  // kTokens: ids to embed
  int32_t n_rows = 0;           // kAudio: embedding rows (audio tokens) of this chunk
  int32_t audio_index = -1;     // kAudio: which audio of the request (0-based, in prompt order)
  int32_t chunk_index = -1;     // kAudio: which chunk of that audio
};

struct Prompt {
  std::vector<PromptPiece> pieces;

  // Positions the prompt occupies (tokens plus audio rows).
  int64_t n_positions() const;
  // Token ids with -1 at every audio row: the layout of the goldens' `prompt.tokens`.
  std::vector<int32_t> flat_tokens() const;
  // (first position, length) of every audio piece, in order: the goldens' `prompt.audio_spans`.
  std::vector<std::pair<int64_t, int64_t>> audio_spans() const;
};

// One audio input: the number of encoder rows of each of its chunks, in time order.
struct AudioInput {
  std::vector<int32_t> chunk_rows;
};

// The prompt llama-server (80fb11ac73e6) builds for POST /v1/audio/transcriptions with no `prompt` and no
// `language`: thinking on (the server's default), instruction "Transcribe audio to text" before the audio.
// hark uses it to compare against llama.cpp's goldens; it is not hark's default.
Prompt llama_server_transcription_prompt(const Tokenizer& tok, const AudioInput& audio);

struct TranscriptionOptions {
  std::string language;    // ISO-639-1 code or English name; empty: "its original language"
  std::string context;     // optional text that precedes the audio or lists names/terms (OpenAI `prompt`)
  bool translate = false;  // translate to English instead of transcribing
  bool thinking = false;   // let the model think first (`<|think|>`); strip_thinking() removes the thoughts
};

// hark's transcription prompt: Google's recommended Gemma 4 speech instruction, then the audio (Google
// places audio after the text), thinking off unless asked. Throws Error(kInvalidArgument) for a bad language.
Prompt transcription_prompt(const Tokenizer& tok, const AudioInput& audio,
                            const TranscriptionOptions& options);
// The instruction text transcription_prompt() puts before the audio.
std::string transcription_instruction(const TranscriptionOptions& options);

// A chat request (/v1/chat/completions): messages whose content mixes text and audio parts.
struct ChatPart {
  enum class Kind { kText, kAudio };
  Kind kind = Kind::kText;
  std::string text;  // kText
  AudioInput audio;  // kAudio
};
struct ChatMessage {
  std::string role;  // "system", "developer", "user", "assistant" (rendered as "model")
  std::vector<ChatPart> parts;
};
struct ChatOptions {
  bool thinking = false;              // `<|think|>` at the top of the system turn
  bool add_generation_prompt = true;  // end with `<|turn>model\n`
  // Close an empty thought channel after the cue when thinking is off (`<|channel>thought\n<channel|>`).
  // The larger Gemma 4 templates do this; the E2B/E4B ones end on the bare cue, hence off by default.
  bool empty_thought_channel = false;
};

// Renders messages as the Gemma 4 chat template does: a leading system/developer message (and `<|think|>`)
// form the system turn; text parts are trimmed; assistant text has earlier thoughts stripped. Throws
// Error(kInvalidArgument) for an unknown role, a system message after the first, or no messages.
Prompt chat_prompt(const Tokenizer& tok, std::span<const ChatMessage> messages, const ChatOptions& options);

// Removes Gemma 4 thinking from generated text: every `<|channel>...<channel|>` span (the thought channel,
// e.g. "<|channel>thought\n...<channel|>"), an unterminated `<|channel>...` at the end, and a stray
// `<channel|>`; then trims surrounding whitespace.
std::string strip_thinking(std::string_view text);

// For translations made with the AST instruction ("... then output the string 'English: ', then the
// translation"): the text after the last "English:" marker, trimmed; the whole text when there is none.
std::string extract_translation(std::string_view text);

// strip_thinking() for streamed text: push() the decoded deltas, it returns the visible part, holding back
// what might be the start of a marker until it is certain.
class ThinkingFilter {
 public:
  std::string push(std::string_view delta);
  std::string flush();  // the held-back text, unless it is inside a thought

 private:
  void emit(std::string_view visible, std::string& out);

  std::string held_;  // text that may be the start of a marker
  std::string ws_;    // whitespace after the last visible character: dropped if nothing visible follows
  bool in_thought_ = false;
  bool started_ = false;  // something visible was emitted (leading whitespace is dropped before that)
};

}  // namespace hark::text
