// Gemma 4 tokenizer, built from the `tokenizer.ggml.*` keys of a GGUF file (`tokenizer.ggml.model =
// "gemma4"`).
//
// Gemma 4 uses SentencePiece-style BPE (the same results as llama.cpp's LLAMA_VOCAB_PRE_TYPE_GEMMA4 and the
// Hugging Face `tokenizers` model):
//   1. Special tokens are cut out of the text first, longest text first. Control and unknown tokens
//      (`<bos>`, `<|turn>`, ...) only when `parse_special` is set; user-defined tokens always.
//   2. Every space becomes "▁" (U+2581). There is no prefix space.
//   3. The text splits into runs of '\n' and runs of everything else. A run of newlines that is itself a
//      token (`\n`, `\n\n`, ...) is emitted whole.
//   4. Each run starts as one symbol per UTF-8 character; the adjacent pair with the lowest merge rank
//      (leftmost on ties) merges until no pair has a rank.
//   5. A final symbol that is not a token becomes one `<0xNN>` byte token per byte (byte fallback).
// Decoding maps "▁" back to spaces and byte tokens back to their byte; control tokens render as nothing
// unless asked for.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hark::gguf {
class File;
}

namespace hark::text {

// GGUF `tokenizer.ggml.token_type` values.
enum class TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

class Tokenizer {
 public:
  // Throws Error(kModelInvalid / kUnsupported) naming the key when the vocabulary is missing or malformed.
  static Tokenizer from_gguf(const gguf::File& file);

  // Token ids for `text`, without BOS (callers add `bos()` where a prompt starts). With `parse_special`,
  // texts such as "<|turn>" become their control token; without it they are tokenized as plain text.
  // Bytes that are not valid UTF-8 are encoded as U+FFFD.
  std::vector<int32_t> encode(std::string_view text, bool parse_special) const;

  // The text of `ids` joined. Byte tokens are assembled into characters; a byte sequence that is not valid
  // UTF-8 becomes U+FFFD, so the result is always valid UTF-8. Control tokens render only if `special`.
  // Ids outside the vocabulary throw Error(kInvalidArgument).
  std::string decode(std::span<const int32_t> ids, bool special = false) const;

  // The raw bytes one token stands for: "▁" as space, a byte token as its single byte, control and
  // user-defined tokens as their text. Throws Error(kInvalidArgument) for an id outside the vocabulary.
  const std::string& token_to_piece(int32_t id) const;
  // The token's text as stored in the vocabulary (with "▁", `<0x0A>` ...).
  const std::string& token_text(int32_t id) const;
  TokenType token_type(int32_t id) const;
  // True for control and unknown tokens: they are not text and decode to nothing by default.
  bool is_control(int32_t id) const;

  // The id of the token whose vocabulary text is exactly `text` (e.g. "<|audio>"), looked up by text so no
  // id is ever hard-coded. Throws Error(kModelInvalid) naming the text when the vocabulary lacks it.
  int32_t find_special(std::string_view text) const;
  // The same lookup without throwing.
  std::optional<int32_t> find_token(std::string_view text) const;

  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  // Whether the model wants BOS at the start of a prompt (`tokenizer.ggml.add_bos_token`; always true for
  // Gemma 4, as llama.cpp forces it).
  bool add_bos() const { return add_bos_; }
  // End of generation: `<eos>`, `<turn|>`, `<|tool_response>` and the GGUF eos/eot ids.
  bool is_eog(int32_t id) const;
  int32_t n_vocab() const { return static_cast<int32_t>(texts_.size()); }

 private:
  Tokenizer() = default;  // only from_gguf() makes one

  struct Merge {
    int32_t rank;    // position in tokenizer.ggml.merges: lower merges first
    int32_t result;  // symbol id of the merged text
  };
  // (left id, right id) -> Merge, open addressing with linear probing: the merge lookup is the hot path of
  // encoding and a node-based map spends most of its time on cache misses.
  class MergeTable {
   public:
    void reserve(size_t n);
    // Keeps the first merge inserted for a pair.
    void insert(int32_t left, int32_t right, Merge m);
    const Merge* find(int32_t left, int32_t right) const;

