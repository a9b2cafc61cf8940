#include "daemon/test_daemon.h"

#include <fstream>
#include <utility>

namespace nimify::daemon::testing {

void WriteFile(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

Result<std::unique_ptr<Daemon>> StartDryRun(const std::filesystem::path& dir,
                                            const std::string& rules, const std::string& config,
                                            spdlog::sink_ptr sink) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  WriteFile(dir / "rules.yml", rules);
  WriteFile(dir / "nimifyd.yml", config);
  DaemonOptions opts;
  opts.flags.config_file = (dir / "nimifyd.yml").string();
  opts.flags.listen_address = "127.0.0.1:0";
  opts.flags.dry_run = true;
  opts.log_sink = std::move(sink);
  return Daemon::Start(std::move(opts));
}

}  // namespace nimify::daemon::testing
