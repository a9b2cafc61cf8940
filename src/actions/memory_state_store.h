// The in-memory StateStore: mutex-protected maps, for tests and for embedding
// the responder without persistence.
#ifndef NIMIFY_ACTIONS_MEMORY_STATE_STORE_H_
#define NIMIFY_ACTIONS_MEMORY_STATE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "nimify/state_store.h"

namespace nimify::actions {

// Revisions come from one store-wide counter, as in the file store, so a key
// that is deleted and written again never repeats a revision.
// Thread safety: one mutex guards everything; every method may be called
// concurrently. The clock is called with the mutex held and must not call
// back into the store.
class MemoryStateStore final : public StateStore {
 public:
  explicit MemoryStateStore(std::function<std::int64_t()> clock);

  Result<std::optional<StoredValue>> Get(std::string_view key) override;
  Result<std::uint64_t> Put(std::string_view key, std::string_view value,
                            PutOptions options) override;
  Result<std::uint64_t> CompareAndSet(std::string_view key, std::uint64_t expected_revision,
                                      std::string_view value, PutOptions options) override;
  Status Delete(std::string_view key) override;
  Result<std::vector<StoredValue>> List(std::string_view prefix) override;
  Result<std::uint64_t> Append(std::string_view log, std::string_view record) override;
  Result<std::vector<std::pair<std::uint64_t, std::string>>> ReadLog(std::string_view log,
                                                                     std::uint64_t from_seq,
                                                                     std::size_t limit) override;
  std::int64_t now_ms() const override;

 private:
  struct Entry {
    std::string value;
    std::uint64_t revision = 0;
    std::int64_t expires_at_ms = 0;
  };
  using EntryMap = std::map<std::string, Entry, std::less<>>;

  // The live entry of `key`, erasing it first when it has expired.
  EntryMap::iterator FindLive(std::string_view key, std::int64_t now) NIMIFY_REQUIRES(mu_);
  std::uint64_t Write(std::string_view key, std::string_view value, PutOptions options)
      NIMIFY_REQUIRES(mu_);
  void SweepExpired(std::int64_t now) NIMIFY_REQUIRES(mu_);

  const std::function<std::int64_t()> clock_;
  mutable Mutex mu_;
  EntryMap entries_ NIMIFY_GUARDED_BY(mu_);
  std::uint64_t last_revision_ NIMIFY_GUARDED_BY(mu_) = 0;
  std::uint64_t writes_since_sweep_ NIMIFY_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::vector<std::string>, std::less<>> logs_ NIMIFY_GUARDED_BY(mu_);
};

// Unix milliseconds from the system clock.
std::int64_t WallClockMs();

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_MEMORY_STATE_STORE_H_