   private:
    struct Slot {
      uint64_t key = kEmpty;
      Merge merge{};
    };
    static constexpr uint64_t kEmpty = ~uint64_t{0};
    size_t index(uint64_t key) const;
    std::vector<Slot> slots_;  // [power of two], at most half full
    size_t size_ = 0;
  };
  struct Fragment {
    int32_t token;  // -1 for raw text
    size_t offset;
    size_t length;
  };

  void check_id(int32_t id) const;
  // The id of a symbol's text: a vocabulary id, an id >= n_vocab for texts that only merges mention, or -1.
  int32_t symbol_id(std::string_view s) const;
  std::vector<Fragment> split_special(std::string_view text, bool parse_special) const;
  void encode_run(std::string_view run, std::vector<int32_t>& out) const;
  void emit_bytes(std::string_view bytes, std::vector<int32_t>& out) const;

  std::vector<std::string> texts_;   // [n_vocab] vocabulary texts
  std::vector<TokenType> types_;     // [n_vocab]
  std::vector<std::string> pieces_;  // [n_vocab] decoded bytes (control tokens as their text)
  // text -> symbol id: the token id, or an id >= n_vocab for a text that only merges mention (as a side or a
  // result), so that the merge loop works on integers only. Open addressing over ids, the texts staying in
  // texts_ and extra_texts_: a node-based map copied every text and took most of a 0.4 s load.
  struct SymbolSlot {
    uint32_t tag = 0;  // high half of the text's hash
    int32_t id = -1;   // -1: empty
  };
  const std::string& symbol_text(int32_t id) const;
  // The slot holding s, or the empty slot where it would go (symbols_ must not be empty); tag = its hash tag.
  size_t symbol_slot(std::string_view s, uint32_t& tag) const;
  // Makes id findable by its text unless the text already has an id (the first one stays, as with the
  // vocabulary's duplicate texts in llama.cpp).
  void add_symbol(int32_t id);
  std::vector<std::string> extra_texts_;  // symbol n_vocab + i: texts only merges mention
  std::vector<SymbolSlot> symbols_;       // [power of two], at most half full
  size_t n_symbols_ = 0;
  MergeTable merges_;
  std::vector<int32_t> byte_tokens_;  // [256] id of `<0xNN>`, -1 where absent
  std::vector<int32_t> specials_;     // control/user-defined/unknown ids, longest text first
  std::vector<int32_t> eog_;          // sorted
  int32_t bos_ = -1;
  int32_t eos_ = -1;
  bool add_bos_ = true;
};

// Turns generated ids into text as they arrive without ever splitting a UTF-8 character: bytes of an
// unfinished character (e.g. from `<0xE2>` `<0x96>` byte tokens) wait for the next push. Bytes that can
// never form a character come out as U+FFFD.
class StreamDetokenizer {
 public:
  explicit StreamDetokenizer(const Tokenizer& tokenizer, bool special = false)
      : tokenizer_(&tokenizer), special_(special) {}
  // The text that is complete after adding `id` (possibly empty).
  std::string push(int32_t id);
  // Whatever is pending; an unfinished character becomes U+FFFD. Resets the stream.
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool special_;
  std::string pending_;  // at most 3 bytes: the start of a character not yet complete
};

// Moves the longest valid UTF-8 prefix of `bytes` into `out`, replacing invalid bytes with U+FFFD. Returns
// the number of bytes consumed: a trailing incomplete-but-valid-so-far sequence is left unconsumed unless
// `final` is set (then it becomes U+FFFD).
size_t append_valid_utf8(std::string_view bytes, bool final, std::string& out);

}  // namespace hark::text
