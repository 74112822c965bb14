#include "audio/decode.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "audio/resampler.h"
#include "audio/wav_repair.h"
#include "core/error.h"
#include "core/mmap.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
}

namespace hark::audio {
namespace {

using Clock = std::chrono::steady_clock;

// Demuxers hark opens. Anything else FFmpeg can recognise (images, playlists that open other URLs,
// video-only formats) is refused before its demuxer runs: it shrinks what hostile bytes can reach.
// Entries match any of the comma-separated names of a demuxer ("matroska" covers "matroska,webm").
constexpr std::string_view kDemuxers[] = {
    "wav",   "w64", "mp3",  "ogg", "flac", "matroska", "mov", "aac", "aiff",  "caf",        "amr",  "amrnb",
    "amrwb", "ac3", "eac3", "wv",  "ape",  "tta",      "au",  "voc", "asf",   "avi",        "mpeg", "mpegts",
    "flv",   "mpc", "mpc8", "dts", "loas", "xwma",     "dsf", "sox", "ircam", "nistsphere", "gsm"};

// How much of the input the container probe and the stream analysis may read.
constexpr int kProbeBytes = 1 << 20;
constexpr int64_t kAnalyzeMicros = 5'000'000;
constexpr int kIoBufferBytes = 1 << 15;

// The last FFmpeg error or warning logged on this thread, quoted in our error messages. FFmpeg logs from
// the thread that calls it (decoders here run single-threaded), so a thread_local keeps concurrent
// decodes apart. Nothing reaches stderr.
thread_local std::string t_last_log;

void log_callback(void*, int level, const char* format, va_list args) {
  if (level > AV_LOG_WARNING) return;
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  std::string_view s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  if (s.empty()) return;
  // Messages can quote bytes from the input (tags, names); keep them printable ASCII so that they are
  // safe in JSON error objects and terminals.
  t_last_log.assign(s);
  for (char& c : t_last_log) {
    if (c < 0x20 || c > 0x7E) c = '?';
  }
}

void init_ffmpeg() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(log_callback); });
}

std::string av_error_text(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

// FFmpeg's last message on this thread, which names the problem better than the error code does.
std::string ffmpeg_reason(int code) {
  return t_last_log.empty() ? av_error_text(code) : t_last_log;
}

struct Deadline {
  Clock::time_point at;
  bool expired() const { return Clock::now() >= at; }
};

// The input as FFmpeg sees it: a seekable read-only stream over caller memory, optionally preceded by a
// replacement header (see wav_repair.h). Both parts are views; nothing is copied.
struct MemoryInput {
  std::span<const uint8_t> head;
  std::span<const uint8_t> body;
  size_t pos = 0;
  const Deadline* deadline = nullptr;

  size_t size() const { return head.size() + body.size(); }
};

int read_packet(void* opaque, uint8_t* buf, int size) {
  auto* in = static_cast<MemoryInput*>(opaque);
  // Every demuxer reads through here, so a demuxer looping over crafted data stops at the deadline.
  if (in->deadline->expired()) return AVERROR_EXIT;
  if (in->pos >= in->size()) return AVERROR_EOF;
  size_t done = 0;
  const auto want = static_cast<size_t>(size);
  if (in->pos < in->head.size()) {
    const size_t n = std::min(want, in->head.size() - in->pos);
    std::memcpy(buf, in->head.data() + in->pos, n);
    done = n;
  }
  const size_t at = in->pos + done - in->head.size();  // offset in body once the head is used up
  if (done < want && at < in->body.size()) {
    const size_t n = std::min(want - done, in->body.size() - at);
    std::memcpy(buf + done, in->body.data() + at, n);
    done += n;
  }
  in->pos += done;
  return static_cast<int>(done);
}

int64_t seek(void* opaque, int64_t offset, int whence) {
  auto* in = static_cast<MemoryInput*>(opaque);
  const auto size = static_cast<int64_t>(in->size());
  int64_t target;
  switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
      return size;
    case SEEK_SET:
      target = offset;
      break;
    case SEEK_CUR:
      target = static_cast<int64_t>(in->pos) + offset;
      break;
    case SEEK_END:
      target = size + offset;
      break;
    default:
      return AVERROR(EINVAL);
  }
  if (target < 0) return AVERROR(EINVAL);
  in->pos = static_cast<size_t>(std::min(target, size));
  return target;
}

