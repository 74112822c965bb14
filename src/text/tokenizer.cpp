#include "text/tokenizer.h"

#include <algorithm>
#include <bit>
#include <queue>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hark::text {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";    // "▁" U+2581, SentencePiece's visible space
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Texts that end generation for Gemma 4 (llama.cpp marks the same texts as end-of-generation).
constexpr std::string_view kEogTexts[] = {"<eos>", "<turn|>", "<|tool_response>", "<end_of_turn>"};

// Bytes in the UTF-8 sequence a lead byte starts, by its high nibble. Continuation and invalid bytes count
// as one byte, so malformed input still advances (llama.cpp splits characters the same way).
size_t utf8_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

const std::vector<std::string>& string_array(const gguf::File& f, std::string_view key) {
  const gguf::Array& a = f.get_array(key);
  if (a.elem_type != gguf::ValueType::STRING)
    throw Error(Errc::kModelInvalid, "key '" + std::string(key) + "' should be an array of strings");
  return std::get<std::vector<std::string>>(a.data);
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(s.substr(pos, hit - pos));
    out.append(to);
  }
  out.append(s.substr(pos));
  return out;
}

// `<0xNN>` -> NN, or -1 when the text is not of that form.
int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int v = 0;
  for (char c : t.substr(3, 2)) {
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                     : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

size_t append_valid_utf8(std::string_view bytes, bool final, std::string& out) {
  size_t i = 0;
  while (i < bytes.size()) {
    const auto b0 = static_cast<uint8_t>(bytes[i]);
    if (b0 < 0x80) {
      out.push_back(static_cast<char>(b0));
      ++i;
      continue;
    }
    // Expected length and the allowed range of the second byte (excludes overlongs, surrogates, > U+10FFFF).
    size_t len = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    }
    if (len == 0) {
      out.append(kReplacement);
      ++i;
      continue;
    }
    size_t n = 1;  // bytes of this sequence that are valid so far
    while (n < len && i + n < bytes.size()) {
      const auto b = static_cast<uint8_t>(bytes[i + n]);
      const uint8_t l = n == 1 ? lo : 0x80, h = n == 1 ? hi : 0xBF;
      if (b < l || b > h) break;
      ++n;
    }
    if (n == len) {
      out.append(bytes.substr(i, len));
      i += len;
    } else if (i + n == bytes.size() && !final) {
      return i;  // an unfinished character: wait for more bytes
    } else {
      out.append(kReplacement);
      i += n;
    }
  }
  return i;
}

