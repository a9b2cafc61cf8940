// nimifyd: flags, signals and the daemon's life; everything else is in Daemon.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "daemon/daemon.h"
#include "daemon/flags.h"

int main(int argc, char** argv) {
  using nimify::daemon::Daemon;
  const std::vector<std::string> args(argv + 1, argv + argc);
  nimify::Result<nimify::daemon::Flags> flags = nimify::daemon::ParseFlags(args);
  if (!flags.ok()) {
    std::fprintf(stderr, "nimifyd: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->help) {
    std::fputs(nimify::daemon::FlagsUsage().c_str(), stdout);
    return 0;
  }
  if (flags->version) {
    std::printf("nimifyd, version %s\n", NIMIFY_DAEMON_VERSION);
    return 0;
  }

  // Signals are taken synchronously by this thread; every thread the daemon
  // starts inherits the blocked mask, so none of them is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  nimify::daemon::DaemonOptions options;
  options.flags = std::move(*flags);
  nimify::Result<std::unique_ptr<Daemon>> daemon = Daemon::Start(std::move(options));
  if (!daemon.ok()) {
    std::fprintf(stderr, "nimifyd: start-up failed:\n%s\n",
                 std::string(daemon.status().message()).c_str());
    return 1;
  }
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      (void)(*daemon)->Reload();  // logged by the daemon; a bad config keeps the old one
      continue;
    }
    const nimify::Status st = (*daemon)->Shutdown(std::chrono::seconds(30));
    return st.ok() ? 0 : 1;
  }
}
