#include "text/chat_prompt.h"

#include "core/error.h"
#include "text/language.h"

namespace hark::text {
namespace {

constexpr std::string_view kWhitespace = " \t\n\r\f\v";
constexpr std::string_view kChannelOpen = "<|channel>";  // starts a channel; "thought" names the thinking one
constexpr std::string_view kChannelClose = "<channel|>";

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(kWhitespace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kWhitespace) + 1 - b);
}

// Collects pieces. Plain text accumulates until the next special token or audio slot and is then tokenized
// in one go, so the ids equal those of tokenizing the whole rendered prompt (special tokens split the text
// into exactly these fragments).
class Builder {
 public:
  explicit Builder(const Tokenizer& tok) : tok_(tok) {}

  void bos() { append({tok_.bos()}); }
  void special(std::string_view text) {
    flush();
    append({tok_.find_special(text)});
  }
  void text(std::string_view s) { pending_ += s; }
  void audio(const AudioInput& a) {
    if (a.chunk_rows.empty()) throw Error(Errc::kInvalidArgument, "an audio input has no chunks");
    special("<|audio>");
    for (size_t c = 0; c < a.chunk_rows.size(); ++c) {
      if (a.chunk_rows[c] <= 0)
        throw Error(Errc::kInvalidArgument, "audio chunk " + std::to_string(c) + " has no rows");
      PromptPiece p;
      p.kind = PromptPiece::Kind::kAudio;
      p.n_rows = a.chunk_rows[c];
      p.audio_index = n_audio_;
      p.chunk_index = static_cast<int32_t>(c);
      prompt_.pieces.push_back(std::move(p));
    }
    ++n_audio_;
    special("<audio|>");
  }
  Prompt finish() {
    flush();
    return std::move(prompt_);
  }

 private:
  void flush() {
    if (pending_.empty()) return;
    append(tok_.encode(pending_, false));
    pending_.clear();
  }
  void append(const std::vector<int32_t>& ids) {
    if (prompt_.pieces.empty() || prompt_.pieces.back().kind != PromptPiece::Kind::kTokens)
      prompt_.pieces.push_back(PromptPiece{});
    auto& t = prompt_.pieces.back().tokens;
    t.insert(t.end(), ids.begin(), ids.end());
  }

  const Tokenizer& tok_;
  Prompt prompt_;
  std::string pending_;
  int32_t n_audio_ = 0;
};

std::string text_of(const ChatMessage& m) {
  std::string s;
  for (const ChatPart& p : m.parts) {
    if (p.kind == ChatPart::Kind::kAudio)
      throw Error(Errc::kInvalidArgument,
                  "a " + m.role + " message cannot carry audio; put it in a user message");
    s += trim(p.text);
  }
  return s;
}

bool is_system(const std::string& role) {
  return role == "system" || role == "developer";
}

// Google's recommended instruction for Gemma 4 speech recognition / speech translation (model card).
constexpr std::string_view kFormatAsr =
    " Follow these specific instructions for formatting the answer:\n"
    "* Only output the transcription, with no newlines.\n"
    "* When transcribing numbers, write the digits, i.e. write 1.7 and not one point seven, and write 3 "
    "instead "
    "of three.";

}  // namespace

int64_t Prompt::n_positions() const {
  int64_t n = 0;
  for (const PromptPiece& p : pieces) n += p.kind == PromptPiece::Kind::kAudio ? p.n_rows : p.tokens.size();
  return n;
}

std::vector<int32_t> Prompt::flat_tokens() const {
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(n_positions()));
  for (const PromptPiece& p : pieces) {
    if (p.kind == PromptPiece::Kind::kAudio)
      out.insert(out.end(), static_cast<size_t>(p.n_rows), -1);
    else
      out.insert(out.end(), p.tokens.begin(), p.tokens.end());
  }
  return out;
}

std::vector<std::pair<int64_t, int64_t>> Prompt::audio_spans() const {
  std::vector<std::pair<int64_t, int64_t>> spans;
  int64_t pos = 0;
  for (const PromptPiece& p : pieces) {
    if (p.kind == PromptPiece::Kind::kAudio) {
      spans.emplace_back(pos, p.n_rows);
      pos += p.n_rows;
    } else {
      pos += static_cast<int64_t>(p.tokens.size());
    }
  }
  return spans;
}

Prompt chat_prompt(const Tokenizer& tok, std::span<const ChatMessage> messages, const ChatOptions& options) {
  if (messages.empty()) throw Error(Errc::kInvalidArgument, "a chat request needs at least one message");
  Builder b(tok);
  b.bos();
  size_t first = 0;
  const bool has_system = is_system(messages[0].role);
  if (options.thinking || has_system) {
    b.special("<|turn>");
    b.text("system\n");
    if (options.thinking) b.special("<|think|>");
    if (has_system) {
      b.text(text_of(messages[0]));
      first = 1;
    }
    b.special("<turn|>");
    b.text("\n");
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    std::string role;
    if (m.role == "user") {
      role = "user";
    } else if (m.role == "assistant" || m.role == "model") {
      role = "model";
    } else if (is_system(m.role)) {
      role = "system";
    } else {
      throw Error(Errc::kInvalidArgument, "unknown message role '" + m.role.substr(0, 40) +
                                              "' (expected system, developer, user or assistant)");
    }
    b.special("<|turn>");
    b.text(role + "\n");
    for (const ChatPart& p : m.parts) {
      if (p.kind == ChatPart::Kind::kAudio) {
        if (role != "user") throw Error(Errc::kInvalidArgument, "only user messages can carry audio");
        b.audio(p.audio);
      } else {
        // Earlier answers go back without their thoughts, as the Gemma 4 template does.
        b.text(role == "model" ? strip_thinking(p.text) : std::string(trim(p.text)));
      }
    }
    b.special("<turn|>");
    b.text("\n");
  }
  if (options.add_generation_prompt) {
    b.special("<|turn>");
    b.text("model\n");
    if (!options.thinking && options.empty_thought_channel) {
      b.special("<|channel>");
      b.text("thought\n");
      b.special("<channel|>");
    }
  }
  return b.finish();
}

