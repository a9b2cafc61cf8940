#include "actions/process_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nimify::actions {
namespace {

using std::chrono::milliseconds;

ProcessSpec Sh(std::string script) {
  ProcessSpec spec;
  spec.path = "/bin/sh";
  spec.argv = {"sh", "-c", std::move(script)};
  spec.timeout = milliseconds(20000);
  return spec;
}

// True once `pid` is gone or a zombie (killed, waiting for init to reap it).
bool WaitGone(pid_t pid, milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    std::string line;
    std::getline(stat, line);
    const std::size_t paren = line.rfind(')');
    if (paren == std::string::npos || paren + 2 >= line.size()) return true;
    if (line[paren + 2] == 'Z' || line[paren + 2] == 'X') return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

TEST(ProcessRunnerTest, CapturesMergedOutputAndExitStatus) {
  ProcessResult r = RunProcess(Sh("echo out; echo err >&2; exit 3"));
  EXPECT_EQ(r.end, ProcessEnd::kExited);
  EXPECT_EQ(r.exit_status, 3);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_EQ(r.output, "out\nerr\n");
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.Summary(Sh("")), "exit 3");
}

TEST(ProcessRunnerTest, ArgumentsAreNotInterpretedByAShell) {
  ProcessSpec spec;
  spec.path = "/bin/echo";
  spec.argv = {"echo", "$(id)", ";", "`id`", "x; rm -rf /", "$HOME"};
  ProcessResult r = RunProcess(spec);
  ASSERT_EQ(r.end, ProcessEnd::kExited);
  EXPECT_EQ(r.output, "$(id) ; `id` x; rm -rf / $HOME\n");
}

TEST(ProcessRunnerTest, EnvironmentIsExactlyTheSpec) {
  ASSERT_EQ(setenv("NIMIFY_RUNNER_SECRET", "hidden", 1), 0);
  ProcessSpec spec;
  spec.path = "/usr/bin/env";
  spec.argv = {"env"};
  spec.env = {"ONLY=this"};
  ProcessResult r = RunProcess(spec);
  ASSERT_EQ(r.end, ProcessEnd::kExited);
  EXPECT_EQ(r.output, "ONLY=this\n");
}

TEST(ProcessRunnerTest, RunsInTheWorkdir) {
  const std::string dir = std::filesystem::canonical(std::filesystem::temp_directory_path());
  ProcessSpec spec;
  spec.path = "/bin/pwd";
  spec.argv = {"pwd"};
  spec.workdir = dir;
  ProcessResult r = RunProcess(spec);
  ASSERT_EQ(r.end, ProcessEnd::kExited);
  EXPECT_EQ(r.output, dir + "\n");
}

TEST(ProcessRunnerTest, WritesStdinAndCapsOutput) {
  ProcessSpec spec;
  spec.path = "/bin/cat";
  spec.argv = {"cat"};
  spec.stdin_data = std::string(1 << 20, 'x');  // more than a pipe holds: needs the poll loop
  spec.max_output = 1000;
  ProcessResult r = RunProcess(spec);
  ASSERT_EQ(r.end, ProcessEnd::kExited);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output_bytes, 1u << 20);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.output.substr(0, 1000), std::string(1000, 'x'));
  EXPECT_EQ(r.output.substr(1000),
            "\n[output truncated: " + std::to_string((1 << 20) - 1000) + " bytes dropped]");
}

TEST(ProcessRunnerTest, StdinIsDevNullWhenNotGiven) {
  ProcessResult r = RunProcess(Sh("cat; echo done"));
  ASSERT_EQ(r.end, ProcessEnd::kExited);
  EXPECT_EQ(r.output, "done\n");
}

TEST(ProcessRunnerTest, ChildClosingStdinEarlyDoesNotKillUs) {
  ProcessSpec spec = Sh("exec 0<&-; echo closed");
  spec.stdin_data = std::string(4 << 20, 'y');
  ProcessResult r = RunProcess(spec);
  ASSERT_EQ(r.end, ProcessEnd::kExited);
  EXPECT_EQ(r.output, "closed\n");
}

TEST(ProcessRunnerTest, TimeoutKillsTheWholeProcessGroup) {
  ProcessSpec spec = Sh("sleep 100 & echo $!; sleep 100");
  spec.timeout = milliseconds(300);
  spec.kill_grace = milliseconds(2000);
  const auto start = std::chrono::steady_clock::now();
  ProcessResult r = RunProcess(spec);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(r.end, ProcessEnd::kTimedOut);
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_EQ(r.exit_status, 128 + SIGTERM);
  EXPECT_EQ(r.Summary(spec), "killed by SIGTERM after timeout 300ms");
  const pid_t grandchild = static_cast<pid_t>(std::stol(r.output));
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(WaitGone(grandchild, milliseconds(5000)));
}

TEST(ProcessRunnerTest, TimeoutEscalatesToSigkillAfterGrace) {
  // The ignored SIGTERM is inherited by the grandchild too.
  ProcessSpec spec = Sh("trap '' TERM; sleep 100 & echo $!; sleep 100");
  spec.timeout = milliseconds(200);
  spec.kill_grace = milliseconds(200);
  ProcessResult r = RunProcess(spec);
  EXPECT_EQ(r.end, ProcessEnd::kTimedOut);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_EQ(r.exit_status, 128 + SIGKILL);
  EXPECT_EQ(r.Summary(spec), "killed by SIGKILL after timeout 200ms");
  const pid_t grandchild = static_cast<pid_t>(std::stol(r.output));
  EXPECT_TRUE(WaitGone(grandchild, milliseconds(5000)));
}

