// Gemma 4 decoder speed: prefill of a prompt-sized batch and single-token decode steps.
// Model: $HARK_GEMMA4_MODEL, default ../shared/fixtures/gemma4-tiny/model.gguf (run from the repo root).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include "models/gemma4/model.h"

namespace {

using hark::gemma4::Input;
using hark::gemma4::TextModel;

const TextModel& model() {
  static const TextModel m = [] {
    const char* env = std::getenv("HARK_GEMMA4_MODEL");
    return TextModel::load(hark::gguf::File::open(env ? env : "../shared/fixtures/gemma4-tiny/model.gguf"));
  }();
  return m;
}

void BM_Prefill(benchmark::State& state) {
  const TextModel& m = model();
  hark::ThreadPool pool(static_cast<int>(state.range(1)));
  std::vector<Input> batch;
  for (int64_t i = 0; i < state.range(0); ++i) batch.push_back(Input::tok(static_cast<int32_t>(100 + i)));
  batch.back().logits = true;
  hark::gemma4::KvCache cache = m.new_cache(4096);
  std::vector<float> logits;
  for (auto _ : state) {
    cache.clear();
    m.forward(cache, batch, logits, pool);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Prefill)->Args({300, 1})->Args({300, 2})->Unit(benchmark::kMillisecond);

void BM_DecodeStep(benchmark::State& state) {
  const TextModel& m = model();
  hark::ThreadPool pool(static_cast<int>(state.range(1)));
  hark::gemma4::KvCache cache = m.new_cache(4096);
  std::vector<Input> prompt(static_cast<size_t>(state.range(0)), Input::tok(107));
  std::vector<float> logits;
  m.forward(cache, prompt, logits, pool);
  const Input next = Input::tok(108, true);
  for (auto _ : state) {
    if (cache.n_past() + 1 > cache.n_ctx()) cache.clear();
    m.forward(cache, std::span<const Input>(&next, 1), logits, pool);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeStep)->Args({300, 1})->Args({300, 2})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
