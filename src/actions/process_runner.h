// Runs a child program without a shell: posix_spawn of a resolved path in a
// process group of its own, merged stdout/stderr captured up to a cap, a
// deadline enforced with SIGTERM to the group and SIGKILL after a grace
// period. Used by the exec handler; nothing here knows about alerts.
#ifndef NIMIFY_ACTIONS_PROCESS_RUNNER_H_
#define NIMIFY_ACTIONS_PROCESS_RUNNER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "nimify/status.h"

namespace nimify::actions {

struct ProcessSpec {
  std::string path;               // absolute (or cwd-relative) path of the program: no PATH lookup
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "NAME=value" entries: the child's whole environment
  std::string workdir;            // empty: the caller's working directory
  std::string stdin_data;         // written to the child's stdin, then closed
  std::size_t max_output = 64 * 1024;  // bytes of output kept; the rest is counted and dropped
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds kill_grace{5000};  // SIGTERM -> SIGKILL
  // A streaming command (logs -f) is stopped once this much output arrived; 0: no limit.
  std::size_t follow_limit = 0;
};

enum class ProcessEnd : std::uint8_t {
  kExited,       // the program exited by itself
  kSignaled,     // a signal we did not send killed it
  kTimedOut,     // we stopped it at the deadline
  kFollowLimit,  // we stopped it after follow_limit bytes
  kCancelled,    // the runner shut down
  kSpawnFailed,  // it never ran (spawn_errno says why)
};

struct ProcessResult {
  ProcessEnd end = ProcessEnd::kSpawnFailed;
  int exit_status = -1;  // exit code, or 128 + the signal that ended it; -1 when it never ran
  int term_signal = 0;   // the signal that ended it, 0 when it exited
  int spawn_errno = 0;
  std::string output;  // merged stdout+stderr, capped, with a marker when truncated
  bool truncated = false;
  std::uint64_t output_bytes = 0;  // everything the child wrote, kept or not
  std::chrono::milliseconds duration{0};

  // "exit 0", "exit 3", "killed by SIGKILL after timeout 30s", "spawn failed: ...".
  std::string Summary(const ProcessSpec& spec) const;
};

// "30s", "1m30s", "250ms": durations as the config writes them.
std::string FormatDuration(std::chrono::milliseconds d);
// "SIGTERM", "SIGKILL", "signal 64".
std::string SignalName(int sig);

// Runs `spec` on the calling thread until the child and its capture are done.
// A readable `cancel_fd` (>= 0) kills the child's group and ends with kCancelled.
ProcessResult RunProcess(const ProcessSpec& spec, int cancel_fd = -1);

// The program `name` as execve needs it: a name with a '/' must be an
// executable file (made absolute); other names are looked up on `path_env`
// (a PATH value). kNotFound when nothing executable matches.
Result<std::string> ResolveProgram(const std::string& name, const std::string& path_env);

// Runs processes asynchronously on threads of its own (one per running child,
// at most max_concurrent; more calls wait in a queue).
// Thread safety: every method may be called from any thread; `done` runs on a
// runner thread (or on the Shutdown caller's thread for queued calls).
class ProcessRunner {
 public:
  using Done = std::function<void(ProcessResult)>;

  explicit ProcessRunner(std::size_t max_concurrent = 16);
  ~ProcessRunner();  // Shutdown()
  ProcessRunner(const ProcessRunner&) = delete;
  ProcessRunner& operator=(const ProcessRunner&) = delete;

  // Returns at once; `done` is called exactly once. After Shutdown, `done`
  // gets kCancelled immediately.
  void Start(ProcessSpec spec, Done done);

  // Kills the running children (SIGKILL to their groups), cancels the queued
  // calls and waits for the threads. Idempotent.
  void Shutdown();

  std::size_t running() const;

 private:
  struct Job {
    ProcessSpec spec;
    Done done;
  };
  void WorkerLoop(Job first);
  void JoinFinishedLocked(std::vector<std::thread>& to_join) NIMIFY_REQUIRES(mu_);

  const std::size_t max_concurrent_;
  int cancel_read_fd_ = -1;  // readable once Shutdown began: every RunProcess polls it
  int cancel_write_fd_ = -1;
  mutable Mutex mu_;
  bool stopping_ NIMIFY_GUARDED_BY(mu_) = false;
  std::size_t workers_ NIMIFY_GUARDED_BY(mu_) = 0;  // threads alive (running or about to exit)
  std::size_t running_ NIMIFY_GUARDED_BY(mu_) = 0;  // children in RunProcess
  std::deque<Job> queue_ NIMIFY_GUARDED_BY(mu_);
  std::list<std::thread> threads_ NIMIFY_GUARDED_BY(mu_);
  std::vector<std::thread::id> finished_ NIMIFY_GUARDED_BY(mu_);  // exited workers not yet joined
};

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_PROCESS_RUNNER_H_
