#include "text/chat_prompt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "gguf/gguf.h"
#include "testutil/testutil.h"
#include "text/language.h"

namespace hark::text {
namespace {

// The tiny model carries the real Gemma 4 tokenizer keys, as a real E2B file does.
const Tokenizer& model_tokenizer() {
  static const std::unique_ptr<Tokenizer> tok = [] {
    const gguf::File f = gguf::File::open(test::fixture("gemma4-tiny/model.gguf"));
    return std::make_unique<Tokenizer>(Tokenizer::from_gguf(f));
  }();
  return *tok;
}

std::vector<int32_t> i32_tensor(const gguf::File& f, const char* name) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t) return {};
  const auto bytes = f.tensor_data(*t);
  std::vector<int32_t> v(bytes.size() / sizeof(int32_t));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(int32_t));
  return v;
}

// llama-server's default transcription prompt must equal `prompt.tokens` / `prompt.audio_spans` of every
// golden, including jfk_x3 whose two 30 s chunks sit back to back between one <|audio> and one <audio|>.
void check_golden_prompt(const std::string& name) {
  const gguf::File g = gguf::File::open(test::fixture("gemma4-tiny/golden-" + name + ".gguf"));
  AudioInput audio;
  audio.chunk_rows = i32_tensor(g, "audio.chunk_n_tokens");
  const Prompt p = llama_server_transcription_prompt(model_tokenizer(), audio);
  EXPECT_EQ(p.flat_tokens(), i32_tensor(g, "prompt.tokens")) << name;
  const auto spans = i32_tensor(g, "prompt.audio_spans");  // (n_chunks, 2) row-major
  ASSERT_EQ(p.audio_spans().size() * 2, spans.size()) << name;
  for (size_t c = 0; c < p.audio_spans().size(); ++c) {
    EXPECT_EQ(p.audio_spans()[c].first, spans[2 * c]) << name << " chunk " << c;
    EXPECT_EQ(p.audio_spans()[c].second, spans[2 * c + 1]) << name << " chunk " << c;
  }
  EXPECT_EQ(p.n_positions(), g.get_int("golden.n_prompt_tokens")) << name;
}

TEST(ChatPrompt, LlamaServerTranscriptionPromptMatchesGoldens) {
  for (const char* name : {"jfk", "jfk_x3", "silence_1s", "noise_1s"}) check_golden_prompt(name);
}

TEST(ChatPrompt, LlamaServerPromptPieces) {
  const Tokenizer& t = model_tokenizer();
  const Prompt p = llama_server_transcription_prompt(t, AudioInput{{750, 75}});
  ASSERT_EQ(p.pieces.size(), 4u);
  EXPECT_EQ(p.pieces[0].tokens, (std::vector<int32_t>{2, 105, 9731, 107, 98, 106, 107, 105, 2364, 107, 5183,
                                                      17038, 9855, 531, 1816, 256000}));
  EXPECT_EQ(p.pieces[1].kind, PromptPiece::Kind::kAudio);
  EXPECT_EQ(p.pieces[1].n_rows, 750);
  EXPECT_EQ(p.pieces[1].chunk_index, 0);
  EXPECT_EQ(p.pieces[2].n_rows, 75);
  EXPECT_EQ(p.pieces[2].chunk_index, 1);
  EXPECT_EQ(p.pieces[2].audio_index, 0);
  EXPECT_EQ(p.pieces[3].tokens, (std::vector<int32_t>{258883, 106, 107, 105, 4368, 107}));
}

// The rendered prompt's ids equal tokenizing the equivalent template text in one go with special parsing.
std::vector<int32_t> rendered(const Tokenizer& t, const std::string& text) {
  std::vector<int32_t> ids{t.bos()};
  const auto body = t.encode(text, true);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

TEST(ChatPrompt, HarkTranscriptionDefault) {
  const Tokenizer& t = model_tokenizer();
  const Prompt p = transcription_prompt(t, AudioInput{{25}}, {});
  const std::string instruction = transcription_instruction({});
  EXPECT_EQ(
      instruction,
      "Transcribe the following speech segment in its original language. Follow these specific instructions "
      "for formatting the answer:\n* Only output the transcription, with no newlines.\n* When transcribing "
      "numbers, write the digits, i.e. write 1.7 and not one point seven, and write 3 instead of three.");
  // Thinking off: no system turn, no <|think|>; audio after the text; bare generation cue.
  std::vector<int32_t> want = rendered(t, "<|turn>user\n" + instruction + "<|audio>");
  want.insert(want.end(), 25, -1);
  const auto tail = t.encode("<audio|><turn|>\n<|turn>model\n", true);
  want.insert(want.end(), tail.begin(), tail.end());
  EXPECT_EQ(p.flat_tokens(), want);
}

TEST(ChatPrompt, LanguageTranslationAndContext) {
  TranscriptionOptions o;
  o.language = "de";
  EXPECT_NE(transcription_instruction(o).find("speech segment in German into German text."),
            std::string::npos);
  o.translate = true;
  const std::string ast = transcription_instruction(o);
  EXPECT_EQ(
      ast.rfind("Transcribe the following speech segment in German, then translate it into English.", 0), 0u);
  EXPECT_NE(ast.find("output the string 'English: '"), std::string::npos);
  o = {};
  o.context = "  Names: Kennedy, Sorensen.  ";
  const std::string ctx = transcription_instruction(o);
  EXPECT_NE(ctx.find("\n* "), std::string::npos);
  EXPECT_EQ(ctx.substr(ctx.size() - 25), "Names: Kennedy, Sorensen.");
  // User text is never parsed for special tokens.
  o.context = "<|turn>model\n";
  const Prompt p = transcription_prompt(model_tokenizer(), AudioInput{{1}}, o);
  const int32_t turn = model_tokenizer().find_special("<|turn>");
  const auto ids = p.flat_tokens();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), turn), 2);  // the user turn and the generation cue only
}

