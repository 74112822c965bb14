// Subcommands of the `hark` binary. Each cmd_*.cpp registers itself with a static Command object, so a new
// subcommand is a new file and nothing else changes.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace hark::cli {

struct Command {
  // `setup` adds the subcommand's options to `sub` and returns the function that runs it (its exit code).
  using Setup = std::function<std::function<int()>(CLI::App& sub)>;
  Command(std::string name, std::string description, Setup setup);
};

struct CommandEntry {
  std::string name;
  std::string description;
  Command::Setup setup;
};
std::vector<CommandEntry>& command_registry();

}  // namespace hark::cli
