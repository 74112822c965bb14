// The gemma4a audio encoder at E2B size on one 30 s chunk (3000 mel frames -> 750 tokens), with random
// weights in the published files' layout (F16 matrices with their clip bounds, F32 subsampling convs): E =
// 1024, FFN 4096, 8 heads, subsampling channels 128/32, output 1536 (about 445 GFLOP with all 12 blocks). The
// arguments are the number of conformer blocks (a slow machine can time one block and scale) and the number
// of threads (0 = all cores). Counters: "x_realtime" (audio seconds per wall second) and "GFLOPs" (matmul
// work per second).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "models/gemma4a/encoder.h"

namespace {

constexpr int kEmbd = 1024, kFf = 4096, kHeads = 8, kC0 = 128, kC1 = 32, kPre = 1536, kOut = 1536;
constexpr int kMel = 128, kFrames = 3000;

// Normal random values of standard deviation `scale`, stored as `type` (F16 or F32).
void add_random(hark::gguf::Writer& w, const std::string& name, hark::GgmlType type, std::vector<int64_t> ne,
                float scale, uint32_t seed) {
  w.add_tensor_generated(name, type, std::move(ne), [type, scale, seed](std::span<uint8_t> dst) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    const size_t width = type == hark::GgmlType::F16 ? 2 : 4;
    for (size_t i = 0; i + width <= dst.size(); i += width) {
      const float v = dist(rng);
      const hark::fp16_t h = hark::f32_to_fp16(v);
      std::memcpy(&dst[i], width == 2 ? static_cast<const void*>(&h) : &v, width);
    }
  });
}

void add_f16(hark::gguf::Writer& w, const std::string& name, std::vector<int64_t> ne, float scale,
             uint32_t seed) {
  add_random(w, name, hark::GgmlType::F16, std::move(ne), scale, seed);
}

void add_const(hark::gguf::Writer& w, const std::string& name, std::vector<int64_t> ne, float value) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  const std::vector<float> v(static_cast<size_t>(n), value);  // [n]
  w.add_tensor_f32(name, std::move(ne), v);
}
void add_ones(hark::gguf::Writer& w, const std::string& name, int64_t n) {
  add_const(w, name, {n}, 1.0f);
}

std::vector<uint8_t> synth_mmproj(int n_layer) {
  hark::gguf::Writer w;
  w.set_string("general.architecture", "clip");
  w.set_string("clip.audio.projector_type", "gemma4a");
  w.set_u32("clip.audio.num_mel_bins", kMel);
  w.set_u32("clip.audio.embedding_length", kEmbd);
  w.set_u32("clip.audio.feed_forward_length", kFf);
  w.set_u32("clip.audio.block_count", static_cast<uint32_t>(n_layer));
  w.set_u32("clip.audio.attention.head_count", kHeads);
  w.set_f32("clip.audio.attention.layer_norm_epsilon", 1e-6f);
  w.set_u32("clip.audio.projection_dim", kOut);
  uint32_t seed = 1;
  const float s = 0.02f;
  add_random(w, "a.conv1d.0.weight", hark::GgmlType::F32, {3, 3, 1, kC0}, 0.3f, seed++);
  add_ones(w, "a.conv1d.0.norm.weight", kC0);
  add_random(w, "a.conv1d.1.weight", hark::GgmlType::F32, {3, 3, kC0, kC1}, 0.03f, seed++);
  add_ones(w, "a.conv1d.1.norm.weight", kC1);
  add_f16(w, "a.input_projection.weight", {32 * kC1, kEmbd}, s, seed++);
  for (int il = 0; il < n_layer; ++il) {
    const std::string p = "a.blk." + std::to_string(il) + ".";
    for (const char* n : {"ffn_norm", "ffn_post_norm", "attn_pre_norm", "attn_post_norm", "conv_norm",
                          "norm_conv", "ffn_norm_1", "ffn_post_norm_1", "ln2"})
      add_ones(w, p + n + ".weight", kEmbd);
    for (const char* n : {"ffn_up", "ffn_up_1"}) add_f16(w, p + n + ".weight", {kEmbd, kFf}, s, seed++);
    for (const char* n : {"ffn_down", "ffn_down_1"}) add_f16(w, p + n + ".weight", {kFf, kEmbd}, s, seed++);
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_out", "attn_k_rel", "conv_pw2"})
      add_f16(w, p + n + ".weight", {kEmbd, kEmbd}, s, seed++);
    add_f16(w, p + "conv_pw1.weight", {kEmbd, 2 * kEmbd}, s, seed++);
    // The clipped linears' bounds, as the published files carry them (wide enough never to bind here).
    for (const char* n : {"ffn_up", "ffn_down", "ffn_up_1", "ffn_down_1", "attn_q", "attn_k", "attn_v",
                          "attn_out", "conv_pw1", "conv_pw2"}) {
      for (const char* b : {".input_min", ".output_min"}) add_const(w, p + n + b, {1}, -1e4f);
      for (const char* b : {".input_max", ".output_max"}) add_const(w, p + n + b, {1}, 1e4f);
    }
    add_ones(w, p + "per_dim_scale.weight", kEmbd / kHeads);
    add_const(w, p + "conv_dw.weight", {5, kEmbd}, 0.2f);
  }
  add_f16(w, "a.pre_encode.out.weight", {kEmbd, kPre}, s, seed++);
  add_ones(w, "a.pre_encode.out.bias", kPre);
  add_f16(w, "mm.a.input_projection.weight", {kPre, kOut}, s, seed++);
  return w.to_bytes();
}

void BM_Gemma4aEncode30s(benchmark::State& state) {
  const int n_layer = static_cast<int>(state.range(0));
  const std::vector<uint8_t> bytes = synth_mmproj(n_layer);
  const hark::gguf::File f = hark::gguf::File::parse(bytes, "synthetic-e2b-mmproj.gguf");
  const auto enc = hark::gemma4a::AudioEncoder::load(f);
  std::vector<float> mel(static_cast<size_t>(kMel) * kFrames);  // [kMel][kFrames]
  for (size_t i = 0; i < mel.size(); ++i) mel[i] = std::sin(0.01f * static_cast<float>(i)) * 3.0f - 4.0f;
  hark::ThreadPool pool(static_cast<int>(state.range(1)));
  for (auto _ : state) benchmark::DoNotOptimize(enc.encode(mel, kFrames, pool));
  // Matmul work: per block 2 FFNs (2 x 2 x E x FFN), q/k/v/out + conv_pw2 (5 x E^2), conv_pw1 (2 x E^2);
  // then the subsampling convs, the input projection and the two output projections.
  const double T = 750;
  const double per_block = 2 * T * (4.0 * kEmbd * kFf + 7.0 * kEmbd * kEmbd);
  const double rest = 2 * (96000.0 * 9 * kC0 + 24000.0 * 9 * kC0 * kC1 + T * 32 * kC1 * kEmbd +
                           T * kEmbd * kPre + T * kPre * kOut);
  const double flop = n_layer * per_block + rest;
  state.counters["x_realtime"] = benchmark::Counter(30.0, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOPs"] = benchmark::Counter(flop * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Gemma4aEncode30s)
    ->Args({1, 0})
    ->Args({12, 0})
    ->Args({12, 1})
    ->Args({12, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
