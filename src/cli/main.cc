// nimify: the command-line tool. `nimify help` lists the subcommands.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace nimify::cli {
namespace {

int PrintHelp(const Args& /*args*/) {
  std::printf("usage: nimify <command> [args]\n\ncommands:\n");
  for (const auto& c : Commands()) std::printf("  %-14s %s\n", c.name, c.summary);
  return 0;
}

int PrintVersion(const Args& /*args*/) {
  std::printf("nimify %s\n", NIMIFY_VERSION_STRING);
  return 0;
}

}  // namespace

// Declared by each command's file; listed here so the help order is fixed.
// (add one line per command, e.g. `int RunQuery(const Args& args);`)
int RunQuery(const Args& args);
int RunTestRules(const Args& args);
int RunCheckRules(const Args& args);
int RunBench(const Args& args);
int RunReplay(const Args& args);
int RunConfigRoutes(const Args& args);
int RunAck(const Args& args);
int RunUnack(const Args& args);

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"query", "evaluate a PromQL expression over series in promqltest notation", RunQuery},
      {"test rules", "run promtool-style rule unit tests", RunTestRules},
      {"check rules", "validate rule files (and lint them with --lint)", RunCheckRules},
      {"config routes", "show or test an Alertmanager routing tree (as amtool)", RunConfigRoutes},
      {"bench", "run a workload through the in-process engine and print JSON", RunBench},
      {"replay", "stream recorded samples through rules and responses; print each decision", RunReplay},
      {"ack", "acknowledge alerts on a running nimifyd (amtool-style matchers)", RunAck},
      {"unack", "remove acknowledgements on a running nimifyd by id", RunUnack},
      {"version", "print the version", PrintVersion},
      {"help", "list the commands", PrintHelp},
  };
  return kCommands;
}

}  // namespace nimify::cli

int main(int argc, char** argv) {
  using nimify::cli::Args;
  Args args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    nimify::cli::PrintHelp(args);
    return args.empty() ? 2 : 0;
  }
  // Longest match first: "test rules" is two words.
  for (const auto& c : nimify::cli::Commands()) {
    const std::string name = c.name;
    const auto space = name.find(' ');
    if (space == std::string::npos) {
      if (args[0] == name) return c.run(Args(args.begin() + 1, args.end()));
    } else if (args.size() >= 2 && args[0] == name.substr(0, space) &&
               args[1] == name.substr(space + 1)) {
      return c.run(Args(args.begin() + 2, args.end()));
    }
  }
  std::fprintf(stderr, "nimify: unknown command '%s' (try 'nimify help')\n", args[0].c_str());
  return 2;
}
