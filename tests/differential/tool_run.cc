#include "differential/tool_run.h"

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace nimify::differential {

namespace fs = std::filesystem;

bool ParseFlag(std::string_view arg, std::string_view name, std::string* value) {
  if (arg.substr(0, name.size()) != name || arg.size() <= name.size() || arg[name.size()] != '=') {
    return false;
  }
  *value = std::string(arg.substr(name.size() + 1));
  return true;
}

namespace {

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Result<ToolRun> RunTool(const ToolCommand& command) {
  const fs::path out_path = command.dir / command.stdout_name;
  const bool merged = command.stderr_name.empty();
  const fs::path err_path = merged ? fs::path() : command.dir / command.stderr_name;
  std::vector<std::string> owned = command.args;
  owned.insert(owned.begin(), command.binary);
  std::vector<char*> argv;
  for (auto& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    if ((command.run_in_dir && chdir(command.dir.c_str()) != 0) ||
        !std::freopen(out_path.c_str(), "w", stdout) ||
        (merged ? dup2(fileno(stdout), fileno(stderr)) < 0
                : !std::freopen(err_path.c_str(), "w", stderr))) {
      _exit(126);
    }
    if (command.utc) setenv("TZ", "UTC", 1);
    execv(command.binary.c_str(), argv.data());
    _exit(127);
  }
  const auto deadline = start + std::chrono::duration<double>(command.timeout_seconds);
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0) return Status::Internal("waitpid failed");
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return Status::DeadlineExceeded(command.binary + " did not finish within " +
                                      std::to_string(command.timeout_seconds) + "s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ToolRun run;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!WIFEXITED(status)) return Status::Internal(command.binary + " was killed by a signal");
  run.exit_code = WEXITSTATUS(status);
  if (run.exit_code == 126 || run.exit_code == 127) {
    return Status::Internal("could not start " + command.binary);
  }
  NIMIFY_ASSIGN_OR_RETURN(run.stdout_text, ReadFile(out_path));
  if (!merged) {
    NIMIFY_ASSIGN_OR_RETURN(run.stderr_text, ReadFile(err_path));
  }
  return run;
}

int SkipOrFail(const std::string& why) {
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string_view(ci) == "true") {
    std::printf("FAILED (CI=true, promtool is required): %s\n", why.c_str());
    return kExitHarness;
  }
  std::printf("SKIPPED: %s\n", why.c_str());
  return kExitSkip;
}

}  // namespace nimify::differential
