#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/command.h"
#include "core/error.h"

namespace hark::cli {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

Command::Command(std::string name, std::string description, Setup setup) {
  command_registry().push_back({std::move(name), std::move(description), std::move(setup)});
}

}  // namespace hark::cli

int main(int argc, char** argv) {
  using namespace hark::cli;
  CLI::App app{"hark: offline speech-to-text with Gemma 4 audio models"};
  app.require_subcommand(1);
  auto& reg = command_registry();
  std::sort(reg.begin(), reg.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::map<CLI::App*, std::function<int()>> runners;
  for (auto& e : reg) {
    CLI::App* sub = app.add_subcommand(e.name, e.description);
    runners[sub] = e.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const hark::Error& e) {
    std::fprintf(stderr, "hark: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hark: internal error: %s\n", e.what());
    return 2;
  }
  return 1;
}
