// Voice activity detection: where in 16 kHz mono PCM someone speaks, from frame energy in the speech band
// measured against the recording's own noise floor. No model, no training data: cheap enough to run on
// every request before the encoder, and predictable (docs/audio-features.md explains each step).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace hark::audio {

struct VadOptions {
  // A frame is speech when its 100-4000 Hz level is this many dB above the noise floor (the 10th
  // percentile of all frame levels, never taken below floor_dbfs).
  float threshold_db = 10.0f;
  // Level treated as silence whatever the recording: a floor of digital silence or faint hiss is raised to
  // this, so speech must also exceed floor_dbfs + threshold_db in absolute terms.
  float floor_dbfs = -70.0f;
  int min_speech_ms = 250;   // shorter bursts (clicks, bumps) are dropped
  int min_silence_ms = 300;  // shorter pauses do not split a region
  int padding_ms = 100;      // added on both sides of each region (clamped to the audio, overlaps merged)
};

struct SpeechRegion {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

// Speech regions in order, non-overlapping, inside [0, duration]. Silence, steady noise and audio shorter
// than one 20 ms frame give none. Throws Error(kInvalidArgument) on negative durations or a NaN threshold.
std::vector<SpeechRegion> detect_speech(std::span<const float> pcm16k, const VadOptions& opt = {});

}  // namespace hark::audio
