// Starting an in-process nimifyd for the server tests.
#ifndef NIMIFY_TESTS_DAEMON_TEST_DAEMON_H_
#define NIMIFY_TESTS_DAEMON_TEST_DAEMON_H_

#include <spdlog/common.h>

#include <filesystem>
#include <memory>
#include <string>

#include "daemon/daemon.h"
#include "nimify/status.h"

namespace nimify::daemon::testing {

// Writes `text` to `p`, replacing it.
void WriteFile(const std::filesystem::path& p, const std::string& text);

// Empties `dir`, writes `rules` to dir/rules.yml and `config` (which names
// them) to dir/nimifyd.yml, and starts a dry-run daemon on an ephemeral
// loopback port that logs to `sink`.
Result<std::unique_ptr<Daemon>> StartDryRun(const std::filesystem::path& dir,
                                            const std::string& rules, const std::string& config,
                                            spdlog::sink_ptr sink);

}  // namespace nimify::daemon::testing

#endif  // NIMIFY_TESTS_DAEMON_TEST_DAEMON_H_
