// A state dir that fills up or turns read-only (issue 11, docs/reliability.md
// "Faults and soak"): nimifyd keeps evaluating and notifying, says so in its
// log, /metrics and /-/ready, refuses silences and acks with 503, and writes
// out what it held once space returns, so a kill -9 after that loses nothing.
//
// The daemon test fills a real 2 MiB tmpfs (we are root in CI; elsewhere the
// test skips, and fails when CI=true). Linux refuses to remount a filesystem
// read-only while a process holds files open for writing (EBUSY), so a disk
// that turns read-only under nimifyd (ext4 errors=remount-ro) is reproduced
// with the store's fault hooks: EROFS and EIO, with partial writes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actions/file_state_store.h"
#include "daemon/test_http.h"
#include "nimify/state_store.h"

namespace nimify::daemon {
namespace {

using testing::FreePort;
using testing::ReadAll;
using testing::WaitFor;
using testing::Get;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Post;
namespace fs = std::filesystem;

// ---- the store alone: read-only and failing disks ---------------------------------

fs::path FreshDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("nimify_state_faults_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  return dir;
}

struct FaultSwitch {
  std::atomic<int> err{0};              // 0: the disk works
  std::atomic<std::size_t> partial{0};  // bytes a failing write still writes
  std::atomic<bool> truncate_fails{false};
};

actions::FileStateStoreHooks HoldingHooks(FaultSwitch* faults, std::vector<std::string>* changes) {
  actions::FileStateStoreHooks hooks;
  hooks.hold_failed_writes = true;
  hooks.inject_fault = [faults](actions::FileOp op, const std::string&, std::size_t* partial) {
    const int err = faults->err.load();
    if (err == 0) return 0;
    if (op == actions::FileOp::kTruncate && !faults->truncate_fails.load()) return 0;
    if (op == actions::FileOp::kWrite) *partial = faults->partial.load();
    return err;
  };
  hooks.on_writable_change = [changes](bool writable, const std::string& error) {
    changes->push_back(writable ? "writable" : "unwritable: " + error);
  };
  return hooks;
}

std::vector<std::string> LogRecords(StateStore& store) {
  std::vector<std::string> out;
  Result<std::vector<std::pair<std::uint64_t, std::string>>> r = store.ReadLog("audit", 1, 1000);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return out;
  for (std::size_t i = 0; i < r->size(); ++i) {
    EXPECT_EQ((*r)[i].first, i + 1);
    out.push_back((*r)[i].second);
  }
  return out;
}

TEST(HeldStateWritesTest, ReadOnlyDiskHoldsWritesAndWritesThemOutWhenWritable) {
  const fs::path dir = FreshDir("erofs");
  FaultSwitch faults;
  std::vector<std::string> changes;
  {
    Result<std::unique_ptr<StateStore>> opened =
        actions::OpenFileStateStoreWithHooks(dir.string(), {}, HoldingHooks(&faults, &changes));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    StateStore& store = **opened;
    ASSERT_TRUE(store.Put("alert/a", "1").ok());
    ASSERT_TRUE(store.Put("budget/x", "old").ok());
    ASSERT_TRUE(store.Append("audit", "r1").ok());

    faults.err = EROFS;
    // Background writes are held: OK, visible, and nothing rolls back.
    ASSERT_TRUE(store.Put("alert/b", "2").ok());
    ASSERT_TRUE(store.Put("budget/x", "spent").ok());
    ASSERT_TRUE(store.Delete("alert/a").ok());
    Result<std::uint64_t> seq = store.Append("audit", "r2");
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, 2u);
    ASSERT_TRUE(store.Append("audit", "r3").ok());
    ASSERT_TRUE(store.Append("other-log", "o1").ok());  // a log the disk cannot create
    EXPECT_EQ(store.Get("budget/x")->value().value, "spent");
    EXPECT_FALSE(store.Get("alert/a")->has_value());
    EXPECT_THAT(LogRecords(store), ::testing::ElementsAre("r1", "r2", "r3"));

    // A write a client is answered for fails instead, and changes nothing.
    {
      actions::DurableWritesScope durable({"silence/"});
      Result<std::uint64_t> s = store.Put("silence/s1", "x");
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
      EXPECT_THAT(std::string(s.status().message()), HasSubstr("Read-only file system"));
      EXPECT_TRUE(store.Put("alert/c", "3").ok());  // not covered by the scope: held
    }
    EXPECT_FALSE(store.Get("silence/s1")->has_value());

    std::optional<actions::FileStateStoreStats> st = actions::GetFileStateStoreStats(store);
    ASSERT_TRUE(st.has_value());
    EXPECT_FALSE(st->writable);
    EXPECT_THAT(st->write_error, HasSubstr("Read-only file system"));
    EXPECT_GT(st->unwritable_since_ms, 0);
    EXPECT_TRUE(st->journal_held);
    EXPECT_EQ(st->held_log_records, 3u);
    EXPECT_GE(st->journal_write_failures, 4u);
    EXPECT_GE(st->log_write_failures, 3u);
    // Told once, not once per write.
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_THAT(changes[0], HasSubstr("unwritable: "));

    // Retries while the disk still refuses change nothing (and are rate-limited).
    EXPECT_FALSE(actions::RetryHeldWrites(store).ok());
    EXPECT_EQ(changes.size(), 1u);

    faults.err = 0;
    // The first retry after the failure waits out the retry interval.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!actions::RetryHeldWrites(store).ok() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    st = actions::GetFileStateStoreStats(store);
    EXPECT_TRUE(st->writable);
    EXPECT_FALSE(st->journal_held);
    EXPECT_EQ(st->held_log_records, 0u);
    EXPECT_EQ(st->recoveries, 1u);
    EXPECT_EQ(st->unwritable_since_ms, 0);
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[1], "writable");
    {
      actions::DurableWritesScope durable({"silence/"});
      ASSERT_TRUE(store.Put("silence/s2", "y").ok());
    }
    ASSERT_TRUE(store.Append("audit", "r4").ok());
  }  // closed without any shutdown step, as kill -9 would leave it