Tokenizer Tokenizer::from_gguf(const gguf::File& f) {
  const std::string model = f.get_string("tokenizer.ggml.model", "");
  if (model != "gemma4")
    throw Error(Errc::kUnsupported, f.name() + ": tokenizer.ggml.model is '" + model +
                                        "'; hark supports the Gemma 4 tokenizer ('gemma4') only");
  Tokenizer t;
  t.texts_ = string_array(f, "tokenizer.ggml.tokens");
  const size_t n = t.texts_.size();
  if (n == 0 || n > (1u << 30))
    throw Error(Errc::kModelInvalid, f.name() + ": tokenizer.ggml.tokens holds " + std::to_string(n) +
                                         " tokens (expected 1 to 2^30)");

  const gguf::Array& types = f.get_array("tokenizer.ggml.token_type");
  if (types.elem_type != gguf::ValueType::I32 || types.size() < n)
    throw Error(Errc::kModelInvalid,
                f.name() + ": tokenizer.ggml.token_type should be " + std::to_string(n) + " i32 values");
  const auto& tv = std::get<std::vector<int32_t>>(types.data);
  t.types_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int32_t v = tv[i];
    t.types_[i] = (v >= 1 && v <= 6) ? static_cast<TokenType>(v) : TokenType::kUnused;
  }

  t.symbols_.assign(std::bit_ceil(4 * n), SymbolSlot{});  // room for the texts merges add, without a rehash
  for (size_t i = 0; i < n; ++i) t.add_symbol(static_cast<int32_t>(i));

  // Special ids come from the file; an id outside the vocabulary is a broken file.
  auto special_id = [&](const char* key) -> int32_t {
    const int64_t id = f.get_int(key, -1);
    if (id < -1 || id >= static_cast<int64_t>(n))
      throw Error(Errc::kModelInvalid, f.name() + ": " + key + " = " + std::to_string(id) +
                                           " is outside the " + std::to_string(n) + "-token vocabulary");
    return static_cast<int32_t>(id);
  };
  t.bos_ = special_id("tokenizer.ggml.bos_token_id");
  t.eos_ = special_id("tokenizer.ggml.eos_token_id");
  const int32_t eot = special_id("tokenizer.ggml.eot_token_id");
  if (t.bos_ < 0) throw Error(Errc::kModelInvalid, f.name() + ": missing key tokenizer.ggml.bos_token_id");
  // Gemma 4 prompts always start with BOS; llama.cpp overrides a false add_bos_token for this tokenizer.
  t.add_bos_ = true;

  for (int32_t id : {t.eos_, eot})
    if (id >= 0) t.eog_.push_back(id);
  for (std::string_view s : kEogTexts) {
    if (const int32_t id = t.symbol_id(s); id >= 0) {
      t.eog_.push_back(id);
      // An end-of-generation text is never plain text, whatever type the file gives it.
      t.types_[id] = TokenType::kControl;
    }
  }
  std::sort(t.eog_.begin(), t.eog_.end());
  t.eog_.erase(std::unique(t.eog_.begin(), t.eog_.end()), t.eog_.end());

  t.byte_tokens_.assign(256, -1);
  for (int b = 0; b < 256; ++b) {
    static const char* hex = "0123456789ABCDEF";
    const char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
    t.byte_tokens_[b] = t.symbol_id(std::string_view(name, 6));
  }

  t.pieces_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& s = t.texts_[i];
    switch (t.types_[i]) {
      case TokenType::kNormal:
        t.pieces_[i] = replace_all(s, kSpaceMark, " ");
        break;
      case TokenType::kByte: {
        const int b = parse_byte_token(s);
        t.pieces_[i] = b >= 0 ? std::string(1, static_cast<char>(b)) : s;
        break;
      }
      case TokenType::kUnused:
        break;  // renders as nothing
      default:
        t.pieces_[i] = s;  // control, unknown, user-defined: their text
    }
  }

  // Special-token matching order: longest text first, as llama.cpp partitions the input.
  for (size_t i = 0; i < n; ++i) {
    const TokenType ty = t.types_[i];
    if (ty == TokenType::kControl || ty == TokenType::kUserDefined || ty == TokenType::kUnknown)
      t.specials_.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(t.specials_.begin(), t.specials_.end(),
                   [&](int32_t a, int32_t b) { return t.texts_[a].size() > t.texts_[b].size(); });

  // Merges "left right", rank = position. A side or result that is not a token gets an extra symbol id so
  // the merge loop works on integers only.
  const auto& merges = string_array(f, "tokenizer.ggml.merges");
  t.merges_.reserve(merges.size());
  auto next_id = static_cast<int32_t>(n);
  auto intern = [&](std::string_view s) -> int32_t {
    if (const int32_t id = t.symbol_id(s); id >= 0) return id;
    t.extra_texts_.emplace_back(s);
    t.add_symbol(next_id);
    return next_id++;
  };
  std::string joined;
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& m = merges[r];
    const size_t sp = m.find(' ', 1);
    if (sp == std::string::npos || sp + 1 >= m.size()) continue;  // malformed: cannot apply
    const std::string_view left(m.data(), sp), right(m.data() + sp + 1, m.size() - sp - 1);
    const int32_t l = intern(left), rr = intern(right);
    joined.assign(left).append(right);
    const int32_t result = intern(joined);
    // The first occurrence of a pair keeps its rank (llama.cpp's emplace does the same).
    t.merges_.insert(l, rr, Merge{static_cast<int32_t>(r), result});
  }
  return t;
}

void Tokenizer::MergeTable::reserve(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  slots_.assign(cap, Slot{});
  size_ = 0;
}

size_t Tokenizer::MergeTable::index(uint64_t key) const {
  // splitmix64 finaliser: ids are small and dense, so they need mixing before masking.
  key ^= key >> 30;
  key *= 0xbf58476d1ce4e5b9ULL;
  key ^= key >> 27;
  key *= 0x94d049bb133111ebULL;
  key ^= key >> 31;
  return static_cast<size_t>(key) & (slots_.size() - 1);
}

