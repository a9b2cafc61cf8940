// Subcommands of the `nimify` CLI. Each takes the arguments after its own
// name and returns the process exit code (0 ok, 1 check failed, 2 usage/input error).
#ifndef NIMIFY_CLI_COMMANDS_H_
#define NIMIFY_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace nimify::cli {

using Args = std::vector<std::string>;

struct Command {
  const char* name;     // "query", "test rules", ...
  const char* summary;  // one line for `nimify help`
  int (*run)(const Args& args);
};

// The registered commands, in help order.
const std::vector<Command>& Commands();

}  // namespace nimify::cli

#endif  // NIMIFY_CLI_COMMANDS_H_
