// Durable state for the responses: silences, acknowledgements, escalation
// timers, the notification log, remediation budgets and breaker state all go
// through this one small interface, so the daemon can keep them in a file
// journal today and in a store shared by replicas (etcd) later.
//
//   NIMIFY_ASSIGN_OR_RETURN(auto store, nimify::OpenFileStateStore("/var/lib/nimify"));
//   NIMIFY_RETURN_IF_ERROR(store->Put("silence/abc", json));
//   NIMIFY_ASSIGN_OR_RETURN(auto v, store->Get("silence/abc"));   // nullopt when absent
//   // compare-and-set: write only when the revision is still the one read
//   NIMIFY_ASSIGN_OR_RETURN(auto rev, store->CompareAndSet("budget/x", v->revision, next));
//
// Keys are UTF-8 strings; a '/' separates namespaces by convention, so List
// by prefix reads one namespace. Values are opaque bytes.
#ifndef NIMIFY_STATE_STORE_H_
#define NIMIFY_STATE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nimify/export.h"
#include "nimify/status.h"

namespace nimify {

struct StoredValue {
  std::string key;
  std::string value;
  // Positive; compare-and-set reads it. Taken from one store-wide counter
  // that every write (deletes included) advances, like etcd's mod_revision:
  // it increases with every write of the key and never repeats, even for a
  // key deleted and written again, so a stale compare-and-set cannot succeed.
  std::uint64_t revision = 0;
  // Unix milliseconds after which the key no longer exists; 0: never expires.
  std::int64_t expires_at_ms = 0;
  friend bool operator==(const StoredValue&, const StoredValue&) = default;
};

struct PutOptions {
  // Unix ms; 0: never expires. Expiry is judged against the store's clock
  // (StateStore::now_ms): an expired key reads as absent and is purged later.
  std::int64_t expires_at_ms = 0;
};

// Thread safety: every method may be called from any thread, concurrently.
// Durability: when a write returns OK, it survives a crash (kill -9, power
// loss on a disk that honours fsync) of the process; a store that cannot
// persist returns kUnavailable and changes nothing.
class NIMIFY_EXPORT StateStore {
 public:
  virtual ~StateStore();

  // nullopt when absent or expired.
  virtual Result<std::optional<StoredValue>> Get(std::string_view key) = 0;
  // Writes unconditionally; returns the new revision.
  virtual Result<std::uint64_t> Put(std::string_view key, std::string_view value,
                                    PutOptions options = {}) = 0;
  // Writes only when the key's current revision is `expected_revision`
  // (0: only when the key is absent). kFailedPrecondition when it is not.
  virtual Result<std::uint64_t> CompareAndSet(std::string_view key,
                                              std::uint64_t expected_revision,
                                              std::string_view value,
                                              PutOptions options = {}) = 0;
  // OK also when the key was absent.
  virtual Status Delete(std::string_view key) = 0;
  // Every live key starting with `prefix`, sorted by key.
  virtual Result<std::vector<StoredValue>> List(std::string_view prefix) = 0;

  // Appends one record to an append-only log (the audit log). Records are
  // never rewritten; each gets a sequence number, increasing from 1.
  virtual Result<std::uint64_t> Append(std::string_view log, std::string_view record) = 0;
  // Records of `log` with sequence >= from_seq, oldest first, at most `limit`
  // (0 gives none). An unknown log has no records.
  virtual Result<std::vector<std::pair<std::uint64_t, std::string>>> ReadLog(
      std::string_view log, std::uint64_t from_seq, std::size_t limit) = 0;

  // The store's clock for expiry (Unix ms). The memory store can be given a
  // clock; the file store uses the wall clock.
  virtual std::int64_t now_ms() const = 0;
};

// In memory: for tests and for embedding without persistence. `clock`, when
// set, replaces the wall clock for expiry (event-time replays).
NIMIFY_EXPORT std::unique_ptr<StateStore> NewMemoryStateStore(
    std::function<std::int64_t()> clock = nullptr);

struct FileStateStoreOptions {
  // fsync each write before it returns (turn off only for benchmarks).
  bool sync = true;
  // Rewrite the journal as a snapshot once it holds this many bytes more than
  // the live data.
  std::uint64_t compact_after_bytes = 64u << 20;
};

// A directory holding a checksummed, fsync'ed journal of the key space and
// one append-only file per log. Opening replays the journal and the logs: a
// torn tail is cut off; at a corrupt record replay stops, keeps what precedes
// it and keeps a copy of the damaged file (<name>.corrupt-<unix ms>); both
// are reported (GetFileStateStoreInfo), never a crash. See docs/actions.md,
// "State store". kUnavailable when the directory cannot be created or locked
// (one process per directory).
NIMIFY_EXPORT Result<std::unique_ptr<StateStore>> OpenFileStateStore(
    const std::string& directory, FileStateStoreOptions options = {});

// What opening a file store found (for logs and metrics).
struct FileStateStoreInfo {
  std::uint64_t records_replayed = 0;
  std::uint64_t bytes_discarded = 0;  // a torn or corrupt tail, cut off
  std::vector<std::string> notes;     // one line per problem found
};
// The info of a store returned by OpenFileStateStore (empty for other stores).
NIMIFY_EXPORT FileStateStoreInfo GetFileStateStoreInfo(const StateStore& store);

}  // namespace nimify

#endif  // NIMIFY_STATE_STORE_H_