Prompt llama_server_transcription_prompt(const Tokenizer& tok, const AudioInput& audio) {
  ChatMessage user{"user", {}};
  user.parts.push_back({ChatPart::Kind::kText, "Transcribe audio to text", {}});
  user.parts.push_back({ChatPart::Kind::kAudio, "", audio});
  ChatOptions options;
  options.thinking = true;
  return chat_prompt(tok, std::span(&user, 1), options);
}

std::string transcription_instruction(const TranscriptionOptions& o) {
  const std::string lang = language_name(o.language);
  std::string s;
  if (o.translate) {
    const std::string src = lang.empty() ? "its original language" : lang;
    s = "Transcribe the following speech segment in " + src +
        ", then translate it into English. When formatting "
        "the answer, first output the transcription in " +
        src +
        ", then one newline, then output the string "
        "'English: ', then the translation in English.";
  } else {
    s = lang.empty() ? "Transcribe the following speech segment in its original language."
                     : "Transcribe the following speech segment in " + lang + " into " + lang + " text.";
    s += kFormatAsr;
  }
  const std::string_view context = trim(o.context);
  if (!context.empty()) {
    s += o.translate ? "\n" : "\n* ";
    s += "The speech may continue this earlier text or use its names and terms; use it only as a guide to "
         "spelling and style: ";
    s += context;
  }
  return s;
}

Prompt transcription_prompt(const Tokenizer& tok, const AudioInput& audio,
                            const TranscriptionOptions& options) {
  ChatMessage user{"user", {}};
  user.parts.push_back({ChatPart::Kind::kText, transcription_instruction(options), {}});
  user.parts.push_back({ChatPart::Kind::kAudio, "", audio});
  ChatOptions chat;
  chat.thinking = options.thinking;
  return chat_prompt(tok, std::span(&user, 1), chat);
}

std::string strip_thinking(std::string_view text) {
  ThinkingFilter f;
  std::string out = f.push(text);
  out += f.flush();
  return out;
}

std::string extract_translation(std::string_view text) {
  constexpr std::string_view kMarker = "English:";
  const size_t at = text.rfind(kMarker);
  if (at == std::string_view::npos) return std::string(trim(text));
  return std::string(trim(text.substr(at + kMarker.size())));
}

void ThinkingFilter::emit(std::string_view s, std::string& out) {
  const size_t last = s.find_last_not_of(kWhitespace);
  if (last == std::string_view::npos) {
    if (started_) ws_ += s;
    return;
  }
  size_t first = 0;
  if (!started_) {
    first = s.find_first_not_of(kWhitespace);
    started_ = true;
  } else {
    out += ws_;
  }
  out += s.substr(first, last + 1 - first);
  ws_ = s.substr(last + 1);
}

std::string ThinkingFilter::push(std::string_view delta) {
  held_ += delta;
  std::string out;
  while (true) {
    if (in_thought_) {
      const size_t close = held_.find(kChannelClose);
      if (close == std::string::npos) {
        // Only a tail that could begin the closing marker matters inside a thought.
        const size_t keep = std::min(held_.size(), kChannelClose.size() - 1);
        held_.erase(0, held_.size() - keep);
        return out;
      }
      held_.erase(0, close + kChannelClose.size());
      in_thought_ = false;
      continue;
    }
    const size_t open = held_.find(kChannelOpen);
    const size_t close = held_.find(kChannelClose);
    const size_t marker = std::min(open, close);
    if (marker == std::string::npos) {
      // Hold back the longest tail that is a prefix of a marker.
      size_t keep = 0;
      for (size_t n = std::min(held_.size(), kChannelOpen.size() - 1); n > 0; --n) {
        const std::string_view tail = std::string_view(held_).substr(held_.size() - n);
        if (kChannelOpen.starts_with(tail) || kChannelClose.starts_with(tail)) {
          keep = n;
          break;
        }
      }
      emit(std::string_view(held_).substr(0, held_.size() - keep), out);
      held_.erase(0, held_.size() - keep);
      return out;
    }
    emit(std::string_view(held_).substr(0, marker), out);
    // A stray closing marker is dropped; an opening one starts a thought.
    in_thought_ = marker == open;
    held_.erase(0, marker + (marker == open ? kChannelOpen.size() : kChannelClose.size()));
  }
}

std::string ThinkingFilter::flush() {
  std::string out;
  if (!in_thought_) emit(held_, out);
  held_.clear();
  ws_.clear();
  in_thought_ = false;
  started_ = false;
  return out;
}

}  // namespace hark::text
