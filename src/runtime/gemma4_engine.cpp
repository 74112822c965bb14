#include "runtime/gemma4_engine.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>

#include "audio/mel.h"
#include "audio/vad.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "runtime/quality.h"
#include "runtime/windowing.h"

namespace hark::runtime {
namespace {

constexpr double kMaxCompressionRatio = 2.4;  // Whisper's threshold for looping text
constexpr size_t kContextBytes = 600;         // previous-window text carried as context (its tail)

std::string tail_utf8(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t i = s.size() - max_bytes;
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;  // not mid-character
  return s.substr(i);
}

// OpenAI's server_vad threshold in [0, 1] to the VAD's level above the noise floor (0.5 -> its default 10
// dB).
audio::VadOptions vad_options(const ChunkingOptions& c) {
  audio::VadOptions v;
  if (c.mode == ChunkingOptions::Mode::kServerVad) {
    v.threshold_db = 4.0f + 12.0f * std::clamp(c.threshold, 0.0f, 1.0f);
    v.min_silence_ms = std::max(50, c.silence_duration_ms);
    v.padding_ms = std::clamp(c.prefix_padding_ms, 0, 2000);
  }
  return v;
}

}  // namespace

std::shared_ptr<Gemma4Engine> Gemma4Engine::load(const EngineOptions& options) {
  std::shared_ptr<Gemma4Engine> e(new Gemma4Engine());
  e->opt_ = options;
  if (options.n_ctx < 256) throw Error(Errc::kInvalidArgument, "context size must be at least 256 tokens");
  e->text_file_ = std::make_shared<gguf::File>(gguf::File::open(options.model_path));
  e->mmproj_file_ = std::make_shared<gguf::File>(gguf::File::open(options.mmproj_path));
  const std::string arch = e->text_file_->get_string("general.architecture", "");
  if (arch != "gemma4")
    throw Error(Errc::kModelInvalid,
                options.model_path + ": general.architecture is '" + arch + "', not 'gemma4'" +
                    (arch == "clip" ? " (this is an mmproj file: pass it with --mmproj)" : ""));
  const std::string proj = e->mmproj_file_->get_string("clip.audio.projector_type", "");
  if (proj != "gemma4a")
    throw Error(Errc::kModelInvalid, options.mmproj_path + ": clip.audio.projector_type is '" + proj +
                                         "', not 'gemma4a' (a Gemma 4 audio mmproj is needed)");
  // The tokenizer (~0.2 s: hashing 262144 tokens and their merges) and the encoder (packing 615 MB of F16
  // weights for E2B) load on threads of their own while this one loads the text model (copying 1.4 GB of
  // matrices); their errors surface through get(). Most of that time is first-touch faults on new memory,
  // which the VM this was measured on serves faster from more threads: 2.1-2.3 -> 1.9-2.1 s of loading
  // when the memory was cold, the same ~0.7 s when warm.
  auto tokenizer = std::async(std::launch::async, [file = e->text_file_] {
    return std::make_unique<text::Tokenizer>(text::Tokenizer::from_gguf(*file));
  });
  auto encoder = std::async(std::launch::async, [file = e->mmproj_file_] {
    return std::make_unique<gemma4a::AudioEncoder>(gemma4a::AudioEncoder::load(*file));
  });
  e->text_ = std::make_unique<gemma4::TextModel>(gemma4::TextModel::load(e->text_file_));
  e->encoder_ = encoder.get();
  e->tokenizer_ = tokenizer.get();
  if (e->encoder_->n_embd_out() != e->text_->hparams().n_embd)
    throw Error(Errc::kModelInvalid, "the mmproj projects to " + std::to_string(e->encoder_->n_embd_out()) +
                                         " dimensions but the text model is " +
                                         std::to_string(e->text_->hparams().n_embd) +
                                         " wide: files do not match");
  e->pool_ = std::make_unique<ThreadPool>(options.threads);
  e->model_id_ = options.alias;
  if (e->model_id_.empty()) e->model_id_ = std::filesystem::path(options.model_path).stem().string();
  return e;
}

std::vector<std::vector<float>> Gemma4Engine::encode_audio(std::span<const float> pcm16k) const {
  std::vector<std::vector<float>> rows;
  for (const audio::MelChunk& mel : audio::gemma4_log_mel(pcm16k, pool_.get()))
    rows.push_back(encoder_->encode(mel.data, mel.n_frames, *pool_));
  return rows;
}

gemma4::KvCache Gemma4Engine::prefill(const text::Prompt& prompt,
                                      const std::vector<std::vector<std::vector<float>>>& audio,
                                      std::vector<float>& logits) const {
  const int64_t n_embd = text_->hparams().n_embd;
  const int64_t n_prompt = prompt.n_positions();
  if (n_prompt + 1 > opt_.n_ctx)
    throw Error(Errc::kResourceExhausted,
                "the prompt needs " + std::to_string(n_prompt) + " positions but the context holds " +
                    std::to_string(opt_.n_ctx) + " (raise -c, or send shorter audio)");
  std::vector<gemma4::Input> inputs;
  inputs.reserve(static_cast<size_t>(n_prompt));
  for (const auto& piece : prompt.pieces) {
    if (piece.kind == text::PromptPiece::Kind::kTokens) {
      for (int32_t id : piece.tokens) inputs.push_back(gemma4::Input::tok(id));
      continue;
    }
    const auto& rows =
        audio.at(static_cast<size_t>(piece.audio_index)).at(static_cast<size_t>(piece.chunk_index));
    if (static_cast<int64_t>(rows.size()) != int64_t{piece.n_rows} * n_embd)
      throw Error(Errc::kInternal, "audio rows do not match the prompt's audio slot");
    for (int32_t r = 0; r < piece.n_rows; ++r)
      inputs.push_back(gemma4::Input::embedding(rows.data() + r * n_embd));
  }
  inputs.back().logits = true;
  gemma4::KvCache cache = text_->new_cache(opt_.n_ctx);
  text_->forward(cache, inputs, logits, *pool_);
  return cache;
}

Gemma4Engine::Generation Gemma4Engine::generate(const text::Prompt& prompt,
                                                const std::vector<std::vector<std::vector<float>>>& audio,
                                                const SamplingParams& sampling, int64_t max_tokens,
                                                const Callbacks& callbacks, bool want_logprobs) const {
  Generation g;
  g.n_prompt = prompt.n_positions();
  std::vector<float> logits;
  gemma4::KvCache cache = prefill(prompt, audio, logits);

  Sampler sampler(sampling);
  text::StreamDetokenizer detok(*tokenizer_);
  text::ThinkingFilter filter;
  std::vector<TokenLogprob> pending;  // tokens behind text not yet streamed
  const int64_t limit = std::min(max_tokens, opt_.n_ctx - g.n_prompt);
  auto emit = [&](const std::string& visible) {
    if (!callbacks.on_delta || visible.empty()) return;
    callbacks.on_delta(visible, pending);
    pending.clear();
  };
  // Tokens [0, streamed) have gone to the detokenizer. A repeating tail is held back (repeat_tail) until
  // the repetition breaks or the loop guard cuts it, so the stream never shows repeats the text drops.
  size_t streamed = 0;
  auto stream_to = [&](size_t end) {
    for (; streamed < end; ++streamed) {
      const int32_t id = g.tokens[streamed];
      if (want_logprobs) {
        const std::string& piece = tokenizer_->token_to_piece(id);
        pending.push_back({piece, g.logprobs[streamed], std::vector<uint8_t>(piece.begin(), piece.end())});
      }
      emit(filter.push(detok.push(id)));
    }
  };
  for (;;) {
    if (callbacks.cancelled && callbacks.cancelled()) throw Error(Errc::kCancelled, "request cancelled");
    const Sampler::Pick pick = sampler.sample(logits);
    if (g.tokens.empty()) {
      const float lse = kernels::log_sum_exp(logits.data(), static_cast<int64_t>(logits.size()));
      for (int32_t id = 0; id < static_cast<int32_t>(logits.size()); ++id)
        if (tokenizer_->is_eog(id)) g.first_eog_prob += std::exp(logits[static_cast<size_t>(id)] - lse);
    }
    if (tokenizer_->is_eog(pick.id)) break;
    g.tokens.push_back(pick.id);
    g.logprobs.push_back(pick.logprob);
    if (ends_in_repetition(g.tokens)) {
      g.tokens.resize(g.tokens.size() - loop_tail(g.tokens));
      g.logprobs.resize(g.tokens.size());
      g.stopped_by_loop = true;
      break;
    }
    stream_to(g.tokens.size() - repeat_tail(g.tokens));
    if (static_cast<int64_t>(g.tokens.size()) >= limit) {
      g.stopped_by_limit = true;
      break;
    }
    const gemma4::Input next = gemma4::Input::tok(pick.id, true);
    text_->forward(cache, std::span<const gemma4::Input>(&next, 1), logits, *pool_);
  }
  stream_to(g.tokens.size());
  emit(filter.push(detok.flush()) + filter.flush());
  g.text = text::strip_thinking(tokenizer_->decode(g.tokens));
  return g;
}

TranscribeResult Gemma4Engine::transcribe(const TranscribeRequest& req, const Callbacks& callbacks) {
  if (req.pcm16k.empty()) throw Error(Errc::kAudioEmpty, "the audio has no samples");
  TranscribeResult r;
  r.duration = static_cast<double>(req.pcm16k.size()) / audio::kMelSampleRate;
  r.language = req.language;
  const int64_t total_ms = static_cast<int64_t>(req.pcm16k.size()) * 1000 / audio::kMelSampleRate;

  // Speech regions; audio without speech gets no text (never sent to the model, so nothing is invented).
  std::vector<TimeRange> speech;
  for (const auto& s : audio::detect_speech(req.pcm16k, vad_options(req.chunking)))
    speech.push_back({s.start_ms, s.end_ms});
  std::vector<Window> windows;
  if (!speech.empty() && req.chunking.mode == ChunkingOptions::Mode::kNone && total_ms <= 30000)
    windows.push_back(
        {{0, total_ms}, speech});  // a short clip goes to the model whole, as llama.cpp sends it
  else
    windows = plan_windows(speech, total_ms, {});

  // Streaming: live token deltas, with a space between windows. Translations stream per window, since the
  // model's answer carries an "English:" marker that is only removed once the window is complete.
  const bool live = callbacks.on_delta && !req.translate;
  bool streamed_any = false, window_started = false;
  Callbacks inner;
  inner.cancelled = callbacks.cancelled;
  if (live)
    inner.on_delta = [&](std::string_view delta, std::span<const TokenLogprob> lp) {
      std::string d(delta);
      if (!window_started && streamed_any) d = " " + d;
      window_started = streamed_any = true;
      callbacks.on_delta(d, lp);
    };

  // Progress: the pause before a window (which needs no decoding) is reported as done before the window is
  // decoded, the window once it is, and the pause after the last window at the end.
  int64_t done_ms = 0;
  const auto progress = [&](int64_t ms) {
    if (!callbacks.on_progress || ms <= done_ms || ms >= total_ms) return;  // the end is reported once, below
    done_ms = ms;
    callbacks.on_progress(static_cast<double>(ms) / 1000.0, r.duration);
  };

  std::string context = req.prompt;
  for (const Window& w : windows) {
    if (callbacks.cancelled && callbacks.cancelled()) throw Error(Errc::kCancelled, "request cancelled");
    progress(w.audio.start_ms);
    ++r.windows;
    const size_t s0 = static_cast<size_t>(w.audio.start_ms * audio::kMelSampleRate / 1000);
    const size_t s1 =
        std::min(req.pcm16k.size(), static_cast<size_t>(w.audio.end_ms * audio::kMelSampleRate / 1000));
    const std::span<const float> pcm(req.pcm16k.data() + s0, s1 - s0);
    const std::vector<std::vector<std::vector<float>>> audio = {encode_audio(pcm)};
    text::AudioInput in;
    for (const auto& rows : audio[0])
      in.chunk_rows.push_back(
          static_cast<int32_t>(rows.size() / static_cast<size_t>(text_->hparams().n_embd)));
    text::TranscriptionOptions po;
    po.language = req.language;
    po.context = context;
    po.translate = req.translate;
    const text::Prompt prompt = text::transcription_prompt(*tokenizer_, in, po);
    const int64_t max_tokens =
        opt_.max_tokens_base + opt_.max_tokens_per_second * (w.audio.length_ms() + 999) / 1000;

    // Whisper's fallback: if the text loops, decode again hotter. Only when nothing was streamed yet.
    SamplingParams sp;
    sp.temperature = req.temperature;
    sp.seed = 0x5eed + static_cast<uint64_t>(w.audio.start_ms);
    window_started = false;
    Generation g;
    for (;;) {
      g = generate(prompt, audio, sp, max_tokens, inner, req.want_logprobs);
      const bool bad = g.stopped_by_loop || compression_ratio(g.text) > kMaxCompressionRatio;
      if (!bad || live || sp.temperature >= 1.0f) break;
      sp.temperature = std::min(1.0f, sp.temperature + 0.2f);
    }
    std::string text = req.translate ? text::extract_translation(g.text) : g.text;
    r.usage.input_audio_tokens += in.chunk_rows.empty() ? 0 : [&] {
      int64_t n = 0;
      for (int32_t c : in.chunk_rows) n += c;
      return n;
    }();
    r.usage.input_text_tokens += g.n_prompt;
    r.usage.output_tokens += static_cast<int64_t>(g.tokens.size());
    if (req.want_logprobs)
      for (size_t i = 0; i < g.tokens.size(); ++i) {
        const std::string& piece = tokenizer_->token_to_piece(g.tokens[i]);
        r.logprobs.push_back({piece, g.logprobs[i], std::vector<uint8_t>(piece.begin(), piece.end())});
      }
    if (text.empty()) {
      progress(w.audio.end_ms);
      continue;
    }
    if (callbacks.on_delta && !live) callbacks.on_delta((r.text.empty() ? "" : " ") + text, {});
    Segment seg;
    seg.id = static_cast<int>(r.segments.size());
    seg.seek = w.audio.start_ms / 10;
    seg.start = static_cast<double>(w.speech.front().start_ms) / 1000.0;
    seg.end = static_cast<double>(w.speech.back().end_ms) / 1000.0;
    seg.text = text;
    seg.tokens = g.tokens;
    seg.temperature = sp.temperature;
    double sum = 0;
    for (float lp : g.logprobs) sum += lp;
    seg.avg_logprob =
        g.logprobs.empty() ? 0.0f : static_cast<float>(sum / static_cast<double>(g.logprobs.size()));
    seg.compression_ratio = static_cast<float>(compression_ratio(text));
    seg.no_speech_prob = g.first_eog_prob;
    r.text += (r.text.empty() ? "" : " ") + text;
    r.segments.push_back(std::move(seg));
    context = tail_utf8(text, kContextBytes);
    progress(w.audio.end_ms);
  }
  if (callbacks.on_progress) callbacks.on_progress(r.duration, r.duration);
  r.usage.input_text_tokens -= r.usage.input_audio_tokens;
  return r;
}

ChatResult Gemma4Engine::chat(const ChatRequest& req, const Callbacks& callbacks) {
  std::vector<text::ChatMessage> msgs;
  std::vector<std::vector<std::vector<float>>> audio;
  int64_t audio_tokens = 0;
  for (const auto& m : req.messages) {
    text::ChatMessage tm;
    tm.role = m.role;
    for (const auto& p : m.parts) {
      text::ChatPart tp;
      if (p.kind == ChatPart::Kind::kText) {
        tp.text = p.text;
      } else {
        if (p.pcm16k.empty()) throw Error(Errc::kAudioEmpty, "an input_audio part has no samples");
        tp.kind = text::ChatPart::Kind::kAudio;
        audio.push_back(encode_audio(p.pcm16k));
        for (const auto& rows : audio.back()) {
          const int32_t n = static_cast<int32_t>(rows.size() / static_cast<size_t>(text_->hparams().n_embd));
          tp.audio.chunk_rows.push_back(n);
          audio_tokens += n;
        }
      }
      tm.parts.push_back(std::move(tp));
    }
    msgs.push_back(std::move(tm));
  }
  const text::Prompt prompt = text::chat_prompt(*tokenizer_, msgs, {});
  SamplingParams sp;
  sp.temperature = req.temperature;
  sp.seed = 0xc4a7;
  const int64_t max_tokens = req.max_tokens > 0 ? req.max_tokens : opt_.n_ctx;
  const Generation g = generate(prompt, audio, sp, max_tokens, callbacks, false);
  ChatResult r;
  r.text = g.text;
  r.finish_reason = g.stopped_by_limit ? "length" : "stop";
  r.usage.input_audio_tokens = audio_tokens;
  r.usage.input_text_tokens = g.n_prompt - audio_tokens;
  r.usage.output_tokens = static_cast<int64_t>(g.tokens.size());
  return r;
}

}  // namespace hark::runtime
