#include "actions/memory_state_store.h"

#include <chrono>
#include <memory>

#include "common/wall_clock.h"

namespace nimify::actions {
namespace {

// Expired keys are also dropped by a full sweep every this many writes, so
// keys written once and never read again do not accumulate.
constexpr std::uint64_t kWritesPerSweep = 1024;

bool IsExpired(std::int64_t expires_at_ms, std::int64_t now) {
  return expires_at_ms != 0 && expires_at_ms <= now;
}

}  // namespace

std::int64_t WallClockMs() {
  return internal::GuardedWallClockMs();  // never back: common/wall_clock.h
}

MemoryStateStore::MemoryStateStore(std::function<std::int64_t()> clock)
    : clock_(clock ? std::move(clock) : std::function<std::int64_t()>(&WallClockMs)) {}

std::int64_t MemoryStateStore::now_ms() const { return clock_(); }

MemoryStateStore::EntryMap::iterator MemoryStateStore::FindLive(std::string_view key,
                                                                std::int64_t now) {
  auto it = entries_.find(key);
  if (it != entries_.end() && IsExpired(it->second.expires_at_ms, now)) {
    entries_.erase(it);
    return entries_.end();
  }
  return it;
}

void MemoryStateStore::SweepExpired(std::int64_t now) {
  std::erase_if(entries_,
                [now](const auto& kv) { return IsExpired(kv.second.expires_at_ms, now); });
}

std::uint64_t MemoryStateStore::Write(std::string_view key, std::string_view value,
                                      PutOptions options) {
  const std::uint64_t revision = ++last_revision_;
  auto it = entries_.find(key);
  if (it == entries_.end()) it = entries_.emplace(std::string(key), Entry{}).first;
  it->second = Entry{std::string(value), revision, options.expires_at_ms};
  if (++writes_since_sweep_ >= kWritesPerSweep) {
    writes_since_sweep_ = 0;
    SweepExpired(clock_());
  }
  return revision;
}

Result<std::optional<StoredValue>> MemoryStateStore::Get(std::string_view key) {
  MutexLock lock(mu_);
  auto it = FindLive(key, clock_());
  if (it == entries_.end()) return std::optional<StoredValue>();
  return std::optional<StoredValue>(
      StoredValue{it->first, it->second.value, it->second.revision, it->second.expires_at_ms});
}

Result<std::uint64_t> MemoryStateStore::Put(std::string_view key, std::string_view value,
                                            PutOptions options) {
  if (key.empty()) return Status::InvalidArgument("state store: empty key");
  MutexLock lock(mu_);
  return Write(key, value, options);
}

Result<std::uint64_t> MemoryStateStore::CompareAndSet(std::string_view key,
                                                      std::uint64_t expected_revision,
                                                      std::string_view value, PutOptions options) {
  if (key.empty()) return Status::InvalidArgument("state store: empty key");
  MutexLock lock(mu_);
  auto it = FindLive(key, clock_());
  const std::uint64_t current = it == entries_.end() ? 0 : it->second.revision;
  if (current != expected_revision) {
    return Status::FailedPrecondition("state store: revision of '" + std::string(key) + "' is " +
                                      std::to_string(current) + ", not " +
                                      std::to_string(expected_revision));
  }
  return Write(key, value, options);
}

Status MemoryStateStore::Delete(std::string_view key) {
  MutexLock lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    entries_.erase(it);
    ++last_revision_;  // a delete is a write: the next revision is never one seen before it
  }
  return Status::Ok();
}

Result<std::vector<StoredValue>> MemoryStateStore::List(std::string_view prefix) {
  MutexLock lock(mu_);
  const std::int64_t now = clock_();
  std::vector<StoredValue> out;
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    if (IsExpired(it->second.expires_at_ms, now)) continue;
    out.push_back(
        StoredValue{it->first, it->second.value, it->second.revision, it->second.expires_at_ms});
  }
  return out;
}

Result<std::uint64_t> MemoryStateStore::Append(std::string_view log, std::string_view record) {
  if (log.empty()) return Status::InvalidArgument("state store: empty log name");
  MutexLock lock(mu_);
  auto it = logs_.find(log);
  if (it == logs_.end()) it = logs_.emplace(std::string(log), std::vector<std::string>()).first;
  it->second.emplace_back(record);
  return static_cast<std::uint64_t>(it->second.size());
}

Result<std::vector<std::pair<std::uint64_t, std::string>>> MemoryStateStore::ReadLog(
    std::string_view log, std::uint64_t from_seq, std::size_t limit) {
  MutexLock lock(mu_);
  std::vector<std::pair<std::uint64_t, std::string>> out;
  auto it = logs_.find(log);
  if (it == logs_.end()) return out;
  const std::vector<std::string>& records = it->second;
  for (std::uint64_t seq = from_seq == 0 ? 1 : from_seq;
       seq <= records.size() && out.size() < limit; ++seq) {
    out.emplace_back(seq, records[seq - 1]);
  }
  return out;
}

}  // namespace nimify::actions

namespace nimify {

std::unique_ptr<StateStore> NewMemoryStateStore(std::function<std::int64_t()> clock) {
  return std::make_unique<actions::MemoryStateStore>(std::move(clock));
}

}  // namespace nimify
