// The file-backed StateStore (see OpenFileStateStore and docs/actions.md,
// "State store", for the on-disk format), plus the seams its tests use to
// inject I/O failures and a clock. Not part of the public API.
#ifndef NIMIFY_ACTIONS_FILE_STATE_STORE_H_
#define NIMIFY_ACTIONS_FILE_STATE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/state_store.h"
#include "nimify/status.h"

namespace nimify::actions {

// Record framing shared by the journal and the log files:
//   u32 payload length (LE) | u32 CRC-32C of the length bytes and payload (LE) | payload
inline constexpr std::size_t kFrameHeaderBytes = 8;
// Larger lengths are corruption; larger writes are refused.
inline constexpr std::uint32_t kMaxRecordPayloadBytes = 64u << 20;

// The I/O calls a test can make fail.
enum class FileOp { kWrite, kSync, kTruncate, kRename };

struct FileStateStoreHooks {
  // Called before each I/O call on a store file or directory: return 0 to let
  // it run, or an errno to make it fail with. For kWrite, setting
  // *partial_bytes writes that many bytes before failing, as a full disk does.
  std::function<int(FileOp op, const std::string& path, std::size_t* partial_bytes)> inject_fault;
  // Replaces the wall clock for expiry.
  std::function<std::int64_t()> clock;
  // nimifyd's mode for a state dir that fills up or turns read-only: a write
  // the disk refuses is kept in memory and reported OK instead of failing
  // (evaluation and responses must go on), except the writes a
  // DurableWritesScope covers. What is held is written out (the journal as a
  // full snapshot, held log records in order) by RetryHeldWrites or by the
  // first write at least a second after the last failure. Held writes are
  // lost if the process dies before that; OK no longer means durable for them.
  bool hold_failed_writes = false;
  // Called when the store turns unable to write (false, the error) and able
  // again (true, ""), once per change. Called with store locks held: it must
  // not call the store.
  std::function<void(bool writable, const std::string& error)> on_writable_change;
};

// While one lives on a thread, puts and deletes of keys starting with one of
// `prefixes` made from that thread are never held (hold_failed_writes): they
// fail with kUnavailable, so a client is only told "done" for what is on disk.
// Scopes nest; the innermost one counts.
class DurableWritesScope {
 public:
  explicit DurableWritesScope(std::initializer_list<std::string_view> prefixes);
  DurableWritesScope(const DurableWritesScope&) = delete;
  DurableWritesScope& operator=(const DurableWritesScope&) = delete;
  ~DurableWritesScope();

  // Whether the innermost scope of this thread covers `key`.
  static bool Covers(std::string_view key);

 private:
  std::vector<std::string_view> prefixes_;
  const DurableWritesScope* outer_;
};

// Something that holds writes back from disk until GroupSyncScope::Commit
// (a file store). Thread safety: SyncDeferred may be called from any thread.
class DeferredSyncTarget {
 public:
  virtual ~DeferredSyncTarget() = default;
  // Syncs every file that has writes not yet synced; the first error.
  virtual Status SyncDeferred() = 0;
};

// While one lives on a thread, a file store's journal and log appends made
// from that thread are written at once (readers and a kill -9 see them) but
// synced only by Commit: one fdatasync per file for a batch of writes. For a
// caller that acts on its writes only after Commit: the responder commits its
// pass's records before it hands the pass's calls to the workers, so a step
// is still on disk before it runs. Writes a DurableWritesScope covers are
// synced at once, as without the scope. A failed commit leaves the store as a
// failed write does (unwritable; in hold mode the journal is written out again
// from memory), and its log records may not survive a power failure.
// Scopes nest; the innermost one collects. Thread safety: one thread's object.
class GroupSyncScope {
 public:
  GroupSyncScope();
  GroupSyncScope(const GroupSyncScope&) = delete;
  GroupSyncScope& operator=(const GroupSyncScope&) = delete;
  ~GroupSyncScope();  // commits what is still pending

  Status Commit();

  // The scope on this thread, or null.
  static GroupSyncScope* Current();
  // A target with writes pending on this thread (called by the stores).
  void Add(DeferredSyncTarget* target);

 private:
  std::vector<DeferredSyncTarget*> targets_;
  GroupSyncScope* const outer_;
};

// Writes out what a store with hold_failed_writes holds, or checks that an
// unwritable store can write again; at most once a second (sooner calls
// return at once). OK when nothing is held and the store can write; a no-op
// for other stores.
Status RetryHeldWrites(StateStore& store);

Result<std::unique_ptr<StateStore>> OpenFileStateStoreWithHooks(const std::string& directory,
                                                                FileStateStoreOptions options,
                                                                FileStateStoreHooks hooks);

// The info of a file store, or nullptr for other stores.
const FileStateStoreInfo* FileStateStoreInfoOf(const StateStore& store);

struct FileStateStoreStats {
  std::uint64_t journal_bytes = 0;
  std::uint64_t live_bytes = 0;  // what a snapshot written now would hold
  std::uint64_t compactions = 0;
  std::string last_compaction_error;  // empty when the last one succeeded

  // Whether the last write (or retry) reached the disk; see hold_failed_writes.
  bool writable = true;
  std::string write_error;               // the first error of this unwritable spell
  std::int64_t unwritable_since_ms = 0;  // wall clock; 0 while writable
  // Writes the disk refused (held or failed), by what was written.
  std::uint64_t journal_write_failures = 0;
  std::uint64_t log_write_failures = 0;
  std::uint64_t snapshot_write_failures = 0;
  bool journal_held = false;  // the journal lacks writes held in memory
  std::uint64_t held_log_records = 0;
  std::uint64_t refused_log_records = 0;  // not held: the hold limit was reached
  std::uint64_t recoveries = 0;           // unwritable spells that ended
};
// nullopt for stores that are not file stores.
std::optional<FileStateStoreStats> GetFileStateStoreStats(const StateStore& store);

// A log's file name under <dir>/logs/: bytes outside [A-Za-z0-9._-], and a
// leading '.', become %XX, so any name maps to one safe file and back.
// nullopt when the name is empty or its file name would be too long.
std::optional<std::string> LogFileName(std::string_view log);
// The log name of a file written by LogFileName, or nullopt for other files.
std::optional<std::string> LogNameFromFileName(std::string_view file_name);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_FILE_STATE_STORE_H_