int interrupt(void* opaque) {
  return static_cast<const Deadline*>(opaque)->expired() ? 1 : 0;
}

// Nested opens (playlists, external references) would reach the file system or network: refuse all.
int refuse_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) {
  return AVERROR(EPERM);
}

struct IoDeleter {
  void operator()(AVIOContext* io) const {
    av_freep(&io->buffer);
    avio_context_free(&io);
  }
};
struct FormatDeleter {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
struct CodecDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};

bool demuxer_allowed(const char* names) {
  std::string_view all(names);
  while (!all.empty()) {
    const size_t comma = all.find(',');
    const std::string_view name = all.substr(0, comma);
    for (auto allowed : kDemuxers) {
      if (name == allowed) return true;
    }
    if (comma == std::string_view::npos) break;
    all.remove_prefix(comma + 1);
  }
  return false;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

// Ogg headers carry no total length (FFmpeg takes it from the last page present), so a cut Ogg file is
// recognised by its last page: complete and flagged end-of-stream, or not.
bool ogg_ends_cleanly(std::span<const uint8_t> b) {
  constexpr size_t kMaxPage = 27 + 255 + 255 * 255;
  const size_t from = b.size() > kMaxPage + 4 ? b.size() - kMaxPage - 4 : 0;
  const std::string_view tail(reinterpret_cast<const char*>(b.data()) + from, b.size() - from);
  const size_t at = tail.rfind("OggS");
  if (at == std::string_view::npos) return false;
  const size_t p = from + at;
  if (p + 27 > b.size()) return false;
  const size_t n_segments = b[p + 26];
  if (p + 27 + n_segments > b.size()) return false;
  size_t body = 0;
  for (size_t i = 0; i < n_segments; ++i) body += b[p + 27 + i];
  if (p + 27 + n_segments + body > b.size()) return false;
  return (b[p + 5] & 0x04) != 0;  // header_type flag "last page of logical bitstream"
}

void append_warning(Decoded& d, const std::string& w) {
  if (!d.warning.empty()) d.warning += "; ";
  d.warning += w;
}

// One decode: owns every FFmpeg object and the state of the packet loop.
class Decoder {
 public:
  Decoder(std::span<const uint8_t> bytes, const DecodeLimits& limits)
      : limits_(limits),
        deadline_{Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(limits.timeout_seconds))},
        input_{{}, bytes, 0, &deadline_},
        max_samples_(static_cast<size_t>(limits.max_seconds * kSampleRate)) {}

  Decoded run();

 private:
  void open();
  void open_codec();
  void decode_loop();
  void send(const AVPacket* pkt);
  void check_limits() const;
  [[noreturn]] void fail_timeout() const;
  void finish();

  const DecodeLimits& limits_;
  Deadline deadline_;
  MemoryInput input_;
  size_t max_samples_;
  int probe_score_ = 0;

  std::optional<detail::WavRepair> wav_;
  std::unique_ptr<AVIOContext, IoDeleter> io_;
  std::unique_ptr<AVFormatContext, FormatDeleter> fmt_;
  std::unique_ptr<AVCodecContext, CodecDeleter> codec_;
  std::unique_ptr<AVFrame, FrameDeleter> frame_{av_frame_alloc()};
  AVStream* stream_ = nullptr;
  detail::Resampler resampler_;
  Decoded out_;

  int64_t packets_ = 0;           // audio packets read
  int64_t bad_packets_ = 0;       // of those, rejected by the decoder
  bool last_packet_bad_ = false;  // the final packet read was rejected or cut short
  std::string first_decode_error_;
  std::string read_error_;  // why the demuxer stopped before the end, if it did
};