TEST(ProcessRunnerTest, FollowLimitStopsAStream) {
  ProcessSpec spec = Sh("while :; do echo line; done");
  spec.follow_limit = 100;
  ProcessResult r = RunProcess(spec);
  EXPECT_EQ(r.end, ProcessEnd::kFollowLimit);
  EXPECT_EQ(r.output.size(), 100u);
  EXPECT_EQ(r.output.substr(0, 10), "line\nline\n");
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.Summary(spec), "stopped after follow_limit 100 bytes");
}

TEST(ProcessRunnerTest, MissingProgramIsASpawnFailure) {
  ProcessSpec spec;
  spec.path = "/nonexistent/kubectl";
  spec.argv = {"kubectl"};
  ProcessResult r = RunProcess(spec);
  EXPECT_EQ(r.end, ProcessEnd::kSpawnFailed);
  EXPECT_EQ(r.spawn_errno, ENOENT);
  EXPECT_EQ(r.exit_status, -1);
  EXPECT_NE(r.Summary(spec).find("spawn failed: /nonexistent/kubectl"), std::string::npos);
}

TEST(ProcessRunnerTest, NoDescriptorLeaksIntoTheChild) {
  // An fd opened without O_CLOEXEC, as careless code elsewhere in the process might.
  const int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 3);
  const std::string fd = std::to_string(leaky);
  ProcessResult r =
      RunProcess(Sh("if [ -e /proc/self/fd/" + fd + " ]; then echo leaked; else echo clean; fi"));
  ::close(leaky);
  ASSERT_EQ(r.end, ProcessEnd::kExited);
  EXPECT_EQ(r.output, "clean\n");
}

TEST(ProcessRunnerTest, CancelFdKillsTheChild) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(100));
    ASSERT_EQ(::write(fds[1], "x", 1), 1);
  });
  ProcessResult r = RunProcess(Sh("sleep 100"), fds[0]);
  canceller.join();
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(r.end, ProcessEnd::kCancelled);
  EXPECT_EQ(r.term_signal, SIGKILL);
}

TEST(ProcessRunnerTest, ResolveProgramSearchesThePath) {
  Result<std::string> sh = ResolveProgram("sh", "/nonexistent:/bin");
  ASSERT_TRUE(sh.ok()) << sh.status().ToString();
  EXPECT_EQ(*sh, "/bin/sh");
  Result<std::string> missing = ResolveProgram("no-such-program-nimify", "/bin:/usr/bin");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("not found on PATH"), std::string::npos);
  EXPECT_FALSE(ResolveProgram("/etc/passwd", "").ok());  // not executable
  EXPECT_TRUE(ResolveProgram("/bin/sh", "").ok());
  // A directory on PATH named like the program is not a program.
  EXPECT_FALSE(ResolveProgram("bin", "/").ok());
}

TEST(ProcessRunnerTest, FormatDurationAndSignalName) {
  EXPECT_EQ(FormatDuration(milliseconds(30000)), "30s");
  EXPECT_EQ(FormatDuration(milliseconds(90000)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
}

// Collects results of asynchronous runs.
struct Results {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ProcessResult> done;

  ProcessRunner::Done Callback() {
    return [this](ProcessResult r) {
      std::lock_guard lock(mu);
      done.push_back(std::move(r));
      cv.notify_all();
    };
  }
  bool WaitFor(std::size_t n, milliseconds limit) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return done.size() >= n; });
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return done.size();
  }
};

TEST(ProcessRunnerTest, StartReturnsBeforeTheChildExits) {
  ProcessRunner runner;
  Results results;
  runner.Start(Sh("sleep 1; echo finished"), results.Callback());
  EXPECT_EQ(results.size(), 0u);  // behavioural: the call did not wait for the child
  ASSERT_TRUE(results.WaitFor(1, milliseconds(20000)));
  EXPECT_EQ(results.done[0].output, "finished\n");
}

TEST(ProcessRunnerTest, RunsManyAtOnceAndQueuesBeyondTheLimit) {
  ProcessRunner runner(/*max_concurrent=*/4);
  Results results;
  for (int i = 0; i < 10; ++i)
    runner.Start(Sh("sleep 0.1; echo " + std::to_string(i)), results.Callback());
  ASSERT_TRUE(results.WaitFor(10, milliseconds(30000)));
  std::vector<std::string> outputs;
  for (const ProcessResult& r : results.done) {
    EXPECT_EQ(r.end, ProcessEnd::kExited);
    outputs.push_back(r.output);
  }
  std::sort(outputs.begin(), outputs.end());
  EXPECT_EQ(outputs.front(), "0\n");
  EXPECT_EQ(outputs.back(), "9\n");
  EXPECT_EQ(runner.running(), 0u);
}

TEST(ProcessRunnerTest, ShutdownCancelsRunningAndQueuedCalls) {
  Results results;
  {
    ProcessRunner runner(/*max_concurrent=*/1);
    runner.Start(Sh("sleep 100"), results.Callback());
    runner.Start(Sh("sleep 100"), results.Callback());  // queued behind the first
    std::this_thread::sleep_for(milliseconds(100));
    const auto start = std::chrono::steady_clock::now();
    runner.Shutdown();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
    EXPECT_EQ(results.size(), 2u);
    // After Shutdown, a new call is cancelled at once.
    runner.Start(Sh("echo never"), results.Callback());
    EXPECT_EQ(results.size(), 3u);
  }
  for (const ProcessResult& r : results.done) EXPECT_EQ(r.end, ProcessEnd::kCancelled);
}

}  // namespace
}  // namespace nimify::actions
