// Tokenizer throughput on the Gemma 4 vocabulary: loading it, encoding a ~1 MB text made of the golden inputs
// (many scripts, numbers, code, emoji), one long line without newlines (a single BPE run), and decoding.
// Run from the repository root, or set HARK_SHARED_DIR.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "gguf/gguf.h"
#include "text/tokenizer.h"

namespace {

std::string shared_path(const std::string& rel) {
  const char* env = std::getenv("HARK_SHARED_DIR");
  return std::string(env ? env : "../shared") + "/fixtures/" + rel;
}

const hark::text::Tokenizer& tokenizer() {
  static const auto tok = [] {
    const auto f = hark::gguf::File::open(shared_path("tokenizer/ggml-vocab-gemma-4.gguf"));
    return std::make_unique<hark::text::Tokenizer>(hark::text::Tokenizer::from_gguf(f));
  }();
  return *tok;
}

std::string corpus() {
  std::ifstream in(shared_path("tokenizer/gemma4-extra.inp"), std::ios::binary);
  const std::string one((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string big;
  while (!one.empty() && big.size() < (1 << 20)) big += one;
  return big;
}

void BM_Load(benchmark::State& state) {
  const auto f = hark::gguf::File::open(shared_path("tokenizer/ggml-vocab-gemma-4.gguf"));
  for (auto _ : state) benchmark::DoNotOptimize(hark::text::Tokenizer::from_gguf(f).n_vocab());
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond);

void BM_Encode(benchmark::State& state) {
  const std::string text = corpus();
  for (auto _ : state) benchmark::DoNotOptimize(tokenizer().encode(text, false));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Encode)->Unit(benchmark::kMillisecond);

void BM_EncodeOneLongLine(benchmark::State& state) {
  std::string line;
  while (line.size() < 100000)
    line += "And so, my fellow Americans: ask not what your country can do for you. ";
  for (auto _ : state) benchmark::DoNotOptimize(tokenizer().encode(line, false));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * line.size()));
}
BENCHMARK(BM_EncodeOneLongLine)->Unit(benchmark::kMillisecond);

void BM_Decode(benchmark::State& state) {
  const auto ids = tokenizer().encode(corpus(), false);
  for (auto _ : state) benchmark::DoNotOptimize(tokenizer().decode(ids));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids.size()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