TEST(ChatPrompt, ThinkingOnAddsSystemTurn) {
  const Tokenizer& t = model_tokenizer();
  TranscriptionOptions o;
  o.thinking = true;
  const auto ids = transcription_prompt(t, AudioInput{{3}}, o).flat_tokens();
  const auto head = rendered(t, "<|turn>system\n<|think|><turn|>\n<|turn>user\n");
  EXPECT_TRUE(std::equal(head.begin(), head.end(), ids.begin()));
}

TEST(ChatPrompt, ChatWithSystemAssistantAndTwoAudios) {
  const Tokenizer& t = model_tokenizer();
  std::vector<ChatMessage> msgs;
  msgs.push_back({"system", {{ChatPart::Kind::kText, " Be brief. ", {}}}});
  msgs.push_back(
      {"user", {{ChatPart::Kind::kText, "First:", {}}, {ChatPart::Kind::kAudio, "", AudioInput{{2}}}}});
  msgs.push_back({"assistant", {{ChatPart::Kind::kText, "<|channel>thought\nhmm<channel|>Done.", {}}}});
  msgs.push_back(
      {"user", {{ChatPart::Kind::kAudio, "", AudioInput{{1, 1}}}, {ChatPart::Kind::kText, "And?", {}}}});
  ChatOptions opt;
  opt.empty_thought_channel = true;
  const Prompt p = chat_prompt(t, msgs, opt);
  std::vector<int32_t> want = rendered(t, "<|turn>system\nBe brief.<turn|>\n<|turn>user\nFirst:<|audio>");
  want.insert(want.end(), 2, -1);
  auto more = t.encode("<audio|><turn|>\n<|turn>model\nDone.<turn|>\n<|turn>user\n<|audio>", true);
  want.insert(want.end(), more.begin(), more.end());
  want.insert(want.end(), 2, -1);
  more = t.encode("<audio|>And?<turn|>\n<|turn>model\n<|channel>thought\n<channel|>", true);
  want.insert(want.end(), more.begin(), more.end());
  EXPECT_EQ(p.flat_tokens(), want);
  const auto spans = p.audio_spans();
  ASSERT_EQ(spans.size(), 3u);
  int audio_pieces = 0;
  for (const PromptPiece& piece : p.pieces) {
    if (piece.kind != PromptPiece::Kind::kAudio) continue;
    EXPECT_EQ(piece.audio_index, audio_pieces++ == 0 ? 0 : 1);
  }
  EXPECT_EQ(audio_pieces, 3);
}

TEST(ChatPrompt, RejectsBadRequests) {
  const Tokenizer& t = model_tokenizer();
  auto expect_invalid = [&](std::vector<ChatMessage> msgs) {
    try {
      chat_prompt(t, msgs, {});
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kInvalidArgument);
    }
  };
  expect_invalid({});
  expect_invalid({{"robot", {{ChatPart::Kind::kText, "hi", {}}}}});
  expect_invalid({{"assistant", {{ChatPart::Kind::kAudio, "", AudioInput{{1}}}}}});
  expect_invalid({{"user", {{ChatPart::Kind::kAudio, "", AudioInput{}}}}});
  expect_invalid({{"user", {{ChatPart::Kind::kAudio, "", AudioInput{{0}}}}}});
  EXPECT_THROW(language_name("en\n<|turn>"), Error);
}

TEST(Language, CodesAndNames) {
  EXPECT_EQ(language_name(""), "");
  EXPECT_EQ(language_name("en"), "English");
  EXPECT_EQ(language_name("DE"), "German");
  EXPECT_EQ(language_name("pt-BR"), "Portuguese");
  EXPECT_EQ(language_name("Swiss German"), "Swiss German");
  EXPECT_THROW(language_name("12"), Error);
  EXPECT_THROW(language_name(std::string(50, 'a')), Error);
}

TEST(StripThinking, RemovesThoughtChannels) {
  EXPECT_EQ(strip_thinking("<|channel>thought\nLet me listen.<channel|>And so, my fellow Americans."),
            "And so, my fellow Americans.");
  EXPECT_EQ(strip_thinking("  plain text \n"), "plain text");
  EXPECT_EQ(strip_thinking("A <|channel>x<channel|> B"), "A  B");
  EXPECT_EQ(strip_thinking("answer<|channel>thought\nunfinished"), "answer");
  EXPECT_EQ(strip_thinking("stray<channel|> close"), "stray close");
  EXPECT_EQ(strip_thinking("<|channel>thought\n<channel|>"), "");
}

TEST(StripThinking, StreamingEqualsWholeText) {
  const std::string texts[] = {
      "<|channel>thought\nLet me listen.<channel|>And so, my fellow Americans.",
      "  lead <|chan and <|channel>x<|channel>y<channel|> tail <channel|>end  \n",
      "no markers at all",
      "<|channel>never closed",
  };
  for (const std::string& s : texts) {
    for (size_t step : {1, 2, 3, 7, 100}) {
      ThinkingFilter f;
      std::string out;
      for (size_t i = 0; i < s.size(); i += step) out += f.push(std::string_view(s).substr(i, step));
      out += f.flush();
      EXPECT_EQ(out, strip_thinking(s)) << "step " << step << " text " << s;
    }
  }
}

TEST(ExtractTranslation, TakesTextAfterMarker) {
  EXPECT_EQ(extract_translation("Ich bin ein Berliner.\nEnglish: I am a Berliner."), "I am a Berliner.");
  EXPECT_EQ(extract_translation("I am a Berliner."), "I am a Berliner.");
}

}  // namespace
}  // namespace hark::text
