#include "audio/mel.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "audio/fft.h"
#include "core/error.h"

namespace hark::audio {
namespace {

constexpr int kWindow = 320;  // 20 ms
constexpr int kHop = 160;     // 10 ms
constexpr int kFft = 512;
constexpr int kBins = kFft / 2 + 1;  // 257
constexpr int kPadLeft = kWindow / 2;
constexpr float kMelFloor = 0.001f;

// One mel filter as the contiguous run of FFT bins where its triangle is non-zero.
struct MelFilter {
  int lo = 0;                  // first bin with a non-zero weight
  std::vector<float> weights;  // [hi - lo + 1]
};

struct Tables {
  RealFft fft{kFft};
  std::vector<float> window;       // [kWindow] periodic Hann
  std::vector<MelFilter> filters;  // [kMelBins]
};

// llama.cpp builds the filterbank in double from HTK mel points spaced evenly between 0 and 8000 Hz and
// stores the weights as float; this keeps every step.
std::vector<MelFilter> make_filters() {
  const auto hz_to_mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
  const auto mel_to_hz = [](double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); };
  const double mel_lo = hz_to_mel(0.0);
  const double mel_hi = hz_to_mel(kMelSampleRate / 2.0);
  std::vector<double> hz(kMelBins + 2);  // [kMelBins + 2] filter edges
  for (int i = 0; i < kMelBins + 2; ++i)
    hz[i] = mel_to_hz(mel_lo + (mel_hi - mel_lo) * (static_cast<double>(i) / (kMelBins + 1)));
  const double bin_hz = static_cast<double>(kMelSampleRate) / kFft;
  std::vector<MelFilter> filters(kMelBins);
  for (int m = 0; m < kMelBins; ++m) {
    const double left = hz[m], center = hz[m + 1], right = hz[m + 2];
    const double denom_l = std::max(1e-30, center - left);
    const double denom_r = std::max(1e-30, right - center);
    std::vector<float> w(kBins);  // [kBins]
    for (int k = 0; k < kBins; ++k) {
      const double f = k * bin_hz;
      double v = 0.0;
      if (f >= left && f <= center)
        v = (f - left) / denom_l;
      else if (f > center && f <= right)
        v = (right - f) / denom_r;
      w[k] = static_cast<float>(v);
    }
    int lo = 0, hi = kBins - 1;
    while (lo < kBins && w[lo] == 0.0f) ++lo;
    while (hi >= lo && w[hi] == 0.0f) --hi;
    if (lo > hi) continue;  // an empty filter (cannot happen for 128 bins at 512 points) sums to 0
    filters[m].lo = lo;
    filters[m].weights.assign(w.begin() + lo, w.begin() + hi + 1);
  }
  return filters;
}

const Tables& tables() {
  static const Tables t = [] {
    Tables r;
    r.window.resize(kWindow);
    for (int i = 0; i < kWindow; ++i)
      r.window[i] = 0.5f - 0.5f * std::cos((2.0f * std::numbers::pi_v<float> * static_cast<float>(i)) /
                                           static_cast<float>(kWindow));
    r.filters = make_filters();
    return r;
  }();
  return t;
}

// Mel energy of one filter over the magnitudes, summed as llama.cpp does: float partial sums over aligned
// groups of four bins, accumulated in double. Zero weights add exact zeros there, so skipping them keeps
// the result bit for bit.
double filter_energy(const MelFilter& f, const float* mag) {
  const int lo = f.lo;
  const int hi = lo + static_cast<int>(f.weights.size()) - 1;
  const int last_group_end = kBins - 1;  // bins [0, 256) go in groups of 4, bin 256 alone
  double sum = 0.0;
  for (int g = lo / 4 * 4; g <= std::min(hi, last_group_end - 1); g += 4) {
    const int b = std::max(g, lo), e = std::min({g + 3, hi, last_group_end - 1});
    float s = mag[b] * f.weights[b - lo];
    for (int k = b + 1; k <= e; ++k) s = s + mag[k] * f.weights[k - lo];
    sum += s;
  }
  if (hi == last_group_end) sum += mag[last_group_end] * f.weights[last_group_end - lo];
  return sum;
}

// Frames [f0, f1) of one chunk. `chunk` holds the chunk's samples; frame i covers chunk samples
// [i*kHop - kPadLeft, i*kHop - kPadLeft + kWindow), zero outside the chunk.
void compute_frames(const Tables& t, std::span<const float> chunk, int f0, int f1, MelChunk& out) {
  std::vector<float> frame(kFft, 0.0f);   // [kFft] windowed samples, zero tail
  std::vector<float> re(kFft), im(kFft);  // [kFft] spectrum
  std::vector<float> mag(kBins);          // [kBins] |X|
  const int64_t n = static_cast<int64_t>(chunk.size());
  for (int i = f0; i < f1; ++i) {
    const int64_t start = static_cast<int64_t>(i) * kHop - kPadLeft;
    for (int j = 0; j < kWindow; ++j) {
      const int64_t s = start + j;
      frame[j] = (s >= 0 && s < n) ? t.window[j] * chunk[s] : 0.0f;
    }
    t.fft.forward(frame.data(), re.data(), im.data());
    for (int k = 0; k < kBins; ++k) mag[k] = std::sqrt(re[k] * re[k] + im[k] * im[k]);
    for (int m = 0; m < kMelBins; ++m) {
      const double e = std::max(filter_energy(t.filters[m], mag.data()), static_cast<double>(kMelFloor));
      out.data[static_cast<size_t>(m) * out.n_frames + i] = static_cast<float>(std::log(e));
    }
  }
}

}  // namespace

int gemma4_mel_frames(int64_t n_samples) {
  // C++ division truncates toward zero, as in llama.cpp; the result can only be 0 or more.
  const int64_t frames = (n_samples + kPadLeft - (kWindow + 1)) / kHop + 1;
  return static_cast<int>(std::max<int64_t>(frames, 0));
}

std::vector<MelChunk> gemma4_log_mel(std::span<const float> pcm16k, ThreadPool* pool) {
  const Tables& t = tables();
  std::vector<MelChunk> chunks;
  for (size_t off = 0; off < pcm16k.size(); off += kMelChunkSamples) {
    const auto chunk = pcm16k.subspan(off, std::min<size_t>(kMelChunkSamples, pcm16k.size() - off));
    MelChunk mc;
    mc.n_frames = gemma4_mel_frames(static_cast<int64_t>(chunk.size()));
    if (mc.n_frames == 0) continue;
    mc.data.resize(static_cast<size_t>(kMelBins) * mc.n_frames);
    if (pool && pool->size() > 1)
      pool->parallel_for(mc.n_frames, 64, [&](int64_t b, int64_t e) {
        compute_frames(t, chunk, static_cast<int>(b), static_cast<int>(e), mc);
      });
    else
      compute_frames(t, chunk, 0, mc.n_frames, mc);
    chunks.push_back(std::move(mc));
  }
  if (chunks.empty())
    throw Error(Errc::kAudioEmpty, "audio too short: " + std::to_string(pcm16k.size()) +
                                       " samples at 16 kHz give no 10 ms mel frame");
  return chunks;
}

}  // namespace hark::audio
