#include "audio/vad.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "audio/fft.h"
#include "core/error.h"

namespace hark::audio {
namespace {

constexpr int kRate = 16000;
constexpr int kWindow = 320;  // 20 ms frames
constexpr int kHop = 160;     // every 10 ms
constexpr int kFrameMs = 10;
constexpr int kFft = 512;
constexpr double kBandLoHz = 100.0, kBandHiHz = 4000.0;  // where voiced speech carries its energy
constexpr double kFloorPercentile = 0.10;

void validate(const VadOptions& o) {
  const auto bad = [](const std::string& what) { throw Error(Errc::kInvalidArgument, "VAD option " + what); };
  if (!std::isfinite(o.threshold_db) || o.threshold_db < 0) bad("threshold_db must be a finite value >= 0");
  if (!std::isfinite(o.floor_dbfs)) bad("floor_dbfs must be finite");
  if (o.min_speech_ms < 0) bad("min_speech_ms must be >= 0");
  if (o.min_silence_ms < 0) bad("min_silence_ms must be >= 0");
  if (o.padding_ms < 0) bad("padding_ms must be >= 0");
}

// Level of each frame in dBFS, counting only the 100-4000 Hz band: mean square of the band-limited
// windowed frame (Parseval), so a full-scale sine in the band reads about -3 dBFS and hum or hiss
// outside it does not count.
std::vector<float> band_levels(std::span<const float> pcm) {
  const int n_frames = static_cast<int>((pcm.size() - kWindow) / kHop + 1);
  std::vector<float> window(kWindow);  // [kWindow] periodic Hann
  double window_power = 0;
  for (int i = 0; i < kWindow; ++i) {
    window[i] = static_cast<float>(0.5 - 0.5 * std::cos(2 * std::numbers::pi * i / kWindow));
    window_power += static_cast<double>(window[i]) * window[i];
  }
  const int lo = static_cast<int>(std::ceil(kBandLoHz * kFft / kRate));
  const int hi = static_cast<int>(std::floor(kBandHiHz * kFft / kRate));
  // Two-sided spectrum (x2), Parseval (1/kFft), window energy (1/sum w^2).
  const double scale = 2.0 / (static_cast<double>(kFft) * window_power);
  const RealFft fft(kFft);
  std::vector<float> frame(kFft, 0.0f), re(kFft), im(kFft);  // [kFft]
  std::vector<float> levels(n_frames);                       // [n_frames] dBFS
  for (int f = 0; f < n_frames; ++f) {
    const float* x = pcm.data() + static_cast<size_t>(f) * kHop;
    for (int j = 0; j < kWindow; ++j) frame[j] = window[j] * x[j];
    fft.forward(frame.data(), re.data(), im.data());
    double power = 0;
    for (int k = lo; k <= hi; ++k)
      power += static_cast<double>(re[k]) * re[k] + static_cast<double>(im[k]) * im[k];
    const double db = 10.0 * std::log10(power * scale + 1e-12);  // 1e-12: digital zero reads -120
    // NaN or infinite samples (a float WAV can carry them) count as silence and keep the sort well-defined.
    levels[f] = std::isfinite(db) ? static_cast<float>(db) : -120.0f;
  }
  return levels;
}

}  // namespace

std::vector<SpeechRegion> detect_speech(std::span<const float> pcm16k, const VadOptions& opt) {
  validate(opt);
  if (pcm16k.size() < static_cast<size_t>(kWindow)) return {};
  const std::vector<float> levels = band_levels(pcm16k);  // [n_frames]
  const int n_frames = static_cast<int>(levels.size());

  // Noise floor: the level most quiet frames sit at. A low percentile rather than the minimum, so a few
  // dropouts to digital silence do not drag it down; raised to floor_dbfs so faint hiss is never speech.
  std::vector<float> sorted = levels;
  const auto nth = sorted.begin() + static_cast<std::ptrdiff_t>(kFloorPercentile * (n_frames - 1));
  std::nth_element(sorted.begin(), nth, sorted.end());
  const float threshold = std::max(*nth, opt.floor_dbfs) + opt.threshold_db;

  // Runs of speech frames, in frame indices [first, last].
  struct Run {
    int first, last;
  };
  std::vector<Run> runs;
  for (int f = 0; f < n_frames; ++f) {
    if (levels[f] <= threshold) continue;
    if (!runs.empty() && runs.back().last == f - 1)
      runs.back().last = f;
    else
      runs.push_back({f, f});
  }
  // Frame f spans [f*10, f*10 + 20) ms.
  const auto start_ms = [](int f) { return static_cast<int64_t>(f) * kFrameMs; };
  const auto end_ms = [](int f) { return static_cast<int64_t>(f) * kFrameMs + kWindow * 1000 / kRate; };

  // Bridge pauses shorter than min_silence_ms, then drop what is still shorter than min_speech_ms.
  std::vector<SpeechRegion> merged;
  for (const Run& r : runs) {
    if (!merged.empty() && start_ms(r.first) - merged.back().end_ms < opt.min_silence_ms)
      merged.back().end_ms = end_ms(r.last);
    else
      merged.push_back({start_ms(r.first), end_ms(r.last)});
  }
  const int64_t duration_ms = static_cast<int64_t>(pcm16k.size()) * 1000 / kRate;
  std::vector<SpeechRegion> out;
  for (const SpeechRegion& r : merged) {
    if (r.end_ms - r.start_ms < opt.min_speech_ms) continue;
    SpeechRegion p{std::max<int64_t>(0, r.start_ms - opt.padding_ms),
                   std::min<int64_t>(duration_ms, r.end_ms + opt.padding_ms)};
    if (!out.empty() && p.start_ms <= out.back().end_ms)
      out.back().end_ms = std::max(out.back().end_ms, p.end_ms);
    else
      out.push_back(p);
  }
  return out;
}

}  // namespace hark::audio