[[noreturn]] void Decoder::fail_timeout() const {
  throw Error(Errc::kAudioCorrupt, "gave up after " + seconds_text(limits_.timeout_seconds) +
                                       ": the input keeps the decoder busy without finishing");
}

void Decoder::check_limits() const {
  if (out_.samples.size() > max_samples_) {
    throw Error(Errc::kAudioTooLong,
                "the audio is longer than the limit of " + seconds_text(limits_.max_seconds));
  }
  if (deadline_.expired()) fail_timeout();
}

void Decoder::open() {
  wav_ = detail::repair_wav(input_.body);
  if (wav_) {
    input_.head = wav_->header;
    input_.body = wav_->data;
  }
  auto* buffer = static_cast<uint8_t*>(av_malloc(kIoBufferBytes));
  if (!buffer) throw Error(Errc::kInternal, "out of memory");
  io_.reset(avio_alloc_context(buffer, kIoBufferBytes, 0, &input_, read_packet, nullptr, seek));
  if (!io_) {
    av_free(buffer);
    throw Error(Errc::kInternal, "out of memory");
  }

  // Probe the content ourselves (no file name is ever consulted) so that a refusal can say what the
  // bytes looked like.
  const AVInputFormat* format = nullptr;
  probe_score_ = av_probe_input_buffer2(io_.get(), &format, "", nullptr, 0, kProbeBytes);
  if (deadline_.expired()) fail_timeout();
  if (probe_score_ < 0 || !format) {
    throw Error(Errc::kAudioNotAudio, "the data is not in any audio format hark recognises");
  }
  if (!demuxer_allowed(format->name)) {
    throw Error(Errc::kAudioNotAudio, "the data looks like '" + std::string(format->name) +
                                          "', which is not an audio format hark accepts");
  }

  AVFormatContext* fmt = avformat_alloc_context();
  if (!fmt) throw Error(Errc::kInternal, "out of memory");
  fmt->pb = io_.get();
  fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
  fmt->interrupt_callback = {interrupt, &deadline_};
  fmt->io_open = refuse_open;
  fmt->probesize = kProbeBytes;
  fmt->max_analyze_duration = kAnalyzeMicros;
  const int r = avformat_open_input(&fmt, nullptr, format, nullptr);  // frees fmt on failure
  if (r < 0) {
    if (deadline_.expired()) fail_timeout();
    // A weak content match whose demuxer then rejects the data was never audio.
    if (probe_score_ < AVPROBE_SCORE_EXTENSION) {
      throw Error(Errc::kAudioNotAudio, "the data is not in any audio format hark recognises");
    }
    throw Error(Errc::kAudioCorrupt,
                "cannot read the " + std::string(format->name) + " container: " + ffmpeg_reason(r));
  }
  fmt_.reset(fmt);
  out_.container = format->name;

  // Fills in stream parameters that only decoding a few packets reveals (raw AAC, MPEG-TS). Its failure
  // is not fatal: the streams found so far may still decode.
  avformat_find_stream_info(fmt, nullptr);
  if (deadline_.expired()) fail_timeout();
}

