// The file-backed StateStore (see OpenFileStateStore and docs/actions.md,
// "State store", for the on-disk format), plus the seams its tests use to
// inject I/O failures and a clock. Not part of the public API.
#ifndef NIMIFY_ACTIONS_FILE_STATE_STORE_H_
#define NIMIFY_ACTIONS_FILE_STATE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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
};

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