  Result<std::unique_ptr<StateStore>> reopened = OpenFileStateStore(dir.string());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  StateStore& store = **reopened;
  EXPECT_FALSE(store.Get("alert/a")->has_value());
  EXPECT_EQ(store.Get("alert/b")->value().value, "2");
  EXPECT_EQ(store.Get("alert/c")->value().value, "3");
  EXPECT_EQ(store.Get("budget/x")->value().value, "spent");
  EXPECT_FALSE(store.Get("silence/s1")->has_value());
  EXPECT_EQ(store.Get("silence/s2")->value().value, "y");
  EXPECT_THAT(LogRecords(store), ::testing::ElementsAre("r1", "r2", "r3", "r4"));
  Result<std::vector<std::pair<std::uint64_t, std::string>>> other =
      store.ReadLog("other-log", 1, 10);
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].second, "o1");
  fs::remove_all(dir);
}

// EIO in the middle of a record, and the truncate that would cut it off fails
// too: the journal keeps a torn record. Opening it again (after a crash, held
// writes not yet written) cuts the torn record off and keeps what preceded it.
TEST(HeldStateWritesTest, TornRecordLeftByAFailingDiskStillLoads) {
  const fs::path dir = FreshDir("eio");
  FaultSwitch faults;
  std::vector<std::string> changes;
  {
    Result<std::unique_ptr<StateStore>> opened =
        actions::OpenFileStateStoreWithHooks(dir.string(), {}, HoldingHooks(&faults, &changes));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    StateStore& store = **opened;
    ASSERT_TRUE(store.Put("ack/a1", "kept").ok());
    ASSERT_TRUE(store.Append("audit", "r1").ok());
    faults.partial = 11;
    faults.truncate_fails = true;
    faults.err = EIO;
    ASSERT_TRUE(store.Put("alert/x", std::string(200, 'v')).ok());  // held in memory
    ASSERT_TRUE(store.Append("audit", "r2").ok());
    EXPECT_EQ(store.Get("alert/x")->value().value, std::string(200, 'v'));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_THAT(changes[0], HasSubstr("Input/output error"));
  }
  EXPECT_GT(fs::file_size(dir / "journal"), 0u);
  Result<std::unique_ptr<StateStore>> reopened = OpenFileStateStore(dir.string());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->Get("ack/a1")->value().value, "kept");
  EXPECT_FALSE((*reopened)->Get("alert/x")->has_value());  // held, never acknowledged as durable
  EXPECT_THAT(LogRecords(**reopened), ::testing::ElementsAre("r1"));
  const FileStateStoreInfo info = GetFileStateStoreInfo(**reopened);
  EXPECT_GT(info.bytes_discarded, 0u);
  ASSERT_FALSE(info.notes.empty());
  EXPECT_THAT(info.notes[0], HasSubstr("torn"));
  fs::remove_all(dir);
}