void Decoder::open_codec() {
  const AVCodec* codec = nullptr;
  const int index = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
  if (index == AVERROR_STREAM_NOT_FOUND) {
    throw Error(Errc::kAudioNoStream, "the " + out_.container + " file contains no audio stream");
  }
  if (index < 0 || !codec) {
    int first_audio = -1;
    for (unsigned i = 0; i < fmt_->nb_streams && first_audio < 0; ++i) {
      if (fmt_->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) first_audio = static_cast<int>(i);
    }
    const AVCodecID id = first_audio >= 0 ? fmt_->streams[first_audio]->codecpar->codec_id : AV_CODEC_ID_NONE;
    throw Error(Errc::kAudioUnsupportedCodec,
                id == AV_CODEC_ID_NONE
                    ? "the audio stream's codec is unknown"
                    : "the audio codec '" + std::string(avcodec_get_name(id)) + "' is not supported");
  }
  stream_ = fmt_->streams[index];
  for (unsigned i = 0; i < fmt_->nb_streams; ++i) {
    if (static_cast<int>(i) != index) fmt_->streams[i]->discard = AVDISCARD_ALL;
  }
  const AVCodecParameters* par = stream_->codecpar;
  out_.codec = avcodec_get_name(par->codec_id);
  out_.source_sample_rate = par->sample_rate;
  out_.source_channels = par->ch_layout.nb_channels;
  if (par->ch_layout.nb_channels <= 0) {
    throw Error(Errc::kAudioZeroChannels, "the " + out_.container + " audio stream declares 0 channels");
  }

  codec_.reset(avcodec_alloc_context3(codec));
  if (!codec_) throw Error(Errc::kInternal, "out of memory");
  int r = avcodec_parameters_to_context(codec_.get(), par);
  if (r < 0) throw Error(Errc::kAudioCorrupt, "bad audio stream parameters: " + ffmpeg_reason(r));
  codec_->pkt_timebase = stream_->time_base;
  // One thread: the log capture is per thread, and the server already decodes requests in parallel.
  codec_->thread_count = 1;
  r = avcodec_open2(codec_.get(), codec, nullptr);
  if (r < 0) {
    throw Error(Errc::kAudioCorrupt, "cannot start the " + out_.codec + " decoder: " + ffmpeg_reason(r));
  }
}

// Feeds one packet (nullptr: end of stream) and drains every frame it yields.
void Decoder::send(const AVPacket* pkt) {
  t_last_log.clear();
  int r = avcodec_send_packet(codec_.get(), pkt);
  if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_EOF) {
    // Decoders resynchronise after a bad packet; count it and go on.
    ++bad_packets_;
    last_packet_bad_ = true;
    if (first_decode_error_.empty()) first_decode_error_ = ffmpeg_reason(r);
    return;
  }
  while (true) {
    r = avcodec_receive_frame(codec_.get(), frame_.get());
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
    if (r < 0) {
      ++bad_packets_;
      last_packet_bad_ = true;
      if (first_decode_error_.empty()) first_decode_error_ = ffmpeg_reason(r);
      break;
    }
    if (out_.source_sample_rate <= 0) out_.source_sample_rate = frame_->sample_rate;
    resampler_.push(frame_->extended_data, frame_->nb_samples, static_cast<AVSampleFormat>(frame_->format),
                    frame_->sample_rate, frame_->ch_layout, out_.samples);
    av_frame_unref(frame_.get());
    check_limits();
  }
}

void Decoder::decode_loop() {
  std::unique_ptr<AVPacket, PacketDeleter> pkt(av_packet_alloc());
  if (!pkt) throw Error(Errc::kInternal, "out of memory");
  while (true) {
    if (deadline_.expired()) fail_timeout();
    t_last_log.clear();
    const int r = av_read_frame(fmt_.get(), pkt.get());
    if (r == AVERROR_EOF) break;
    if (r < 0) {
      if (r == AVERROR_EXIT || deadline_.expired()) fail_timeout();
      read_error_ = ffmpeg_reason(r);
      break;
    }
    if (pkt->stream_index == stream_->index) {
      ++packets_;
      last_packet_bad_ = (pkt->flags & AV_PKT_FLAG_CORRUPT) != 0;
      send(pkt.get());
    }
    av_packet_unref(pkt.get());
  }
  send(nullptr);
  resampler_.flush(out_.samples);
  check_limits();
}

