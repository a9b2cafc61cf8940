// What the differential drivers share: flag parsing, running promtool or
// nimify as a child with a deadline, and the skip-or-fail rule for a missing
// or wrong promtool.

#ifndef NIMIFY_TESTS_DIFFERENTIAL_TOOL_RUN_H_
#define NIMIFY_TESTS_DIFFERENTIAL_TOOL_RUN_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/status.h"

namespace nimify::differential {

inline constexpr int kExitHarness = 2;  // the harness itself failed
inline constexpr int kExitSkip = 77;    // ctest's SKIP_RETURN_CODE

// `--name=value`: true and the value when `arg` is that flag.
bool ParseFlag(std::string_view arg, std::string_view name, std::string* value);

struct ToolCommand {
  std::string binary;
  std::vector<std::string> args;
  std::filesystem::path dir;   // where the output files go
  std::string stdout_name;     // file in `dir`
  std::string stderr_name;     // file in `dir`; empty: interleaved into stdout's
  bool run_in_dir = false;     // chdir to `dir` first
  bool utc = false;            // TZ=UTC, as Go's local-time formatting needs
  double timeout_seconds = 60;
};

struct ToolRun {
  int exit_code = -1;
  std::string stdout_text;  // stdout and stderr when they were interleaved
  std::string stderr_text;
  double seconds = 0;
};

// Runs the command; kills it after the timeout. An error when it cannot start,
// dies by a signal or times out.
Result<ToolRun> RunTool(const ToolCommand& command);

// Outside CI a missing or wrong promtool skips the test (exit 77); CI installs
// promtool 2.42, so there (CI=true) the same condition fails the test instead.
int SkipOrFail(const std::string& why);

}  // namespace nimify::differential

#endif  // NIMIFY_TESTS_DIFFERENTIAL_TOOL_RUN_H_