void Tokenizer::MergeTable::insert(int32_t left, int32_t right, Merge m) {
  if (2 * (size_ + 1) > slots_.size()) {
    std::vector<Slot> old = std::move(slots_);
    reserve(std::max<size_t>(old.size(), 16));
    for (const Slot& s : old)
      if (s.key != kEmpty)
        insert(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key & 0xffffffffu), s.merge);
  }
  const uint64_t key = pair_key(left, right);
  for (size_t i = index(key);; i = (i + 1) & (slots_.size() - 1)) {
    if (slots_[i].key == key) return;
    if (slots_[i].key == kEmpty) {
      slots_[i] = {key, m};
      ++size_;
      return;
    }
  }
}

const Tokenizer::Merge* Tokenizer::MergeTable::find(int32_t left, int32_t right) const {
  if (slots_.empty()) return nullptr;
  const uint64_t key = pair_key(left, right);
  for (size_t i = index(key);; i = (i + 1) & (slots_.size() - 1)) {
    if (slots_[i].key == key) return &slots_[i].merge;
    if (slots_[i].key == kEmpty) return nullptr;
  }
}

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= n_vocab())
    throw Error(Errc::kInvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                            std::to_string(n_vocab() - 1) + ")");
}

const std::string& Tokenizer::token_to_piece(int32_t id) const {
  check_id(id);
  return pieces_[id];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  check_id(id);
  return texts_[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
  check_id(id);
  return types_[id];
}

bool Tokenizer::is_control(int32_t id) const {
  const TokenType t = token_type(id);
  return t == TokenType::kControl || t == TokenType::kUnknown;
}

bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(eog_.begin(), eog_.end(), id);
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  const int32_t id = symbol_id(text);
  if (id < 0 || id >= n_vocab()) return std::nullopt;
  return id;
}

int32_t Tokenizer::find_special(std::string_view text) const {
  if (auto id = find_token(text)) return *id;
  throw Error(Errc::kModelInvalid, "the vocabulary has no token '" + std::string(text) +
                                       "' (is this a Gemma 4 model with audio support?)");
}

const std::string& Tokenizer::symbol_text(int32_t id) const {
  return id < n_vocab() ? texts_[id] : extra_texts_[id - n_vocab()];
}

size_t Tokenizer::symbol_slot(std::string_view s, uint32_t& tag) const {
  const uint64_t h = std::hash<std::string_view>{}(s);
  tag = static_cast<uint32_t>(h >> 32);
  const size_t mask = symbols_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const SymbolSlot& slot = symbols_[i];
    if (slot.id < 0 || (slot.tag == tag && symbol_text(slot.id) == s)) return i;
  }
}

int32_t Tokenizer::symbol_id(std::string_view s) const {
  if (symbols_.empty()) return -1;
  uint32_t tag;
  return symbols_[symbol_slot(s, tag)].id;
}

void Tokenizer::add_symbol(int32_t id) {
  if (2 * (n_symbols_ + 1) > symbols_.size()) {
    std::vector<SymbolSlot> old = std::move(symbols_);
    symbols_.assign(std::max<size_t>(1024, 2 * old.size()), SymbolSlot{});
    n_symbols_ = 0;
    for (const SymbolSlot& slot : old)
      if (slot.id >= 0) add_symbol(slot.id);
  }
  uint32_t tag;
  SymbolSlot& slot = symbols_[symbol_slot(symbol_text(id), tag)];
  if (slot.id >= 0) return;
  slot = {tag, id};
  ++n_symbols_;
}

std::vector<Tokenizer::Fragment> Tokenizer::split_special(std::string_view text, bool parse_special) const {
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (int32_t sid : specials_) {
    const TokenType ty = types_[sid];
    if (!parse_special && ty != TokenType::kUserDefined) continue;
    const std::string& st = texts_[sid];
    next.clear();
    bool changed = false;
    for (const Fragment& fr : frags) {
      if (fr.token >= 0) {
        next.push_back(fr);
        continue;
      }
      const std::string_view raw = text.substr(fr.offset, fr.length);
      size_t pos = 0;
      for (size_t hit; (hit = raw.find(st, pos)) != std::string_view::npos; pos = hit + st.size()) {
        if (hit > pos) next.push_back({-1, fr.offset + pos, hit - pos});
        next.push_back({sid, 0, 0});
        changed = true;
      }
      if (pos < raw.size()) next.push_back({-1, fr.offset + pos, raw.size() - pos});
    }
    if (changed) frags.swap(next);
  }
  return frags;
}

void Tokenizer::emit_bytes(std::string_view bytes, std::vector<int32_t>& out) const {
  for (char c : bytes) {
    const int32_t id = byte_tokens_[static_cast<uint8_t>(c)];
    if (id >= 0) out.push_back(id);  // a vocabulary without that byte token drops it, as llama.cpp does
  }
}