void Decoder::finish() {
  out_.duration_seconds = static_cast<double>(out_.samples.size()) / kSampleRate;
  // Float formats can carry NaN or infinity, which would poison every later stage.
  size_t non_finite = 0;
  for (float& v : out_.samples) {
    if (!std::isfinite(v)) {
      v = 0.0f;
      ++non_finite;
    }
  }
  if (out_.samples.empty()) {
    if (packets_ == 0 && read_error_.empty()) {
      throw Error(Errc::kAudioEmpty, "the " + out_.container + " file holds no audio samples");
    }
    // A weak content match that yields nothing decodable was never audio.
    if (probe_score_ < AVPROBE_SCORE_EXTENSION) {
      throw Error(Errc::kAudioNotAudio, "the data is not in any audio format hark recognises");
    }
    const std::string why = !first_decode_error_.empty() ? first_decode_error_ : read_error_;
    throw Error(Errc::kAudioCorrupt, "no audio could be decoded from the " + out_.container + " file" +
                                         (why.empty() ? std::string() : ": " + why));
  }

  // The header's own duration (never an estimate from the bit rate) tells whether the data stops early.
  double announced = 0;
  if (stream_->duration != AV_NOPTS_VALUE && stream_->duration > 0) {
    announced = static_cast<double>(stream_->duration) * av_q2d(stream_->time_base);
  } else if (fmt_->duration != AV_NOPTS_VALUE && fmt_->duration > 0 &&
             fmt_->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE) {
    announced = static_cast<double>(fmt_->duration) / AV_TIME_BASE;
  }
  // Codec delay and padding make headers and decoders disagree by a frame or two; real cuts are larger.
  const double slack = 0.1 + 0.01 * announced;
  if (wav_ && !wav_->warning.empty()) {
    out_.truncated = wav_->truncated;
    append_warning(out_, wav_->warning);
  } else if (announced > out_.duration_seconds + slack) {
    out_.truncated = true;
    append_warning(out_, "decoded " + seconds_text(out_.duration_seconds) + " but the header announces " +
                             seconds_text(announced) + " (the input is cut short or damaged)");
  }
  if (out_.container == "ogg" && !out_.truncated && !ogg_ends_cleanly(input_.body)) {
    out_.truncated = true;
    append_warning(out_, "the Ogg stream stops after " + seconds_text(out_.duration_seconds) +
                             " without its end-of-stream page");
  }
  if (!read_error_.empty()) {
    out_.truncated = true;
    append_warning(out_, "the input is damaged after " + seconds_text(out_.duration_seconds) + " (" +
                             read_error_ + "); the rest was dropped");
  } else if (last_packet_bad_ && !out_.truncated) {
    out_.truncated = true;
    append_warning(out_, "the input ends mid-frame after " + seconds_text(out_.duration_seconds));
  }
  if (non_finite > 0) {
    append_warning(out_, std::to_string(non_finite) + " non-finite sample(s) replaced by silence");
  }
  if (bad_packets_ > (last_packet_bad_ ? 1 : 0)) {
    append_warning(out_,
                   std::to_string(bad_packets_) + " damaged packet(s) skipped (" + first_decode_error_ + ")");
  }
}

Decoded Decoder::run() {
  t_last_log.clear();  // a message left by an earlier decode on this thread is not about this input
  open();
  open_codec();
  decode_loop();
  finish();
  return std::move(out_);
}

// The limits come from our caller (server configuration), not from the input.
void check_limits_valid(const DecodeLimits& limits) {
  // Bounded so that the conversions to sample counts and clock durations cannot overflow.
  constexpr double kMaxSeconds = 1e7;
  auto ok = [](double v) { return v >= 0 && v <= kMaxSeconds; };  // false for NaN
  if (!ok(limits.max_seconds) || !ok(limits.timeout_seconds)) {
    throw Error(Errc::kInvalidArgument, "audio limits out of range: max_seconds " +
                                            std::to_string(limits.max_seconds) + ", timeout_seconds " +
                                            std::to_string(limits.timeout_seconds) + " (0..1e7)");
  }
}

