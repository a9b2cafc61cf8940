#include "actions/file_state_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <system_error>
#include <utility>
#include <vector>

#include "actions/crc32c.h"
#include "actions/memory_state_store.h"
#include "common/mutex.h"

namespace nimify::actions {
namespace {

constexpr std::string_view kJournalFile = "journal";
constexpr std::string_view kSnapshotTempFile = "journal.tmp";
constexpr std::string_view kLockFile = "LOCK";
constexpr std::string_view kLogsDir = "logs";
constexpr std::string_view kLogSuffix = ".log";
constexpr std::string_view kJournalMagic = "nimify-state-journal-v1";
constexpr std::string_view kLogMagic = "nimify-state-log-v1";
// Expired keys are dropped from memory (and then from the next snapshot) by a
// sweep every this many writes.
constexpr std::uint64_t kWritesPerSweep = 1024;
constexpr std::size_t kMaxLogFileNameBytes = 200;
constexpr std::size_t kReadChunkBytes = 1 << 20;
// While the disk refuses writes, held log records beyond this many per log
// are refused (memory stays bounded when a disk stays full for long).
constexpr std::size_t kMaxHeldLogRecords = 100000;
// How often an unwritable store tries the disk again.
constexpr std::int64_t kRetryIntervalMs = 1000;

std::int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

thread_local const DurableWritesScope* current_durable_scope = nullptr;

// The first byte of every record payload.
enum RecordType : char {
  kHeader = 'H',    // magic; the first record of every file
  kPut = 'P',       // revision, expires_at_ms, key length, key, value
  kCas = 'C',       // as kPut, written by CompareAndSet
  kDelete = 'D',    // revision, key
  kCounter = 'R',   // revision: the store-wide counter, for snapshots
  kLogEntry = 'L',  // sequence, record
};

void AppendFixed32(std::string* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}
void AppendFixed64(std::string* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}
std::uint32_t ReadFixed32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
std::uint64_t ReadFixed64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

void AppendFrame(std::string* out, std::string_view payload) {
  const std::size_t start = out->size();
  AppendFixed32(out, static_cast<std::uint32_t>(payload.size()));
  const std::uint32_t crc = Crc32c(payload, Crc32c(std::string_view(out->data() + start, 4)));
  AppendFixed32(out, crc);
  out->append(payload);
}

std::uint64_t FrameSize(std::size_t payload_bytes) { return kFrameHeaderBytes + payload_bytes; }

std::string HeaderPayload(std::string_view magic) {
  std::string p(1, kHeader);
  p.append(magic);
  return p;
}

std::string PutPayload(RecordType type, std::uint64_t revision, std::int64_t expires_at_ms,
                       std::string_view key, std::string_view value) {
  std::string p(1, type);
  AppendFixed64(&p, revision);
  AppendFixed64(&p, static_cast<std::uint64_t>(expires_at_ms));
  AppendFixed32(&p, static_cast<std::uint32_t>(key.size()));
  p.append(key);
  p.append(value);
  return p;
}
constexpr std::size_t kPutOverheadBytes = 1 + 8 + 8 + 4;

std::string DeletePayload(std::uint64_t revision, std::string_view key) {
  std::string p(1, kDelete);
  AppendFixed64(&p, revision);
  p.append(key);
  return p;
}

std::string CounterPayload(std::uint64_t revision) {
  std::string p(1, kCounter);
  AppendFixed64(&p, revision);
  return p;
}

std::string LogEntryPayload(std::uint64_t seq, std::string_view record) {
  std::string p(1, kLogEntry);
  AppendFixed64(&p, seq);
  p.append(record);
  return p;
}
constexpr std::size_t kLogEntryOverheadBytes = 1 + 8;

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

Status IoError(std::string_view what, const std::string& path, int err) {
  return Status::Unavailable("state store: " + std::string(what) + " " + path + ": " +
                             ErrnoText(err));
}

std::string JoinPath(const std::string& dir, std::string_view name) {
  return dir + "/" + std::string(name);
}

bool IsExpired(std::int64_t expires_at_ms, std::int64_t now) {
  return expires_at_ms != 0 && expires_at_ms <= now;
}

// An open store file and the length of its valid prefix. Bytes past `size`
// are the leftovers of a failed write; `needs_repair` says they may exist.
struct StoreFile {
  std::string path;
  int fd = -1;
  std::uint64_t size = 0;
  bool needs_repair = false;
  bool sync_pending = false;  // written under a GroupSyncScope, not synced yet

  StoreFile() = default;
  StoreFile(const StoreFile&) = delete;
  StoreFile& operator=(const StoreFile&) = delete;
  ~StoreFile() {
    if (fd >= 0) ::close(fd);
  }
};

struct LogFile {
  StoreFile file;                      // fd -1: not created yet (the disk refused it)
  std::vector<std::uint64_t> offsets;  // offsets[i]: where the frame of sequence i+1 starts
  // Records the disk refused (hold_failed_writes), numbered after `offsets`.
  std::deque<std::string> held;
};

// Reads frames in order through a large buffer, so replay costs few syscalls.
class FrameReader {
 public:
  FrameReader(int fd, const std::string& path, std::uint64_t file_size)
      : fd_(fd), path_(path), file_size_(file_size) {}

  enum class Outcome { kRecord, kEnd, kTorn, kCorrupt };

  // Reads the frame at `offset`. kTorn: the file ends inside it; kCorrupt: its
  // length or checksum is wrong (`why` says which). I/O errors are a Status.
  Result<Outcome> Next(std::uint64_t offset, std::string_view* payload, std::string* why) {
    if (offset == file_size_) return Outcome::kEnd;
    if (file_size_ - offset < kFrameHeaderBytes) {
      *why = "incomplete record header";
      return Outcome::kTorn;
    }
    std::string_view header;
    NIMIFY_RETURN_IF_ERROR(Fetch(offset, kFrameHeaderBytes, &header));
    const std::uint32_t length = ReadFixed32(header.data());
    const std::uint32_t stored_crc = ReadFixed32(header.data() + 4);
    if (length > kMaxRecordPayloadBytes) {
      *why = "record length " + std::to_string(length) + " exceeds the limit";
      return Outcome::kCorrupt;
    }
    if (file_size_ - offset - kFrameHeaderBytes < length) {
      *why = "record of " + std::to_string(length) + " bytes cut short by the end of the file";
      return Outcome::kTorn;
    }
    std::string_view frame;
    NIMIFY_RETURN_IF_ERROR(Fetch(offset, kFrameHeaderBytes + length, &frame));
    *payload = frame.substr(kFrameHeaderBytes);
    if (Crc32c(*payload, Crc32c(frame.substr(0, 4))) != stored_crc) {
      *why = "checksum mismatch";
      return Outcome::kCorrupt;
    }
    return Outcome::kRecord;
  }

