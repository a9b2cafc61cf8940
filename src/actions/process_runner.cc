#include "actions/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <utility>

namespace nimify::actions {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Closes a file descriptor once; -1 means closed.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void Reset(int fd) {
    Close();
    fd_ = fd;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

void SetNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int OpenPidFd(pid_t pid) {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return fd >= 0 ? static_cast<int>(fd) : -1;
#else
  (void)pid;
  return -1;
#endif
}

// True once the child is a zombie (exited, not yet reaped): its pid and
// process group id cannot be reused while we still signal them.
bool HasExited(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return errno == ECHILD;
  }
  return info.si_pid == pid;
}

// Blocks SIGPIPE on this thread while we write the child's stdin, so a child
// that closes its stdin early costs an EPIPE, not the daemon.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (sigismember(&old_, SIGPIPE)) return;  // the caller blocks it already
    sigset_t pending;
    sigemptyset(&pending);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
      const timespec zero{};
      sigtimedwait(&pipe_set_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_set_;
  sigset_t old_;
};

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Spawns the child in a new process group with default signal dispositions,
// an empty signal mask and no descriptor but 0, 1 and 2. Returns 0 or an errno.
int Spawn(const ProcessSpec& spec, int stdin_fd, int out_fd, pid_t* pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  if (int rc = posix_spawn_file_actions_init(&actions); rc != 0) return rc;
  if (int rc = posix_spawnattr_init(&attr); rc != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return rc;
  }
  int rc = 0;
  if (stdin_fd >= 0) {
    rc = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  } else {
    rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  if (rc == 0 && !spec.workdir.empty()) {
    rc = posix_spawn_file_actions_addchdir_np(&actions, spec.workdir.c_str());
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Descriptors other code opened without O_CLOEXEC must not reach the child.
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  if (rc == 0) {
    rc = posix_spawnattr_setflags(
        &attr,
        static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
  }
  if (rc == 0) rc = posix_spawnattr_setpgroup(&attr, 0);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
  if (rc == 0) {
    std::vector<char*> argv = CStrings(spec.argv);
    std::vector<char*> envp = CStrings(spec.env);
    rc = posix_spawn(pid, spec.path.c_str(), &actions, &attr, argv.data(), envp.data());
  }
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

enum class StopReason : std::uint8_t { kNone, kTimeout, kFollowLimit, kCancel };

// The capture of the child's merged output, with the size cap.
struct Capture {
  std::size_t keep_limit = 0;    // bytes kept at most
  std::size_t follow_limit = 0;  // bytes looked at at most (0: all)
  std::string kept;
  std::uint64_t total = 0;
  std::uint64_t dropped = 0;  // over keep_limit, within the follow window

  void Add(const char* data, std::size_t n) {
    std::size_t usable = n;
    if (follow_limit > 0) {
      const std::uint64_t window_left = total >= follow_limit ? 0 : follow_limit - total;
      usable = static_cast<std::size_t>(std::min<std::uint64_t>(usable, window_left));
    }
    total += n;
    const std::size_t room = keep_limit > kept.size() ? keep_limit - kept.size() : 0;
    const std::size_t take = std::min(usable, room);
    kept.append(data, take);
    dropped += usable - take;
  }
};

// Reads what is available now; false at end of file or on an error.
bool ReadAvailable(int fd, Capture& capture, int max_reads) {
  char buf[16384];
  for (int i = 0; i < max_reads; ++i) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      capture.Add(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  return true;
}

}  // namespace

std::string FormatDuration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const std::int64_t h = ms / 3'600'000;
  const std::int64_t m = ms / 60'000 % 60;
  const std::int64_t s = ms / 1000 % 60;
  const std::int64_t rest = ms % 1000;
  if (h > 0) out += std::to_string(h) + "h";
  if (m > 0) out += std::to_string(m) + "m";
  if (s > 0) out += std::to_string(s) + "s";
  if (rest > 0) out += std::to_string(rest) + "ms";
  return out;
}

std::string SignalName(int sig) {
  switch (sig) {
    case SIGHUP:
      return "SIGHUP";
    case SIGINT:
      return "SIGINT";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGKILL:
      return "SIGKILL";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGALRM:
      return "SIGALRM";
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    default:
      return "signal " + std::to_string(sig);
  }
}

std::string ProcessResult::Summary(const ProcessSpec& spec) const {
  switch (end) {
    case ProcessEnd::kExited:
      return "exit " + std::to_string(exit_status);
    case ProcessEnd::kSignaled:
      return "killed by " + SignalName(term_signal);
    case ProcessEnd::kTimedOut:
      if (term_signal != 0) {
        return "killed by " + SignalName(term_signal) + " after timeout " +
               FormatDuration(spec.timeout);
      }
      return "exit " + std::to_string(exit_status) + " after timeout " +
             FormatDuration(spec.timeout);
    case ProcessEnd::kFollowLimit:
      return "stopped after follow_limit " + std::to_string(spec.follow_limit) + " bytes";
    case ProcessEnd::kCancelled:
      return "cancelled: the handler shut down";
    case ProcessEnd::kSpawnFailed:
      return "spawn failed: " + spec.path + ": " + std::strerror(spawn_errno);
  }
  return "unknown";
}

ProcessResult RunProcess(const ProcessSpec& spec, int cancel_fd) {
  ProcessResult result;
  const SteadyClock::time_point start = SteadyClock::now();
  ScopedSigpipeBlock sigpipe_block;

  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.spawn_errno = errno;
    return result;
  }
  Fd out_read(out_pipe[0]);
  Fd out_write(out_pipe[1]);
  Fd in_read;
  Fd in_write;
  if (!spec.stdin_data.empty()) {
    int in_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) {
      result.spawn_errno = errno;
      return result;
    }
    in_read.Reset(in_pipe[0]);
    in_write.Reset(in_pipe[1]);
  }

  pid_t pid = -1;
  const int spawn_rc = Spawn(spec, in_read.get(), out_write.get(), &pid);
  out_write.Close();
  in_read.Close();
  if (spawn_rc != 0) {
    result.spawn_errno = spawn_rc;
    result.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
    return result;
  }
  SetNonBlocking(out_read.get());
  if (in_write.open()) SetNonBlocking(in_write.get());
  Fd pidfd(OpenPidFd(pid));

  Capture capture;
  capture.keep_limit = spec.max_output;
  capture.follow_limit = spec.follow_limit;
  std::size_t stdin_written = 0;

  const auto timeout = std::max(spec.timeout, std::chrono::milliseconds(1));
  const SteadyClock::time_point deadline = start + timeout;
  SteadyClock::time_point kill_at = SteadyClock::time_point::max();
  StopReason reason = StopReason::kNone;
  bool sent_kill = false;
  bool exited = false;

  auto stop = [&](StopReason why, int sig) {
    if (reason == StopReason::kNone) reason = why;
    ::kill(-pid, sig);
    if (sig == SIGKILL) {
      sent_kill = true;
    } else if (kill_at == SteadyClock::time_point::max()) {
      kill_at = SteadyClock::now() + spec.kill_grace;
    }
  };

  while (!exited) {
    const SteadyClock::time_point now = SteadyClock::now();
    if (reason == StopReason::kNone && now >= deadline) stop(StopReason::kTimeout, SIGTERM);
    if (!sent_kill && now >= kill_at) stop(StopReason::kTimeout, SIGKILL);

    pollfd fds[4];
    nfds_t nfds = 0;
    int out_idx = -1, in_idx = -1, pid_idx = -1, cancel_idx = -1;
    if (out_read.open()) {
      out_idx = static_cast<int>(nfds);
      fds[nfds++] = pollfd{out_read.get(), POLLIN, 0};
    }
    if (in_write.open()) {
      in_idx = static_cast<int>(nfds);
      fds[nfds++] = pollfd{in_write.get(), POLLOUT, 0};
    }
    if (pidfd.open()) {
      pid_idx = static_cast<int>(nfds);
      fds[nfds++] = pollfd{pidfd.get(), POLLIN, 0};
    }
    if (cancel_fd >= 0 && reason != StopReason::kCancel) {
      cancel_idx = static_cast<int>(nfds);
      fds[nfds++] = pollfd{cancel_fd, POLLIN, 0};
    }
    SteadyClock::time_point wake = reason == StopReason::kNone ? deadline : kill_at;
    if (sent_kill) wake = now + std::chrono::milliseconds(100);
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1;
    // Without a pidfd the exit is noticed by polling waitid.
    if (!pidfd.open()) wait = std::min<std::int64_t>(wait, 10);
    wait = std::clamp<std::int64_t>(wait, 0, 60'000);
    const int ready = ::poll(fds, nfds, static_cast<int>(wait));
    if (ready < 0 && errno != EINTR) {
      stop(StopReason::kCancel, SIGKILL);
      break;
    }

    if (out_idx >= 0 && (fds[out_idx].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      if (!ReadAvailable(out_read.get(), capture, 16)) out_read.Close();
      if (spec.follow_limit > 0 && capture.total >= spec.follow_limit &&
          reason == StopReason::kNone) {
        stop(StopReason::kFollowLimit, SIGTERM);
      }
    }
    if (in_idx >= 0 && fds[in_idx].revents != 0) {
      if ((fds[in_idx].revents & POLLOUT) != 0) {
        const ssize_t n = ::write(in_write.get(), spec.stdin_data.data() + stdin_written,
                                  spec.stdin_data.size() - stdin_written);
        if (n > 0) stdin_written += static_cast<std::size_t>(n);
        if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
            stdin_written == spec.stdin_data.size()) {
          in_write.Close();
        }
      } else {
        in_write.Close();  // POLLERR / POLLHUP: the child closed its stdin
      }
    }
    if (cancel_idx >= 0 && (fds[cancel_idx].revents & POLLIN) != 0) {
      stop(StopReason::kCancel, SIGKILL);
    }
    if (pid_idx >= 0) {
      exited = (fds[pid_idx].revents & POLLIN) != 0;
    } else {
      exited = HasExited(pid);
    }
  }

  // The leader is a zombie until waitpid, so its group id is still ours:
  // whatever it left running in the group goes with it.
  ::kill(-pid, SIGKILL);
  if (out_read.open()) ReadAvailable(out_read.get(), capture, 64);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
    result.exit_status = 128 + result.term_signal;
  } else {
    result.exit_status = WEXITSTATUS(status);
  }
  switch (reason) {
    case StopReason::kNone:
      result.end = WIFSIGNALED(status) ? ProcessEnd::kSignaled : ProcessEnd::kExited;
      break;
    case StopReason::kTimeout:
      result.end = ProcessEnd::kTimedOut;
      break;
    case StopReason::kFollowLimit:
      result.end = ProcessEnd::kFollowLimit;
      break;
    case StopReason::kCancel:
      result.end = ProcessEnd::kCancelled;
      break;
  }
  result.output = std::move(capture.kept);
  result.output_bytes = capture.total;
  if (capture.dropped > 0) {
    result.truncated = true;
    result.output += "\n[output truncated: " + std::to_string(capture.dropped) + " bytes dropped]";
  }
  result.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  return result;
}

Result<std::string> ResolveProgram(const std::string& name, const std::string& path_env) {
  auto executable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return Status::InvalidArgument("empty command");
  if (name.find('/') != std::string::npos) {
    std::error_code ec;
    std::string abs = std::filesystem::absolute(name, ec).string();
    if (ec || !executable(abs)) {
      return Status::NotFound("command \"" + name + "\" is not an executable file");
    }
    return abs;
  }
  std::size_t begin = 0;
  while (begin <= path_env.size()) {
    std::size_t end = path_env.find(':', begin);
    if (end == std::string::npos) end = path_env.size();
    std::string dir = path_env.substr(begin, end - begin);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (executable(candidate)) {
      std::error_code ec;
      std::string abs = std::filesystem::absolute(candidate, ec).string();
      return ec ? candidate : abs;
    }
    begin = end + 1;
  }
  return Status::NotFound("command \"" + name + "\" not found on PATH (" + path_env + ")");
}

// ---- ProcessRunner --------------------------------------------------------------

ProcessRunner::ProcessRunner(std::size_t max_concurrent)
    : max_concurrent_(std::max<std::size_t>(max_concurrent, 1)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    cancel_read_fd_ = fds[0];
    cancel_write_fd_ = fds[1];
  }
}

ProcessRunner::~ProcessRunner() {
  Shutdown();
  if (cancel_read_fd_ >= 0) ::close(cancel_read_fd_);
  if (cancel_write_fd_ >= 0) ::close(cancel_write_fd_);
}

namespace {

void CallDone(const ProcessRunner::Done& done, ProcessResult result) {
  try {
    done(std::move(result));
  } catch (...) {
    // A throwing callback must not take the runner thread (and the process) down.
  }
}

ProcessResult CancelledResult() {
  ProcessResult r;
  r.end = ProcessEnd::kCancelled;
  return r;
}

}  // namespace

void ProcessRunner::JoinFinishedLocked(std::vector<std::thread>& to_join) {
  for (const std::thread::id id : finished_) {
    for (auto it = threads_.begin(); it != threads_.end(); ++it) {
      if (it->get_id() == id) {
        to_join.push_back(std::move(*it));
        threads_.erase(it);
        break;
      }
    }
  }
  finished_.clear();
}

void ProcessRunner::Start(ProcessSpec spec, Done done) {
  std::vector<std::thread> to_join;
  bool stopped = false;
  {
    MutexLock lock(mu_);
    if (stopping_) {
      stopped = true;
    } else {
      JoinFinishedLocked(to_join);
      if (workers_ < max_concurrent_) {
        ++workers_;
        threads_.emplace_back(&ProcessRunner::WorkerLoop, this,
                              Job{std::move(spec), std::move(done)});
      } else {
        queue_.push_back(Job{std::move(spec), std::move(done)});
      }
    }
  }
  if (stopped) {  // `done` runs outside the lock
    CallDone(done, CancelledResult());
    return;
  }
  // These threads have announced their exit; joining only waits for the return.
  for (std::thread& t : to_join) t.join();
}

void ProcessRunner::WorkerLoop(Job job) {
  // Threads of our own never take SIGPIPE from a child's closed stdin.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
  while (true) {
    {
      MutexLock lock(mu_);
      ++running_;
    }
    ProcessResult result = RunProcess(job.spec, cancel_read_fd_);
    {
      MutexLock lock(mu_);
      --running_;
    }
    CallDone(job.done, std::move(result));
    MutexLock lock(mu_);
    if (stopping_ || queue_.empty()) {
      --workers_;
      finished_.push_back(std::this_thread::get_id());
      return;
    }
    job = std::move(queue_.front());
    queue_.pop_front();
  }
}

void ProcessRunner::Shutdown() {
  std::deque<Job> cancelled;
  std::list<std::thread> threads;
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      if (cancel_write_fd_ >= 0) {
        const char byte = 1;
        [[maybe_unused]] const ssize_t n = ::write(cancel_write_fd_, &byte, 1);
      }
    }
    cancelled.swap(queue_);
    threads.swap(threads_);
    finished_.clear();
  }
  for (Job& job : cancelled) CallDone(job.done, CancelledResult());
  for (std::thread& t : threads) {
    // A `done` that shuts the runner down runs on a runner thread: it cannot join itself.
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else {
      t.join();
    }
  }
}

std::size_t ProcessRunner::running() const {
  MutexLock lock(mu_);
  return running_;
}

}  // namespace nimify::actions
