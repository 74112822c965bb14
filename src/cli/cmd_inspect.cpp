// `hark inspect FILE.gguf`: metadata and tensor table, like gguf-dump.
#include <cstdio>

#include "cli/command.h"
#include "gguf/gguf.h"

namespace hark::cli {
namespace {

std::string shape_string(const std::vector<int64_t>& ne) {
  std::string s;
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? " x " : "") + std::to_string(ne[i]);
  return s;
}

int run_inspect(const std::string& path, bool all_items, bool no_tensors) {
  const gguf::File f = gguf::File::open(path);
  std::printf("file: %s\n", path.c_str());
  std::printf("GGUF version %u, alignment %llu, %zu key/values, %zu tensors, data at offset %llu\n",
              f.version(), static_cast<unsigned long long>(f.alignment()), f.kvs().size(), f.tensors().size(),
              static_cast<unsigned long long>(f.data_offset()));
  std::printf("\nmetadata:\n");
  for (const auto& [key, value] : f.kvs())
    std::printf("  %-50s %-8s %s\n", key.c_str(), std::string(gguf::value_type_name(value.type)).c_str(),
                value.to_string(all_items ? SIZE_MAX : 8).c_str());
  if (no_tensors) return 0;
  std::printf("\ntensors:\n  %5s  %-48s %-6s %-28s %12s\n", "#", "name", "type", "shape (ne)", "bytes");
  uint64_t total = 0;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& t = f.tensors()[i];
    total += t.n_bytes;
    std::printf("  %5zu  %-48s %-6s %-28s %12llu\n", i, t.name.c_str(),
                std::string(ggml_type_name(t.type)).c_str(), shape_string(t.ne).c_str(),
                static_cast<unsigned long long>(t.n_bytes));
  }
  std::printf("\ntotal tensor bytes: %llu\n", static_cast<unsigned long long>(total));
  return 0;
}

const Command kInspect("inspect", "Print a GGUF file's metadata and tensor table", [](CLI::App& sub) {
  auto path = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  auto no_tensors = std::make_shared<bool>(false);
  sub.add_option("file", *path, "GGUF file")->required();
  sub.add_flag("--all", *all, "Print every element of array values");
  sub.add_flag("--no-tensors", *no_tensors, "Print only the metadata");
  return [=] { return run_inspect(*path, *all, *no_tensors); };
});

}  // namespace
}  // namespace hark::cli