 private:
  Status Fetch(std::uint64_t offset, std::size_t n, std::string_view* out) {
    if (offset < buffer_offset_ || offset + n > buffer_offset_ + buffer_.size()) {
      const std::size_t want = static_cast<std::size_t>(
          std::min<std::uint64_t>(std::max(n, kReadChunkBytes), file_size_ - offset));
      buffer_.resize(want);
      std::size_t got = 0;
      while (got < want) {
        const ssize_t r =
            ::pread(fd_, buffer_.data() + got, want - got, static_cast<off_t>(offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return IoError("read", path_, errno);
        if (r == 0) return Status::Unavailable("state store: " + path_ + " shrank while read");
        got += static_cast<std::size_t>(r);
      }
      buffer_offset_ = offset;
    }
    *out = std::string_view(buffer_).substr(static_cast<std::size_t>(offset - buffer_offset_), n);
    return Status::Ok();
  }

  const int fd_;
  const std::string& path_;
  const std::uint64_t file_size_;
  std::string buffer_;
  std::uint64_t buffer_offset_ = 0;
};

// Revisions come from one store-wide counter, persisted in every record (and
// in the snapshot's counter record), so they never go backwards across
// restarts and a deleted key written again never repeats one.
//
// Thread safety: every method may be called concurrently. write_mu_
// serializes writers (journal append, fsync, compaction); state_mu_ guards the
// in-memory view and is held exclusively only to apply a write that is
// already durable (or held), so reads do not wait for fsync. log_mu_ guards
// the logs. health_mu_ guards the writable state and is taken last, alone.
// Order: write_mu_ before state_mu_; log_mu_ is never held with those two.
// Open runs before the store is shared and takes no locks.
class FileStateStore final : public StateStore, public DeferredSyncTarget {
 public:
  FileStateStore(std::string directory, FileStateStoreOptions options, FileStateStoreHooks hooks)
      : dir_(std::move(directory)), options_(options), hooks_(std::move(hooks)) {
    if (!hooks_.clock) hooks_.clock = &WallClockMs;
  }
  ~FileStateStore() override {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  }

  // Before the store is shared: no locks, so not analysed.
  Status Open() NIMIFY_NO_THREAD_SAFETY_ANALYSIS;

  Result<std::optional<StoredValue>> Get(std::string_view key) override {
    const std::int64_t now = now_ms();
    ReaderLock lock(state_mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || IsExpired(it->second.expires_at_ms, now)) {
      return std::optional<StoredValue>();
    }
    return std::optional<StoredValue>(
        StoredValue{it->first, it->second.value, it->second.revision, it->second.expires_at_ms});
  }

  Result<std::uint64_t> Put(std::string_view key, std::string_view value,
                            PutOptions options) override {
    return Write(key, std::nullopt, value, options);
  }

  Result<std::uint64_t> CompareAndSet(std::string_view key, std::uint64_t expected_revision,
                                      std::string_view value, PutOptions options) override {
    return Write(key, expected_revision, value, options);
  }

  Status Delete(std::string_view key) override;

  Result<std::vector<StoredValue>> List(std::string_view prefix) override {
    const std::int64_t now = now_ms();
    ReaderLock lock(state_mu_);
    std::vector<StoredValue> out;
    for (auto it = entries_.lower_bound(prefix);
         it != entries_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
      if (IsExpired(it->second.expires_at_ms, now)) continue;
      out.push_back(
          StoredValue{it->first, it->second.value, it->second.revision, it->second.expires_at_ms});
    }
    return out;
  }

  Result<std::uint64_t> Append(std::string_view log, std::string_view record) override;
  Result<std::vector<std::pair<std::uint64_t, std::string>>> ReadLog(std::string_view log,
                                                                     std::uint64_t from_seq,
                                                                     std::size_t limit) override;

  std::int64_t now_ms() const override { return hooks_.clock(); }

  const FileStateStoreInfo& info() const { return info_; }
  FileStateStoreStats stats() const {
    FileStateStoreStats st;
    {
      MutexLock lock(write_mu_);
      st.journal_bytes = journal_.size;
      st.live_bytes = live_bytes_;
      st.compactions = compactions_;
      st.last_compaction_error = last_compaction_error_;
    }
    MutexLock lock(health_mu_);
    st.writable = writable_;
    st.write_error = write_error_;
    st.unwritable_since_ms = unwritable_since_ms_;
    st.journal_write_failures = failures_[static_cast<int>(WriteKind::kJournal)];
    st.log_write_failures = failures_[static_cast<int>(WriteKind::kLog)];
    st.snapshot_write_failures = failures_[static_cast<int>(WriteKind::kSnapshot)];
    st.journal_held = journal_held_.load();
    st.held_log_records = held_log_records_.load();
    st.refused_log_records = refused_log_records_.load();
    st.recoveries = recoveries_;
    return st;
  }

  // RetryHeldWrites.
  Status RetryHeld();

  Status SyncDeferred() override NIMIFY_EXCLUDES(write_mu_, log_mu_);

 private:
  struct Entry {
    std::string value;
    std::uint64_t revision = 0;
    std::int64_t expires_at_ms = 0;
  };
  using EntryMap = std::map<std::string, Entry, std::less<>>;

  static std::uint64_t EntryFrameBytes(std::string_view key, const Entry& e) {
    return FrameSize(kPutOverheadBytes + key.size() + e.value.size());
  }

  Result<std::uint64_t> Write(std::string_view key, std::optional<std::uint64_t> expected,
                              std::string_view value, PutOptions options)
      NIMIFY_EXCLUDES(write_mu_, state_mu_);

  // entries_ and last_revision_ change only with write_mu_ and state_mu_ both
  // held, so either lock is enough to read them. The analysis checks one
  // guard (state_mu_): a writer holding only write_mu_ reads through these.
  EntryMap& writer_entries() NIMIFY_REQUIRES(write_mu_) NIMIFY_NO_THREAD_SAFETY_ANALYSIS {
    return entries_;
  }
  std::uint64_t writer_last_revision() const
      NIMIFY_REQUIRES(write_mu_) NIMIFY_NO_THREAD_SAFETY_ANALYSIS {
    return last_revision_;
  }

  // ---- a disk that refuses writes (hold_failed_writes) ----
  enum class WriteKind { kJournal = 0, kLog = 1, kSnapshot = 2 };
  // Appends `payload` to the journal, or (hold mode, key not covered by a
  // DurableWritesScope) holds it in memory when the disk refuses it. OK: the
  // caller applies the write to memory.
  Status JournalOrHold(std::string_view key, std::string_view payload) NIMIFY_REQUIRES(write_mu_);
  // Rewrites the journal as a snapshot of memory, which writes out held
  // writes.
  Status FlushJournal() NIMIFY_REQUIRES(write_mu_);
  // Creates a log file (one of logs_) that the disk refused earlier, then
  // writes its held records in order.
  Status FlushLog(LogFile& lf) NIMIFY_REQUIRES(log_mu_);
  Status CreateLogFile(StoreFile& f) const;
  // Keeps a record the disk refused in memory (hold mode); false when the
  // log already holds its limit.
  bool HoldLogRecord(LogFile& lf, std::string_view record) NIMIFY_REQUIRES(log_mu_);
  Status RefusedLogRecord(std::string_view log) const;
  // True at most once per kRetryIntervalMs after a failure: the caller tries the disk.
  bool ClaimRetry();
  void NoteFailure(WriteKind kind, const Status& s) NIMIFY_EXCLUDES(health_mu_);
  void CountHeld(WriteKind kind) NIMIFY_EXCLUDES(health_mu_);
  // The disk took a write: writable again when nothing is held.
  void NoteWritable() NIMIFY_EXCLUDES(health_mu_);
  std::string CurrentWriteError() const NIMIFY_EXCLUDES(health_mu_);

  // I/O through the fault-injection seam.
  int Fault(FileOp op, const std::string& path, std::size_t* partial = nullptr) const {
    std::size_t ignored = 0;
    return hooks_.inject_fault ? hooks_.inject_fault(op, path, partial ? partial : &ignored) : 0;
  }
  Status WriteAt(const StoreFile& f, std::uint64_t offset, std::string_view data) const;
  Status SyncFile(int fd, const std::string& path) const;
  Status SyncDir(const std::string& path) const;
  Status Truncate(StoreFile& f, std::uint64_t size) const;

  // Appends one framed record after f.size and (with options_.sync) syncs it,
  // or with `defer_sync` marks f.sync_pending for SyncDeferred.
  // On failure the file is cut back to f.size (now or before the next append).
  Status AppendRecord(StoreFile& f, std::string_view payload, bool defer_sync = false) const;
  // Appends already framed records (one write, one sync); as AppendRecord.
  Status AppendFrames(StoreFile& f, std::string_view frames, bool defer_sync = false) const;
  // Whether this thread's appends wait for a GroupSyncScope's commit; the
  // scope then learns of this store.
  bool DeferSync(std::string_view key);
  Status Repair(StoreFile& f) const;

  // Scans `f` from its start, calling `apply` on every good payload (it returns
  // false with a reason for a payload it cannot accept), then cuts off what
  // follows the last good record. Sets f.size.
  Status Recover(StoreFile& f, std::string_view display_name,
                 const std::function<bool(std::string_view, std::string*)>& apply);
  Status KeepCorruptCopy(const StoreFile& f, std::string* copy_name) const;

  // Parts of Open: no locks, not analysed.
  bool ApplyJournalRecord(std::string_view payload, bool first,
                          std::string* why) NIMIFY_NO_THREAD_SAFETY_ANALYSIS;
  Status OpenLogs();
  Status OpenLog(const std::string& name, const std::string& path) NIMIFY_NO_THREAD_SAFETY_ANALYSIS;

  void SweepExpired(std::int64_t now) NIMIFY_REQUIRES(write_mu_);
  void MaybeCompact() NIMIFY_REQUIRES(write_mu_);
  Status Compact() NIMIFY_REQUIRES(write_mu_);

  const std::string dir_;
  const FileStateStoreOptions options_;
  FileStateStoreHooks hooks_;
  FileStateStoreInfo info_;  // written by Open only
  int lock_fd_ = -1;

  mutable Mutex write_mu_;
  StoreFile journal_ NIMIFY_GUARDED_BY(write_mu_);
  std::uint64_t live_bytes_ NIMIFY_GUARDED_BY(write_mu_) = 0;
  // No compaction retry below this journal size.
  std::uint64_t next_compaction_bytes_ NIMIFY_GUARDED_BY(write_mu_) = 0;
  std::uint64_t writes_since_sweep_ NIMIFY_GUARDED_BY(write_mu_) = 0;
  std::uint64_t compactions_ NIMIFY_GUARDED_BY(write_mu_) = 0;
  std::string last_compaction_error_ NIMIFY_GUARDED_BY(write_mu_);

  mutable SharedMutex state_mu_ NIMIFY_ACQUIRED_AFTER(write_mu_);
  // Written with write_mu_ and state_mu_ held (see writer_entries()).
  EntryMap entries_ NIMIFY_GUARDED_BY(state_mu_);
  std::uint64_t last_revision_ NIMIFY_GUARDED_BY(state_mu_) = 0;

  Mutex log_mu_;
  std::map<std::string, std::unique_ptr<LogFile>, std::less<>> logs_ NIMIFY_GUARDED_BY(log_mu_);

  // The journal lacks writes held in memory (written with write_mu_ held).
  std::atomic<bool> journal_held_{false};
  std::atomic<std::uint64_t> held_log_records_{0};
  std::atomic<std::uint64_t> refused_log_records_{0};
  std::atomic<std::int64_t> next_retry_steady_ms_{0};
  std::atomic<bool> writable_fast_{true};  // writable_, readable without health_mu_
  mutable Mutex health_mu_ NIMIFY_ACQUIRED_AFTER(write_mu_, log_mu_);
  bool writable_ NIMIFY_GUARDED_BY(health_mu_) = true;
  std::string write_error_ NIMIFY_GUARDED_BY(health_mu_);
  std::int64_t unwritable_since_ms_ NIMIFY_GUARDED_BY(health_mu_) = 0;
  std::uint64_t failures_[3] NIMIFY_GUARDED_BY(health_mu_) = {};  // by WriteKind
  std::uint64_t recoveries_ NIMIFY_GUARDED_BY(health_mu_) = 0;
};

Status FileStateStore::WriteAt(const StoreFile& f, std::uint64_t offset,
                               std::string_view data) const {
  std::size_t partial = 0;
  if (const int err = Fault(FileOp::kWrite, f.path, &partial); err != 0) {
    partial = std::min(partial, data.size());
    if (partial > 0 && ::pwrite(f.fd, data.data(), partial, static_cast<off_t>(offset)) < 0) {
      return IoError("write", f.path, errno);
    }
    return IoError("write", f.path, err);
  }
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        ::pwrite(f.fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("write", f.path, errno);
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status FileStateStore::SyncFile(int fd, const std::string& path) const {
  if (const int err = Fault(FileOp::kSync, path); err != 0) return IoError("sync", path, err);
  if (::fdatasync(fd) != 0) {
    int err = errno;
    // A file system that turned read-only under the store (ext4's
    // errors=remount-ro) fails the sync of earlier writes with EIO: name the
    // cause, as a write there would.
    struct statvfs fs;
    if (err == EIO && ::fstatvfs(fd, &fs) == 0 && (fs.f_flag & ST_RDONLY) != 0) err = EROFS;
    return IoError("sync", path, err);
  }
  return Status::Ok();
}

Status FileStateStore::SyncDir(const std::string& path) const {
  if (const int err = Fault(FileOp::kSync, path); err != 0) return IoError("sync", path, err);
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("sync", path, err);
  return Status::Ok();
}

Status FileStateStore::Truncate(StoreFile& f, std::uint64_t size) const {
  if (const int err = Fault(FileOp::kTruncate, f.path); err != 0) {
    return IoError("truncate", f.path, err);
  }
  if (::ftruncate(f.fd, static_cast<off_t>(size)) != 0) return IoError("truncate", f.path, errno);
  return Status::Ok();
}

Status FileStateStore::Repair(StoreFile& f) const {
  NIMIFY_RETURN_IF_ERROR(Truncate(f, f.size));
  NIMIFY_RETURN_IF_ERROR(SyncFile(f.fd, f.path));
  f.needs_repair = false;
  return Status::Ok();
}

Status FileStateStore::AppendRecord(StoreFile& f, std::string_view payload,
                                    bool defer_sync) const {
  std::string frame;
  frame.reserve(FrameSize(payload.size()));
  AppendFrame(&frame, payload);
  return AppendFrames(f, frame, defer_sync);
}

Status FileStateStore::AppendFrames(StoreFile& f, std::string_view frame, bool defer_sync) const {
  if (f.needs_repair) {
    if (Status s = Repair(f); !s.ok()) {
      return s.WithPrefix("state store: cannot cut off an earlier failed write");
    }
  }
  Status s = WriteAt(f, f.size, frame);
  if (s.ok() && options_.sync) {
    if (defer_sync) {
      f.sync_pending = true;
    } else {
      s = SyncFile(f.fd, f.path);
    }
  }
  if (!s.ok()) {
    // The bytes may be partly (or, after a failed sync, wholly) on disk: they
    // must not come back at the next open as a write the caller saw fail.
    f.needs_repair = true;
    (void)Repair(f);
    return s;
  }
  f.size += frame.size();
  return Status::Ok();
}

Status FileStateStore::KeepCorruptCopy(const StoreFile& f, std::string* copy_name) const {
  const std::string copy_path = f.path + ".corrupt-" + std::to_string(WallClockMs());
  *copy_name = std::filesystem::path(copy_path).filename().string();
  StoreFile copy;
  copy.path = copy_path;
  copy.fd = ::open(copy_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (copy.fd < 0) return IoError("create", copy_path, errno);
  std::string buffer(kReadChunkBytes, '\0');
  std::uint64_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(f.fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("read", f.path, errno);
    if (n == 0) break;
    NIMIFY_RETURN_IF_ERROR(WriteAt(copy, offset, std::string_view(buffer.data(), n)));
    offset += static_cast<std::uint64_t>(n);
  }
  NIMIFY_RETURN_IF_ERROR(SyncFile(copy.fd, copy.path));
  return SyncDir(std::filesystem::path(copy_path).parent_path().string());
}

Status FileStateStore::Recover(StoreFile& f, std::string_view display_name,
                               const std::function<bool(std::string_view, std::string*)>& apply) {
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return IoError("stat", f.path, errno);
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  FrameReader reader(f.fd, f.path, file_size);
  std::uint64_t offset = 0;
  std::string why;
  FrameReader::Outcome outcome = FrameReader::Outcome::kEnd;
  for (;;) {
    std::string_view payload;
    NIMIFY_ASSIGN_OR_RETURN(outcome, reader.Next(offset, &payload, &why));
    if (outcome != FrameReader::Outcome::kRecord) break;
    if (!apply(payload, &why)) {
      outcome = FrameReader::Outcome::kCorrupt;
      break;
    }
    offset += FrameSize(payload.size());
  }
  f.size = offset;
  if (outcome == FrameReader::Outcome::kEnd) return Status::Ok();

  const std::uint64_t discarded = file_size - offset;
  std::string note = std::string(display_name) + ": " +
                     (outcome == FrameReader::Outcome::kTorn ? "torn" : "corrupt") +
                     " record at offset " + std::to_string(offset) + " (" + why + "); " +
                     std::to_string(discarded) + " bytes discarded";
  if (outcome == FrameReader::Outcome::kCorrupt) {
    // Whatever followed the bad record is dropped with it, so the file as
    // found is kept for a person to look at.
    std::string copy_name;
    if (Status s = KeepCorruptCopy(f, &copy_name); !s.ok()) {
      return s.WithPrefix("state store: " + std::string(display_name) +
                          " is damaged and a copy could not be kept, so it was left as it is");
    }
    note += "; the file as found is kept as " + copy_name;
  }
  NIMIFY_RETURN_IF_ERROR(Truncate(f, offset));
  NIMIFY_RETURN_IF_ERROR(SyncFile(f.fd, f.path));
  info_.bytes_discarded += discarded;
  info_.notes.push_back(std::move(note));
  return Status::Ok();
}

bool FileStateStore::ApplyJournalRecord(std::string_view p, bool first, std::string* why) {
  if (p.empty()) {
    *why = "empty record";
    return false;
  }
  if (first != (p[0] == kHeader)) {
    *why = first ? "no journal header" : "a second journal header";
    return false;
  }
  switch (p[0]) {
    case kHeader:
      if (p.substr(1) != kJournalMagic) {
        *why = "not a nimify state journal (or an unknown version)";
        return false;
      }
      return true;
    case kPut:
    case kCas: {
      if (p.size() < kPutOverheadBytes) break;
      const std::uint64_t revision = ReadFixed64(p.data() + 1);
      const auto expires = static_cast<std::int64_t>(ReadFixed64(p.data() + 9));
      const std::uint32_t key_size = ReadFixed32(p.data() + 17);
      if (key_size > p.size() - kPutOverheadBytes) break;
      const std::string_view key = p.substr(kPutOverheadBytes, key_size);
      Entry& e = entries_[std::string(key)];
      e = Entry{std::string(p.substr(kPutOverheadBytes + key_size)), revision, expires};
      last_revision_ = std::max(last_revision_, revision);
      ++info_.records_replayed;
      return true;
    }
    case kDelete: {
      if (p.size() < 9) break;
      last_revision_ = std::max(last_revision_, ReadFixed64(p.data() + 1));
      if (auto it = entries_.find(p.substr(9)); it != entries_.end()) entries_.erase(it);
      ++info_.records_replayed;
      return true;
    }
    case kCounter:
      if (p.size() != 9) break;
      last_revision_ = std::max(last_revision_, ReadFixed64(p.data() + 1));
      ++info_.records_replayed;
      return true;
    default:
      *why = "unknown record type";
      return false;
  }
  *why = "malformed record";
  return false;
}

Status FileStateStore::Open() {
  std::error_code ec;
  std::filesystem::create_directories(JoinPath(dir_, kLogsDir), ec);
  if (ec) {
    return Status::Unavailable("state store: cannot create " + JoinPath(dir_, kLogsDir) + ": " +
                               ec.message());
  }
  const std::string lock_path = JoinPath(dir_, kLockFile);
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return IoError("open", lock_path, errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::Unavailable("state store: " + dir_ + " is in use by another store (" +
                                 lock_path + " is locked)");
    }
    return IoError("lock", lock_path, errno);
  }

  // A snapshot that was never renamed over the journal: the journal is whole.
  ::unlink(JoinPath(dir_, kSnapshotTempFile).c_str());

  journal_.path = JoinPath(dir_, kJournalFile);
  journal_.fd = ::open(journal_.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (journal_.fd < 0) return IoError("open", journal_.path, errno);
  bool first = true;
  NIMIFY_RETURN_IF_ERROR(Recover(journal_, kJournalFile, [&](std::string_view p, std::string* why) {
    const bool ok = ApplyJournalRecord(p, first, why);
    first = false;
    return ok;
  }));
  if (journal_.size == 0) {
    NIMIFY_RETURN_IF_ERROR(AppendRecord(journal_, HeaderPayload(kJournalMagic)));
    NIMIFY_RETURN_IF_ERROR(SyncFile(journal_.fd, journal_.path));
  }
  NIMIFY_RETURN_IF_ERROR(OpenLogs());
  NIMIFY_RETURN_IF_ERROR(SyncDir(JoinPath(dir_, kLogsDir)));
  NIMIFY_RETURN_IF_ERROR(SyncDir(dir_));

  MutexLock lock(write_mu_);
  SweepExpired(now_ms());
  MaybeCompact();
  if (!last_compaction_error_.empty()) {
    info_.notes.push_back("journal: compaction failed: " + last_compaction_error_);
  }
  return Status::Ok();
}

Status FileStateStore::OpenLogs() {
  const std::string logs_dir = JoinPath(dir_, kLogsDir);
  std::error_code ec;
  std::vector<std::pair<std::string, std::string>> found;  // name, path
  std::filesystem::directory_iterator it(logs_dir, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::filesystem::directory_entry& entry = *it;
    const std::string file_name = entry.path().filename().string();
    if (!file_name.ends_with(kLogSuffix)) continue;  // e.g. a kept .corrupt-<ts> copy
    std::optional<std::string> name = LogNameFromFileName(file_name);
    if (!name) {
      info_.notes.push_back("logs: ignored " + file_name + ": not a log file name");
      continue;
    }
    found.emplace_back(std::move(*name), entry.path().string());
  }
  if (ec) return Status::Unavailable("state store: cannot list " + logs_dir + ": " + ec.message());
  for (const auto& [name, path] : found) NIMIFY_RETURN_IF_ERROR(OpenLog(name, path));
  return Status::Ok();
}

Status FileStateStore::OpenLog(const std::string& name, const std::string& path) {
  auto log = std::make_unique<LogFile>();
  log->file.path = path;
  log->file.fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (log->file.fd < 0) return IoError("open", path, errno);
  std::uint64_t offset = 0;
  NIMIFY_RETURN_IF_ERROR(
      Recover(log->file, "log " + name, [&](std::string_view p, std::string* why) {
        const bool first = offset == 0;
        const std::uint64_t frame = FrameSize(p.size());
        if (first) {
          if (p != HeaderPayload(kLogMagic)) {
            *why = "not a nimify log file (or an unknown version)";
            return false;
          }
        } else if (p.size() < kLogEntryOverheadBytes || p[0] != kLogEntry) {
          *why = "malformed log record";
          return false;
        } else if (ReadFixed64(p.data() + 1) != log->offsets.size() + 1) {
          *why = "sequence " + std::to_string(ReadFixed64(p.data() + 1)) + " where " +
                 std::to_string(log->offsets.size() + 1) + " was expected";
          return false;
        } else {
          log->offsets.push_back(offset);
          ++info_.records_replayed;
        }
        offset += frame;
        return true;
      }));
  if (log->file.size == 0) {
    NIMIFY_RETURN_IF_ERROR(AppendRecord(log->file, HeaderPayload(kLogMagic)));
    NIMIFY_RETURN_IF_ERROR(SyncFile(log->file.fd, log->file.path));
  }
  logs_.emplace(name, std::move(log));
  return Status::Ok();
}

Result<std::uint64_t> FileStateStore::Write(std::string_view key,
                                            std::optional<std::uint64_t> expected,
                                            std::string_view value, PutOptions options) {
  if (key.empty()) return Status::InvalidArgument("state store: empty key");
  if (kPutOverheadBytes + key.size() + value.size() > kMaxRecordPayloadBytes) {
    return Status::InvalidArgument("state store: key and value of '" +
                                   std::string(key.substr(0, 64)) + "' exceed " +
                                   std::to_string(kMaxRecordPayloadBytes) + " bytes");
  }
  MutexLock write_lock(write_mu_);
  // Only writers change entries_, and they hold write_mu_: reading it here
  // without state_mu_ is safe.
  auto it = writer_entries().find(key);
  if (expected) {
    const bool live =
        it != writer_entries().end() && !IsExpired(it->second.expires_at_ms, now_ms());
    const std::uint64_t current = live ? it->second.revision : 0;
    if (current != *expected) {
      return Status::FailedPrecondition("state store: revision of '" + std::string(key) + "' is " +
                                        std::to_string(current) + ", not " +
                                        std::to_string(*expected));
    }
  }
  const std::uint64_t revision = writer_last_revision() + 1;
  NIMIFY_RETURN_IF_ERROR(JournalOrHold(
      key, PutPayload(expected ? kCas : kPut, revision, options.expires_at_ms, key, value)));
  Entry entry{std::string(value), revision, options.expires_at_ms};
  const std::uint64_t added = EntryFrameBytes(key, entry);
  {
    WriterLock state_lock(state_mu_);
    if (it != entries_.end()) {
      live_bytes_ -= EntryFrameBytes(key, it->second);
      it->second = std::move(entry);
    } else {
      entries_.emplace(std::string(key), std::move(entry));
    }
    last_revision_ = revision;
  }
  live_bytes_ += added;
  if (++writes_since_sweep_ >= kWritesPerSweep) SweepExpired(now_ms());
  MaybeCompact();
  return revision;
}

Status FileStateStore::Delete(std::string_view key) {
  MutexLock write_lock(write_mu_);
  auto it = writer_entries().find(key);
  if (it == writer_entries().end()) return Status::Ok();
  if (!IsExpired(it->second.expires_at_ms, now_ms())) {
    NIMIFY_RETURN_IF_ERROR(JournalOrHold(key, DeletePayload(writer_last_revision() + 1, key)));
  }
  // An expired key needs no record: replayed, it is expired again.
  {
    WriterLock state_lock(state_mu_);
    live_bytes_ -= EntryFrameBytes(key, it->second);
    entries_.erase(it);
    ++last_revision_;
  }
  MaybeCompact();
  return Status::Ok();
}

void FileStateStore::SweepExpired(std::int64_t now) {
  writes_since_sweep_ = 0;
  WriterLock state_lock(state_mu_);
  live_bytes_ = FrameSize(1 + kJournalMagic.size()) + FrameSize(9);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (IsExpired(it->second.expires_at_ms, now)) {
      it = entries_.erase(it);
    } else {
      live_bytes_ += EntryFrameBytes(it->first, it->second);
      ++it;
    }
  }
}

void FileStateStore::MaybeCompact() {
  if (journal_.size < next_compaction_bytes_) return;
  if (journal_.size - std::min(journal_.size, live_bytes_) <= options_.compact_after_bytes) return;
  if (Status s = Compact(); !s.ok()) {
    NoteFailure(WriteKind::kSnapshot, s);
    last_compaction_error_ = std::string(s.message());
    // Retry once the journal has grown by another threshold, not at every write.
    next_compaction_bytes_ =
        journal_.size + std::max<std::uint64_t>(options_.compact_after_bytes, 1);
  } else {
    last_compaction_error_.clear();
    next_compaction_bytes_ = 0;
    NoteWritable();
  }
}

Status FileStateStore::Compact() {
  const std::int64_t now = now_ms();
  auto snapshot = std::make_unique<StoreFile>();
  snapshot->path = JoinPath(dir_, kSnapshotTempFile);
  snapshot->fd = ::open(snapshot->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (snapshot->fd < 0) return IoError("create", snapshot->path, errno);
  bool renamed = false;
  auto remove_temp = [&] {
    if (!renamed) ::unlink(snapshot->path.c_str());
  };

  std::string buffer;
  auto flush = [&]() -> Status {
    NIMIFY_RETURN_IF_ERROR(WriteAt(*snapshot, snapshot->size, buffer));
    snapshot->size += buffer.size();
    buffer.clear();
    return Status::Ok();
  };
  AppendFrame(&buffer, HeaderPayload(kJournalMagic));
  AppendFrame(&buffer, CounterPayload(writer_last_revision()));
  Status s;
  for (const auto& [key, e] : writer_entries()) {
    if (IsExpired(e.expires_at_ms, now)) continue;
    AppendFrame(&buffer, PutPayload(kPut, e.revision, e.expires_at_ms, key, e.value));
    if (buffer.size() >= kReadChunkBytes && !(s = flush()).ok()) break;
  }
  if (s.ok()) s = flush();
  // Always synced, whatever options_.sync says: a rename over the journal of
  // a snapshot not yet on disk could lose every key at a crash.
  if (s.ok()) s = SyncFile(snapshot->fd, snapshot->path);
  if (s.ok()) {
    if (const int err = Fault(FileOp::kRename, snapshot->path); err != 0) {
      s = IoError("rename", snapshot->path, err);
    } else if (::rename(snapshot->path.c_str(), journal_.path.c_str()) != 0) {
      s = IoError("rename", snapshot->path, errno);
    } else {
      renamed = true;
    }
  }
  if (!s.ok()) {
    remove_temp();
    return s;
  }
  // The snapshot is the journal now; a failed directory sync only means an
  // older journal might come back after a power loss, which holds the same data.
  const Status dir_synced = SyncDir(dir_);

  WriterLock state_lock(state_mu_);
  std::swap(journal_.fd, snapshot->fd);
  journal_.size = snapshot->size;
  journal_.needs_repair = false;
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = IsExpired(it->second.expires_at_ms, now) ? entries_.erase(it) : std::next(it);
  }
  live_bytes_ = journal_.size;
  ++compactions_;
  // The snapshot holds every key in memory, held writes included.
  journal_held_.store(false);
  return dir_synced;
}

Result<std::uint64_t> FileStateStore::Append(std::string_view log, std::string_view record) {
  std::optional<std::string> file_name = LogFileName(log);
  if (!file_name) {
    return Status::InvalidArgument("state store: log name '" + std::string(log.substr(0, 64)) +
                                   "' is empty or too long");
  }
  if (kLogEntryOverheadBytes + record.size() > kMaxRecordPayloadBytes) {
    return Status::InvalidArgument("state store: log record exceeds " +
                                   std::to_string(kMaxRecordPayloadBytes) + " bytes");
  }
  MutexLock lock(log_mu_);
  bool failure_counted = false;
  auto it = logs_.find(log);
  if (it == logs_.end()) {
    auto created = std::make_unique<LogFile>();
    created->file.path = JoinPath(JoinPath(dir_, kLogsDir), *file_name);
    if (Status s = CreateLogFile(created->file); !s.ok()) {
      NoteFailure(WriteKind::kLog, s);  // counts this record too
      if (!hooks_.hold_failed_writes) return s;
      failure_counted = true;
    }
    it = logs_.emplace(std::string(log), std::move(created)).first;
  }
  LogFile& lf = *it->second;
  if ((!lf.held.empty() || lf.file.fd < 0) && ClaimRetry()) (void)FlushLog(lf);
  const std::uint64_t seq = lf.offsets.size() + lf.held.size() + 1;
  if (!failure_counted && lf.held.empty() && lf.file.fd >= 0) {
    const std::uint64_t offset = lf.file.size;
    Status s = AppendRecord(lf.file, LogEntryPayload(seq, record), DeferSync({}));
    if (s.ok()) {
      lf.offsets.push_back(offset);
      NoteWritable();
      return seq;
    }
    if (!hooks_.hold_failed_writes) {
      NoteFailure(WriteKind::kLog, s);
      return s;
    }
    // Held before the failure is noted (see JournalOrHold).
    const bool held = HoldLogRecord(lf, record);
    NoteFailure(WriteKind::kLog, s);
    if (!held) return RefusedLogRecord(log);
    return seq;
  } else if (!failure_counted) {
    CountHeld(WriteKind::kLog);
  }
  if (!HoldLogRecord(lf, record)) return RefusedLogRecord(log);
  return seq;
}

bool FileStateStore::HoldLogRecord(LogFile& lf, std::string_view record) {
  if (lf.held.size() >= kMaxHeldLogRecords) {
    refused_log_records_.fetch_add(1);
    return false;
  }
  lf.held.emplace_back(record);
  held_log_records_.fetch_add(1);
  return true;
}

Status FileStateStore::RefusedLogRecord(std::string_view log) const {
  return Status::Unavailable("state store: " + std::to_string(kMaxHeldLogRecords) +
                             " records of log '" + std::string(log) +
                             "' are already held in memory for a disk that refuses writes (" +
                             CurrentWriteError() + ")");
}

Status FileStateStore::CreateLogFile(StoreFile& f) const {
  f.size = 0;
  f.needs_repair = false;
  f.fd = ::open(f.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd < 0) return IoError("create", f.path, errno);
  Status s = AppendRecord(f, HeaderPayload(kLogMagic));
  if (s.ok()) s = SyncFile(f.fd, f.path);
  if (s.ok()) s = SyncDir(JoinPath(dir_, kLogsDir));
  if (!s.ok()) {
    ::unlink(f.path.c_str());
    ::close(f.fd);
    f.fd = -1;
    f.size = 0;
  }
  return s;
}

Status FileStateStore::FlushLog(LogFile& lf) {
  if (lf.file.fd < 0) {
    if (Status s = CreateLogFile(lf.file); !s.ok()) {
      NoteFailure(WriteKind::kLog, s);
      return s;
    }
  }
  // In batches of about a chunk: one write and one sync each.
  while (!lf.held.empty()) {
    std::string frames;
    std::vector<std::uint64_t> offsets;
    for (std::size_t i = 0; i < lf.held.size() && frames.size() < kReadChunkBytes; ++i) {
      offsets.push_back(lf.file.size + frames.size());
      AppendFrame(&frames, LogEntryPayload(lf.offsets.size() + offsets.size(), lf.held[i]));
    }
    if (Status s = AppendFrames(lf.file, frames); !s.ok()) {
      NoteFailure(WriteKind::kLog, s);
      return s;
    }
    lf.offsets.insert(lf.offsets.end(), offsets.begin(), offsets.end());
    lf.held.erase(lf.held.begin(), lf.held.begin() + static_cast<std::ptrdiff_t>(offsets.size()));
    held_log_records_.fetch_sub(offsets.size());
  }
  NoteWritable();
  return Status::Ok();
}

Status FileStateStore::JournalOrHold(std::string_view key, std::string_view payload) {
  const bool strict = !hooks_.hold_failed_writes || DurableWritesScope::Covers(key);
  if (journal_held_.load() && (strict || ClaimRetry())) (void)FlushJournal();
  if (journal_held_.load()) {
    if (strict) {
      return Status::Unavailable("state store: " + dir_ + " does not take writes (" +
                                 CurrentWriteError() + ")");
    }
    CountHeld(WriteKind::kJournal);
    return Status::Ok();
  }
  Status s = AppendRecord(journal_, payload, DeferSync(key));
  if (s.ok()) {
    NoteWritable();
    return s;
  }
  // Held before the failure is noted: a write that succeeds on another thread
  // in between must not see nothing held and call the store writable again.
  if (!strict) journal_held_.store(true);
  NoteFailure(WriteKind::kJournal, s);
  return strict ? s : Status::Ok();
}

Status FileStateStore::FlushJournal() {
  Status s = Compact();
  if (!s.ok()) {
    last_compaction_error_ = std::string(s.message());
    NoteFailure(WriteKind::kSnapshot, s);
    return s;
  }
  last_compaction_error_.clear();
  NoteWritable();
  return s;
}

bool FileStateStore::DeferSync(std::string_view key) {
  GroupSyncScope* scope = GroupSyncScope::Current();
  if (scope == nullptr || !options_.sync || DurableWritesScope::Covers(key)) return false;
  scope->Add(this);
  return true;
}

Status FileStateStore::SyncDeferred() {
  // The syncs run after the locks are released, on duplicates of the
  // descriptors (a compaction may close the journal's meanwhile), so that
  // writers on other threads do not wait for this thread's fdatasync.
  struct Pending {
    int fd;
    std::string path;
    WriteKind kind;
  };
  std::vector<Pending> pending;
  Status first;
  const auto take = [&](StoreFile& f, WriteKind kind) {
    if (!f.sync_pending || f.fd < 0) return;
    f.sync_pending = false;
    const int fd = ::fcntl(f.fd, F_DUPFD_CLOEXEC, 0);
    if (fd >= 0) {
      pending.push_back(Pending{fd, f.path, kind});
      return;
    }
    // Out of descriptors: sync in place, under the lock.
    if (Status s = SyncFile(f.fd, f.path); !s.ok()) {
      NoteFailure(kind, s);
      if (first.ok()) first = s;
    }
  };
  {
    MutexLock lock(write_mu_);
    take(journal_, WriteKind::kJournal);
  }
  {
    MutexLock lock(log_mu_);
    for (auto& [name, lf] : logs_) take(lf->file, WriteKind::kLog);
  }
  for (const Pending& p : pending) {
    Status s = SyncFile(p.fd, p.path);
    ::close(p.fd);
    if (s.ok()) continue;
    if (p.kind == WriteKind::kJournal && hooks_.hold_failed_writes) {
      // The records are in the file but maybe not on disk. Memory has them
      // all: the next retry writes the journal out from it. Held before the
      // failure is noted (see JournalOrHold).
      MutexLock lock(write_mu_);
      journal_held_.store(true);
    }
    NoteFailure(p.kind, s);
    if (first.ok()) first = s;
  }
  return first;
}

bool FileStateStore::ClaimRetry() {
  const std::int64_t now = SteadyMs();
  std::int64_t due = next_retry_steady_ms_.load();
  return now >= due && next_retry_steady_ms_.compare_exchange_strong(due, now + kRetryIntervalMs);
}

void FileStateStore::NoteFailure(WriteKind kind, const Status& s) {
  next_retry_steady_ms_.store(SteadyMs() + kRetryIntervalMs);
  std::string error;
  {
    MutexLock lock(health_mu_);
    ++failures_[static_cast<int>(kind)];
    if (!writable_) return;
    writable_ = false;
    writable_fast_.store(false);
    write_error_ = std::string(s.message());
    unwritable_since_ms_ = WallClockMs();
    error = write_error_;
  }
  if (hooks_.on_writable_change) hooks_.on_writable_change(false, error);
}

void FileStateStore::CountHeld(WriteKind kind) {
  MutexLock lock(health_mu_);
  ++failures_[static_cast<int>(kind)];
}

void FileStateStore::NoteWritable() {
  if (writable_fast_.load() || journal_held_.load() || held_log_records_.load() > 0) return;
  {
    MutexLock lock(health_mu_);
    if (writable_) return;
    writable_ = true;
    writable_fast_.store(true);
    write_error_.clear();
    unwritable_since_ms_ = 0;
    ++recoveries_;
  }
  if (hooks_.on_writable_change) hooks_.on_writable_change(true, "");
}

std::string FileStateStore::CurrentWriteError() const {
  MutexLock lock(health_mu_);
  return write_error_.empty() ? "an earlier write failed" : write_error_;
}

Status FileStateStore::RetryHeld() {
  if (writable_fast_.load() && !journal_held_.load() && held_log_records_.load() == 0) {
    return Status::Ok();
  }
  if (!ClaimRetry()) {
    return Status::Unavailable("state store: " + dir_ + " does not take writes (" +
                               CurrentWriteError() + ")");
  }
  // The snapshot writes out held keys and, when none are held, shows the disk takes writes.
  Status s;
  {
    MutexLock lock(write_mu_);
    s = FlushJournal();
  }
  {
    MutexLock lock(log_mu_);
    for (auto& [name, lf] : logs_) {
      if (!lf->held.empty() || lf->file.fd < 0) {
        if (Status ls = FlushLog(*lf); !ls.ok() && s.ok()) s = ls;
      }
    }
  }
  return s;
}

Result<std::vector<std::pair<std::uint64_t, std::string>>> FileStateStore::ReadLog(
    std::string_view log, std::uint64_t from_seq, std::size_t limit) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  MutexLock lock(log_mu_);
  auto it = logs_.find(log);
  if (it == logs_.end()) return out;
  const LogFile& lf = *it->second;
  const std::uint64_t count = lf.offsets.size();
  // Held records follow the ones on disk.
  auto read_held = [&] {
    for (std::uint64_t seq = std::max<std::uint64_t>(from_seq, count + 1);
         seq <= count + lf.held.size() && out.size() < limit; ++seq) {
      out.emplace_back(seq, lf.held[static_cast<std::size_t>(seq - count - 1)]);
    }
  };
  std::string frame;
  for (std::uint64_t seq = std::max<std::uint64_t>(from_seq, 1); seq <= count && out.size() < limit;
       ++seq) {
    const std::uint64_t begin = lf.offsets[seq - 1];
    const std::uint64_t end = seq < count ? lf.offsets[seq] : lf.file.size;
    frame.resize(static_cast<std::size_t>(end - begin));
    std::size_t got = 0;
    while (got < frame.size()) {
      const ssize_t n = ::pread(lf.file.fd, frame.data() + got, frame.size() - got,
                                static_cast<off_t>(begin + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return IoError("read", lf.file.path, errno);
      if (n == 0) return Status::Unavailable("state store: " + lf.file.path + " shrank");
      got += static_cast<std::size_t>(n);
    }
    const std::string_view payload = std::string_view(frame).substr(kFrameHeaderBytes);
    if (frame.size() < kFrameHeaderBytes + kLogEntryOverheadBytes ||
        Crc32c(payload, Crc32c(std::string_view(frame).substr(0, 4))) !=
            ReadFixed32(frame.data() + 4)) {
      return Status::Unavailable("state store: record " + std::to_string(seq) + " of " +
                                 lf.file.path + " changed on disk (checksum mismatch)");
    }
    out.emplace_back(seq, std::string(payload.substr(kLogEntryOverheadBytes)));
  }
  read_held();
  return out;
}

bool IsPlainLogNameByte(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || (c == '.' && !first);
}

}  // namespace

std::optional<std::string> LogFileName(std::string_view log) {
  if (log.empty()) return std::nullopt;
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < log.size(); ++i) {
    const char c = log[i];
    if (IsPlainLogNameByte(c, i == 0)) {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xFu]);
    }
  }
  out.append(kLogSuffix);
  if (out.size() > kMaxLogFileNameBytes) return std::nullopt;
  return out;
}

std::optional<std::string> LogNameFromFileName(std::string_view file_name) {
  if (!file_name.ends_with(kLogSuffix)) return std::nullopt;
  file_name.remove_suffix(kLogSuffix.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string name;
  for (std::size_t i = 0; i < file_name.size(); ++i) {
    if (file_name[i] != '%') {
      name.push_back(file_name[i]);
      continue;
    }
    if (i + 2 >= file_name.size()) return std::nullopt;
    const int hi = hex(file_name[i + 1]);
    const int lo = hex(file_name[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    name.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  // Only the one spelling LogFileName produces names a log.
  std::optional<std::string> canonical = LogFileName(name);
  if (!canonical ||
      std::string_view(*canonical).substr(0, canonical->size() - kLogSuffix.size()) != file_name) {
    return std::nullopt;
  }
  return name;
}

DurableWritesScope::DurableWritesScope(std::initializer_list<std::string_view> prefixes)
    : prefixes_(prefixes), outer_(current_durable_scope) {
  current_durable_scope = this;
}

DurableWritesScope::~DurableWritesScope() { current_durable_scope = outer_; }

namespace {
thread_local GroupSyncScope* current_group_sync_scope = nullptr;
}  // namespace

GroupSyncScope::GroupSyncScope() : outer_(current_group_sync_scope) {
  current_group_sync_scope = this;
}

GroupSyncScope::~GroupSyncScope() {
  (void)Commit();
  current_group_sync_scope = outer_;
}

GroupSyncScope* GroupSyncScope::Current() { return current_group_sync_scope; }

void GroupSyncScope::Add(DeferredSyncTarget* target) {
  if (std::find(targets_.begin(), targets_.end(), target) == targets_.end()) {
    targets_.push_back(target);
  }
}

Status GroupSyncScope::Commit() {
  Status first;
  for (DeferredSyncTarget* t : targets_) {
    if (Status s = t->SyncDeferred(); !s.ok() && first.ok()) first = std::move(s);
  }
  targets_.clear();
  return first;
}

bool DurableWritesScope::Covers(std::string_view key) {
  const DurableWritesScope* scope = current_durable_scope;
  if (scope == nullptr) return false;
  return std::any_of(scope->prefixes_.begin(), scope->prefixes_.end(),
                     [&](std::string_view p) { return key.starts_with(p); });
}

Status RetryHeldWrites(StateStore& store) {
  auto* file_store = dynamic_cast<FileStateStore*>(&store);
  return file_store ? file_store->RetryHeld() : Status::Ok();
}

const FileStateStoreInfo* FileStateStoreInfoOf(const StateStore& store) {
  const auto* file_store = dynamic_cast<const FileStateStore*>(&store);
  return file_store ? &file_store->info() : nullptr;
}

std::optional<FileStateStoreStats> GetFileStateStoreStats(const StateStore& store) {
  const auto* file_store = dynamic_cast<const FileStateStore*>(&store);
  if (!file_store) return std::nullopt;
  return file_store->stats();
}

Result<std::unique_ptr<StateStore>> OpenFileStateStoreWithHooks(const std::string& directory,
                                                                FileStateStoreOptions options,
                                                                FileStateStoreHooks hooks) {
  if (directory.empty()) return Status::InvalidArgument("state store: empty directory");
  auto store = std::make_unique<FileStateStore>(directory, options, std::move(hooks));
  NIMIFY_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<StateStore>(std::move(store));
}

}  // namespace nimify::actions
