// A stand-alone `nimify test rules` for ctest: the same command code as the CLI,
// linked only with the stages it needs, so the conformance runs do not depend
// on unrelated parts of the build.
#include <string>
#include <vector>

#include "cli/commands.h"

namespace nimify::cli {
int RunTestRules(const Args& args);
int RunCheckRules(const Args& args);
}  // namespace nimify::cli

int main(int argc, char** argv) {
  nimify::cli::Args args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "check") {
    return nimify::cli::RunCheckRules(nimify::cli::Args(args.begin() + 1, args.end()));
  }
  return nimify::cli::RunTestRules(args);
}