void Tokenizer::encode_run(std::string_view run, std::vector<int32_t>& out) const {
  // A run of newlines that is a token stays whole (Gemma 4 has "\n" ... up to long runs as single tokens).
  if (run.find_first_not_of('\n') == std::string_view::npos) {
    const int32_t id = symbol_id(run);
    if (id >= 0 && id < n_vocab()) {
      out.push_back(id);
      return;
    }
  }

  struct Symbol {
    int32_t id;               // symbol id of the current text, -1 if it has none
    int32_t prev;             // index of the previous live symbol, -1 at the start
    int32_t next;             // index of the next live symbol, -1 at the end
    uint32_t offset, length;  // bytes of `run`; length 0 once merged into its left neighbour
  };
  struct Pair {
    int32_t rank, left, right, left_id, right_id, result;
    // priority_queue pops the largest: make the lowest rank, then the leftmost, the largest.
    bool operator<(const Pair& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };

  std::vector<Symbol> syms;  // [n_chars]
  syms.reserve(run.size());
  for (size_t off = 0; off < run.size();) {
    const size_t len = std::min(utf8_len(static_cast<uint8_t>(run[off])), run.size() - off);
    const auto idx = static_cast<int32_t>(syms.size());
    syms.push_back({symbol_id(run.substr(off, len)), idx - 1, off + len == run.size() ? -1 : idx + 1,
                    static_cast<uint32_t>(off), static_cast<uint32_t>(len)});
    off += len;
  }

  std::vector<Pair> heap_storage;
  heap_storage.reserve(syms.size());
  std::priority_queue<Pair> queue(std::less<Pair>{}, std::move(heap_storage));
  auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0 || syms[l].id < 0 || syms[r].id < 0) return;
    const Merge* m = merges_.find(syms[l].id, syms[r].id);
    if (!m) return;
    queue.push({m->rank, l, r, syms[l].id, syms[r].id, m->result});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_pair(i - 1, i);

  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Symbol& l = syms[p.left];
    Symbol& r = syms[p.right];
    // Stale entry: one side has merged with something else since it was queued.
    if (l.length == 0 || r.length == 0 || l.id != p.left_id || r.id != p.right_id) continue;
    l.id = p.result;
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = p.left;
    try_pair(l.prev, p.left);
    try_pair(p.left, l.next);
  }

  for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
    const Symbol& s = syms[i];
    if (s.id >= 0 && s.id < n_vocab())
      out.push_back(s.id);
    else
      emit_bytes(run.substr(s.offset, s.length), out);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view raw, bool parse_special) const {
  // Invalid bytes become U+FFFD first (Hugging Face only ever sees valid strings); otherwise a stray lead
  // byte would take the next character's bytes into its symbol.
  std::string valid;
  valid.reserve(raw.size());
  append_valid_utf8(raw, true, valid);
  const std::string_view text = valid;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  for (const Fragment& fr : split_special(text, parse_special)) {
    if (fr.token >= 0) {
      out.push_back(fr.token);
      continue;
    }
    const std::string escaped = replace_all(text.substr(fr.offset, fr.length), " ", kSpaceMark);
    const std::string_view s = escaped;
    // Runs of '\n' and runs of everything else; merges never cross a newline boundary.
    for (size_t pos = 0; pos < s.size();) {
      const bool newline = s[pos] == '\n';
      size_t end = newline ? s.find_first_not_of('\n', pos) : s.find('\n', pos);
      if (end == std::string_view::npos) end = s.size();
      encode_run(s.substr(pos, end - pos), out);
      pos = end;
    }
  }
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool special) const {
  std::string bytes;
  for (int32_t id : ids) {
    check_id(id);
    if (!special && is_control(id)) continue;
    bytes += pieces_[id];
  }
  std::string out;
  out.reserve(bytes.size());
  append_valid_utf8(bytes, true, out);
  return out;
}

std::string StreamDetokenizer::push(int32_t id) {
  if (!special_ && tokenizer_->is_control(id)) return {};
  pending_ += tokenizer_->token_to_piece(id);
  std::string out;
  const size_t used = append_valid_utf8(pending_, false, out);
  pending_.erase(0, used);
  return out;
}

std::string StreamDetokenizer::flush() {
  std::string out;
  append_valid_utf8(pending_, true, out);
  pending_.clear();
  return out;
}

}  // namespace hark::text