void check_size(size_t size, const DecodeLimits& limits) {
  check_limits_valid(limits);
  if (size == 0) throw Error(Errc::kAudioEmpty, "the audio is empty (0 bytes)");
  if (size > limits.max_bytes) {
    throw Error(Errc::kAudioTooLarge, "the audio is " + std::to_string(size) + " bytes; the limit is " +
                                          std::to_string(limits.max_bytes) + " bytes");
  }
}

}  // namespace

Decoded decode_memory(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  check_size(bytes.size(), limits);
  init_ffmpeg();
  Decoder decoder(bytes, limits);
  return decoder.run();
}

Decoded decode_file(const std::string& path, const DecodeLimits& limits) {
  const MappedFile file(path);
  check_size(file.size(), limits);
  return decode_memory(file.bytes(), limits);
}

Decoded decode_raw_s16le(std::span<const uint8_t> bytes, int sample_rate, int channels,
                         const DecodeLimits& limits) {
  static_assert(std::endian::native == std::endian::little, "raw PCM is read in host byte order");
  if (sample_rate < detail::kMinSourceRate || sample_rate > detail::kMaxSourceRate) {
    throw Error(Errc::kInvalidArgument, "raw audio sample rate " + std::to_string(sample_rate) +
                                            " Hz is outside " + std::to_string(detail::kMinSourceRate) +
                                            ".." + std::to_string(detail::kMaxSourceRate) + " Hz");
  }
  if (channels < 1 || channels > detail::kMaxChannels) {
    throw Error(Errc::kInvalidArgument, "raw audio channel count " + std::to_string(channels) +
                                            " is outside 1.." + std::to_string(detail::kMaxChannels));
  }
  check_size(bytes.size(), limits);
  const size_t frame_bytes = 2 * static_cast<size_t>(channels);
  const size_t n_frames = bytes.size() / frame_bytes;
  if (n_frames == 0) throw Error(Errc::kAudioEmpty, "the raw audio is shorter than one sample");
  // The length is known exactly up front, so an over-long input costs no decoding at all.
  if (static_cast<double>(n_frames) / sample_rate > limits.max_seconds) {
    throw Error(Errc::kAudioTooLong,
                "the audio is longer than the limit of " + seconds_text(limits.max_seconds));
  }

  init_ffmpeg();
  Decoded out;
  out.container = "raw";
  out.codec = "pcm_s16le";
  out.source_sample_rate = sample_rate;
  out.source_channels = channels;
  AVChannelLayout layout{};
  av_channel_layout_default(&layout, channels);
  detail::Resampler resampler;
  // Converted in chunks through an aligned copy: the caller's bytes may sit at any address.
  constexpr size_t kChunkFrames = 1 << 14;
  std::vector<int16_t> chunk;  // [kChunkFrames][channels] interleaved
  try {
    for (size_t f = 0; f < n_frames; f += kChunkFrames) {
      const size_t n = std::min(kChunkFrames, n_frames - f);
      chunk.resize(n * static_cast<size_t>(channels));
      std::memcpy(chunk.data(), bytes.data() + f * frame_bytes, n * frame_bytes);
      const auto* plane = reinterpret_cast<const uint8_t*>(chunk.data());
      resampler.push(&plane, static_cast<int>(n), AV_SAMPLE_FMT_S16, sample_rate, layout, out.samples);
    }
    resampler.flush(out.samples);
  } catch (...) {
    av_channel_layout_uninit(&layout);
    throw;
  }
  av_channel_layout_uninit(&layout);
  if (bytes.size() % frame_bytes != 0) {
    out.warning = "the raw audio ends with a partial sample frame (" +
                  std::to_string(bytes.size() % frame_bytes) + " bytes), which was dropped";
  }
  out.duration_seconds = static_cast<double>(out.samples.size()) / kSampleRate;
  return out;
}

}  // namespace hark::audio