// Without hold_failed_writes (the library default, the CLI) a failed write
// still fails, as the StateStore contract says.
TEST(HeldStateWritesTest, DefaultStoreStillFailsWrites) {
  const fs::path dir = FreshDir("strict");
  FaultSwitch faults;
  std::vector<std::string> changes;
  actions::FileStateStoreHooks hooks = HoldingHooks(&faults, &changes);
  hooks.hold_failed_writes = false;
  Result<std::unique_ptr<StateStore>> opened =
      actions::OpenFileStateStoreWithHooks(dir.string(), {}, std::move(hooks));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  faults.err = ENOSPC;
  EXPECT_EQ((*opened)->Put("k", "v").status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE((*opened)->Get("k")->has_value());
  EXPECT_FALSE((*opened)->Append("audit", "r").ok());
  faults.err = 0;
  EXPECT_TRUE((*opened)->Put("k", "v").ok());
  opened->reset();
  fs::remove_all(dir);
}

// ---- nimifyd on a state dir that fills up ----------------------------------------

// The value of an unlabeled sample, or of the first sample whose line starts
// with `series` (name and labels as written), in a /metrics body; -1 if absent.
double MetricValue(const std::string& body, const std::string& series) {
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0)
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return -1;
}

// How many times `needle` occurs in `text`.
std::size_t Count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// The activeAt of the alert with instance=`instance` in /api/v1/alerts.
std::string ActiveAtOf(const std::string& body, const std::string& instance) {
  rapidjson::Document d;
  if (d.Parse(body.c_str()).HasParseError() || !d.IsObject() || !d.HasMember("data")) return {};
  const auto& data = d["data"];
  if (!data.IsObject() || !data.HasMember("alerts") || !data["alerts"].IsArray()) return {};
  for (const auto& a : data["alerts"].GetArray()) {
    if (!a.IsObject() || !a.HasMember("labels") || !a.HasMember("activeAt")) continue;
    auto it = a["labels"].FindMember("instance");
    if (it != a["labels"].MemberEnd() && it->value.IsString() &&
        instance == it->value.GetString()) {
      return a["activeAt"].GetString();
    }
  }
  return {};
}

std::string SilenceIdOf(const std::string& body) {
  std::smatch m;
  static const std::regex re("\"silenceID\":\"([^\"]+)\"");
  return std::regex_search(body, m, re) ? m[1].str() : std::string();
}

constexpr const char* kConfig = R"(global: {evaluation_interval: 1s}
rule_files: [rules.yml]
engine: {allowed_lateness: 1s, shards: 1}
route:
  receiver: team
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: team
    notify: [log]
handlers:
  log: {type: log}
)";

constexpr const char* kRules = R"(groups:
  - name: faults
    interval: 1s
    rules:
      - alert: Down
        expr: up{job="x"} == 0
        labels: {severity: page}
)";

class StateDirFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "state");
    std::ofstream(dir_ / "nimifyd.yml") << kConfig;
    std::ofstream(dir_ / "rules.yml") << kRules;
  }
  bool MountTmpfs() {
    if (::mount("tmpfs", (dir_ / "state").c_str(), "tmpfs", 0, "size=2m") != 0) {
      mount_error_ = std::strerror(errno);
      return false;
    }
    mounted_ = true;
    return true;
  }
  // A 16 MiB ext4 image on a loop device, mounted with errors=remount-ro.
  bool MountExt4() {
    const std::string image = (dir_ / "state.img").string();
    const std::string cmd = "truncate -s 16M " + image + " && mkfs.ext4 -q -F " + image +
                            " >/dev/null 2>&1 && mount -o loop,errors=remount-ro " + image + " " +
                            (dir_ / "state").string() + " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) {
      mount_error_ = "mounting an ext4 image on a loop device failed";
      return false;
    }
    mounted_ = true;
    return true;
  }
  bool MountExt4Existing(const std::string& image) {
    const std::string cmd =
        "mount -o loop " + image + " " + (dir_ / "state").string() + " 2>/dev/null";
    mounted_ = std::system(cmd.c_str()) == 0;
    return mounted_;
  }
  // What the kernel does after an ext4 error with errors=remount-ro: the
  // filesystem turns read-only under open files.
  bool TriggerExt4Error() {
    std::string device;
    std::ifstream mounts("/proc/self/mounts");
    for (std::string dev, at, rest; mounts >> dev >> at && std::getline(mounts, rest);) {
      if (at == (dir_ / "state").string()) device = dev;
    }
    if (device.empty()) return false;
    std::ofstream trigger("/sys/fs/ext4/" + fs::path(device).filename().string() +
                          "/trigger_fs_error");
    trigger << "nimify state_faults_test\n";
    trigger.flush();
    return trigger.good();
  }
  void TearDown() override {
    Kill();
    if (mounted_) ::umount2((dir_ / "state").c_str(), MNT_DETACH);
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void Start() {
    port_ = FreePort();
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open((dir_ / "nimifyd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      const std::string config = "--config.file=" + (dir_ / "nimifyd.yml").string();
      const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      const std::string state = "--storage.state-dir=" + (dir_ / "state").string();
      ::execl(NIMIFYD_PATH, NIMIFYD_PATH, config.c_str(), listen.c_str(), state.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_TRUE(
        WaitFor([&] { return Get(port_, "/-/healthy").status == 200; }, std::chrono::seconds(20)))
        << Log();
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  std::string Log() const { return ReadAll(dir_ / "nimifyd.log"); }
  std::string Metrics() const { return Get(port_, "/metrics").body; }
  void Import(const std::string& text) {
    Post(port_, "/api/v1/import/prometheus", text, "text/plain");
  }
  testing::RawResponse PostSilence(const std::string& comment) {
    return Post(port_, "/api/v2/silences",
                R"({"matchers":[{"name":"alertname","value":"Other","isRegex":false}],)"
                R"("startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z",)"
                R"("createdBy":"test","comment":")" +
                    comment + R"("})",
                "application/json");
  }
  testing::RawResponse PostAck(const std::string& comment) {
    return Post(
        port_, "/api/v2/acks",
        R"({"matchers":["alertname=Down"],"createdBy":"test","comment":")" + comment + R"("})",
        "application/json");
  }
  // Fills the state dir's filesystem; the filler is removed to free it.
  bool Fill() {
    const int fd = ::open((dir_ / "state" / "filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return false;
    const std::string chunk(4096, 'f');
    for (int i = 0; i < 4096; ++i) {
      if (::write(fd, chunk.data(), chunk.size()) < 0) {
        const bool full = errno == ENOSPC;
        ::close(fd);
        return full;
      }
    }
    ::close(fd);
    return false;
  }

  fs::path dir_;
  bool mounted_ = false;
  std::string mount_error_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

TEST_F(StateDirFaultsTest, FullStateDirKeepsAlertingAndLosesNothingAcknowledged) {
  if (!MountTmpfs()) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << "mounting a tmpfs failed (required in CI, which runs as root): " << mount_error_;
    }
    GTEST_SKIP() << "mounting a tmpfs needs root: " << mount_error_;
  }
  Start();
  // An alert fires and is notified; a silence and an ack are acknowledged.
  std::string active_a;
  ASSERT_TRUE(WaitFor(
      [&] {
        Import("up{job=\"x\",instance=\"a\"} 0\n");
        active_a = ActiveAtOf(Get(port_, "/api/v1/alerts").body, "a");
        return !active_a.empty() &&
               MetricValue(Metrics(), "nimify_responder_notifications_total") >= 1;
      },
      std::chrono::seconds(20)))
      << Log();
  const testing::RawResponse s1 = PostSilence("before");
  ASSERT_EQ(s1.status, 200) << s1.body;
  const testing::RawResponse a1 = PostAck("before");
  ASSERT_EQ(a1.status, 200) << a1.body;
  EXPECT_EQ(MetricValue(Metrics(), "nimify_state_writable"), 1);

  ASSERT_TRUE(Fill()) << "the filler did not fill the tmpfs";
  // New alerts fire and are notified while the disk is full. tmpfs still
  // takes appends that fit in a file's last page, so enough of them come to
  // make nimifyd's writes cross pages (the alert state snapshot grows with them).
  std::string samples = "up{job=\"x\",instance=\"a\"} 0\n";
  for (int i = 0; i < 30; ++i)
    samples += "up{job=\"x\",instance=\"b" + std::to_string(i) + "\"} 0\n";
  const double notified = MetricValue(Metrics(), "nimify_responder_notifications_total");
  std::string active_b;
  ASSERT_TRUE(WaitFor(
      [&] {
        Import(samples);
        active_b = ActiveAtOf(Get(port_, "/api/v1/alerts").body, "b29");
        const std::string m = Metrics();
        return !active_b.empty() &&
               MetricValue(m, "nimify_responder_notifications_total") > notified &&
               MetricValue(m, "nimify_state_writable") == 0;
      },
      std::chrono::seconds(20)))
      << Metrics() << Log();
  EXPECT_EQ(ActiveAtOf(Get(port_, "/api/v1/alerts").body, "a"), active_a);
  const std::string during = Metrics();
  EXPECT_GT(MetricValue(during, "nimify_state_write_failures_by_op_total{op=\"journal\"}") +
                MetricValue(during, "nimify_state_write_failures_by_op_total{op=\"log\"}"),
            0)
      << during;
  EXPECT_GT(MetricValue(during, "nimify_state_write_failures_total"), 0);
  EXPECT_GT(MetricValue(during, "nimify_state_unwritable_since_seconds"), 0);
  const testing::RawResponse ready = Get(port_, "/-/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_THAT(ready.body, HasSubstr("does not take writes"));
  EXPECT_THAT(ready.body, HasSubstr("No space left on device"));
  // What a client would be told is saved, is refused instead.
  const testing::RawResponse s2 = PostSilence("during");
  EXPECT_EQ(s2.status, 503) << s2.body;
  EXPECT_THAT(s2.body, HasSubstr("No space left on device"));
  EXPECT_EQ(PostAck("during").status, 503);
  // Keeps evaluating: more evaluations, the alerts stay firing.
  const double evals = MetricValue(Metrics(), "nimify_rule_evaluation_instants_total");
  ASSERT_TRUE(WaitFor(
      [&] {
        Import(samples);
        return MetricValue(Metrics(), "nimify_rule_evaluation_instants_total") >= evals + 2;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(Count(Log(), "state dir does not take writes"), 1u) << Log();

  // Space returns: the held state is written and the state dir is writable again.
  fs::remove(dir_ / "state" / "filler");
  ASSERT_TRUE(WaitFor(
      [&] {
        Import(samples);
        const std::string m = Metrics();
        return MetricValue(m, "nimify_state_writable") == 1 &&
               MetricValue(m, "nimify_state_held_log_records") == 0;
      },
      std::chrono::seconds(15)))
      << Metrics() << Log();
  EXPECT_EQ(MetricValue(Metrics(), "nimify_state_recoveries_total"), 1);
  EXPECT_THAT(Get(port_, "/-/ready").body, Not(HasSubstr("does not take writes")));
  EXPECT_EQ(Count(Log(), "state dir takes writes again"), 1u);
  const testing::RawResponse s3 = PostSilence("after");
  ASSERT_EQ(s3.status, 200) << s3.body;
  // Let the keeper write the alert state of this evaluation, then kill -9.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const double audit = MetricValue(Metrics(), "nimify_responder_audit_records_total");
  Kill();

  // On disk: everything acknowledged, the alert state of both alerts, and
  // every audit record, those held while the disk was full included.
  {
    Result<std::unique_ptr<StateStore>> store = OpenFileStateStore((dir_ / "state").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_TRUE((*store)->Get("silence/" + SilenceIdOf(s1.body))->has_value());
    EXPECT_TRUE((*store)->Get("silence/" + SilenceIdOf(s3.body))->has_value());
    Result<std::vector<StoredValue>> silences = (*store)->List("silence/");
    ASSERT_TRUE(silences.ok());
    EXPECT_EQ(silences->size(), 2u);  // not the one refused
    Result<std::vector<StoredValue>> acks = (*store)->List("ack/");
    ASSERT_TRUE(acks.ok());
    ASSERT_EQ(acks->size(), 1u);
    EXPECT_THAT(acks->front().value, HasSubstr("\"comment\":\"before\""));
    Result<std::optional<StoredValue>> alerts = (*store)->Get("engine/alerts");
    ASSERT_TRUE(alerts.ok() && alerts->has_value());
    EXPECT_THAT((*alerts)->value, HasSubstr("\"instance\":\"b29\""));
    Result<std::vector<std::pair<std::uint64_t, std::string>>> records =
        (*store)->ReadLog("audit", 1, 1000000);
    ASSERT_TRUE(records.ok());
    EXPECT_GE(static_cast<double>(records->size()), audit);
    EXPECT_GT(audit, 0);
  }

  // Restarted, nimifyd has it all: the alerts keep their active-since times.
  Start();
  ASSERT_TRUE(WaitFor(
      [&] {
        Import(samples);
        const std::string body = Get(port_, "/api/v1/alerts").body;
        return ActiveAtOf(body, "a") == active_a && ActiveAtOf(body, "b29") == active_b;
      },
      std::chrono::seconds(20)))
      << Get(port_, "/api/v1/alerts").body << Log();
  const std::string silences = Get(port_, "/api/v2/silences").body;
  EXPECT_THAT(silences, HasSubstr("\"comment\":\"before\""));
  EXPECT_THAT(silences, HasSubstr("\"comment\":\"after\""));
  EXPECT_THAT(silences, Not(HasSubstr("\"comment\":\"during\"")));
  EXPECT_THAT(Get(port_, "/api/v2/acks").body, HasSubstr("\"comment\":\"before\""));
  EXPECT_EQ(MetricValue(Metrics(), "nimify_state_writable"), 1);
}

// The state dir's ext4 turns read-only under nimifyd after an error (the
// kernel's errors=remount-ro; a remount by hand is refused with EBUSY). The
// kernel does not let it back to read-write (its journal was aborted), so
// this checks the read-only half: alerting goes on, clients get 503, and what
// was acknowledged before is on the disk after fsck. Skips when loop devices
// or mkfs.ext4 are missing (CI covers the full disk with tmpfs above).
TEST_F(StateDirFaultsTest, StateDirTurnedReadOnlyKeepsAlerting) {
  if (!MountExt4()) GTEST_SKIP() << mount_error_;
  Start();
  ASSERT_TRUE(WaitFor(
      [&] {
        Import("up{job=\"x\",instance=\"a\"} 0\n");
        return !ActiveAtOf(Get(port_, "/api/v1/alerts").body, "a").empty() &&
               MetricValue(Metrics(), "nimify_responder_notifications_total") >= 1;
      },
      std::chrono::seconds(20)))
      << Log();
  const testing::RawResponse s1 = PostSilence("before");
  ASSERT_EQ(s1.status, 200) << s1.body;

  ASSERT_TRUE(TriggerExt4Error());
  const double notified = MetricValue(Metrics(), "nimify_responder_notifications_total");
  ASSERT_TRUE(WaitFor(
      [&] {
        Import("up{job=\"x\",instance=\"a\"} 0\nup{job=\"x\",instance=\"b\"} 0\n");
        const std::string m = Metrics();
        return !ActiveAtOf(Get(port_, "/api/v1/alerts").body, "b").empty() &&
               MetricValue(m, "nimify_responder_notifications_total") > notified &&
               MetricValue(m, "nimify_state_writable") == 0;
      },
      std::chrono::seconds(20)))
      << Metrics() << Log();
  // The reason is the first error the store met: EROFS, or EIO when that
  // was an fsync of data the aborted journal did not write (kernel timing).
  const auto read_only_reason =
      ::testing::AnyOf(HasSubstr("Read-only file system"), HasSubstr("Input/output error"));
  const testing::RawResponse ready = Get(port_, "/-/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_THAT(ready.body, read_only_reason);
  const testing::RawResponse s2 = PostSilence("during");
  EXPECT_EQ(s2.status, 503) << s2.body;
  EXPECT_THAT(s2.body, read_only_reason);
  EXPECT_EQ(PostAck("during").status, 503);
  EXPECT_EQ(Count(Log(), "state dir does not take writes"), 1u) << Log();
  Kill();

  // After fsck, the silence acknowledged before is there, the refused one is not.
  ASSERT_EQ(::umount2((dir_ / "state").c_str(), 0), 0) << std::strerror(errno);
  mounted_ = false;
  const std::string image = (dir_ / "state.img").string();
  ASSERT_NE(std::system(("e2fsck -fy " + image + " >/dev/null 2>&1").c_str()), -1);
  ASSERT_TRUE(MountExt4Existing(image));
  Result<std::unique_ptr<StateStore>> store = OpenFileStateStore((dir_ / "state").string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<std::vector<StoredValue>> silences = (*store)->List("silence/");
  ASSERT_TRUE(silences.ok());
  ASSERT_EQ(silences->size(), 1u);
  EXPECT_EQ(silences->front().key, "silence/" + SilenceIdOf(s1.body));
}

}  // namespace
}  // namespace nimify::daemon
