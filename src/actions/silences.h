// Silences with Alertmanager 0.25's semantics (silence/silence.go): state by
// startsAt/endsAt against now, update by posting an existing id (in place
// when allowed, else the old one expires and a new id is made), expire by id,
// Alertmanager's validation messages; plus nimify's expire_on_resolve.
// Persisted in the StateStore under "silence/<id>".
#ifndef NIMIFY_ACTIONS_SILENCES_H_
#define NIMIFY_ACTIONS_SILENCES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "actions/matchers.h"
#include "nimify/actions.h"
#include "nimify/state_store.h"

namespace nimify::actions {

// Converts the public matcher form; kInvalidArgument with AM's messages.
Result<Matchers> ToMatchers(const std::vector<MatcherSpec>& specs);

// Thread safety: none; the responder calls it under its lock.
class SilenceStore {
 public:
  // `store` may be null (nothing persisted). `new_id` makes ids (UUIDs).
  SilenceStore(StateStore* store, std::function<std::string()> new_id);

  // Reads every "silence/<id>" key.
  Status Load();

  // Alertmanager's Silences.Set: returns the id (a new one when the silence
  // could not be updated in place). kNotFound for an unknown id.
  Result<std::string> Set(Silence silence, std::int64_t now_ms);
  // kNotFound; kFailedPrecondition "silence <id> already expired".
  Status Expire(std::string_view id, std::int64_t now_ms);

  Result<Silence> Get(std::string_view id, std::int64_t now_ms) const;
  std::vector<Silence> List(std::int64_t now_ms) const;

  // Ids of the active silences matching `labels`, sorted.
  std::vector<std::string> Matching(const OwnedLabels& labels, std::int64_t now_ms) const;

  // expire_on_resolve bookkeeping: `fingerprint` was silenced by `id`.
  void NoteSilenced(std::string_view id, std::string_view fingerprint);
  // The alert resolved: expires (at now) every expire_on_resolve silence all
  // of whose silenced alerts are no longer firing. Returns the ids expired.
  std::vector<std::string> OnResolved(std::string_view fingerprint, std::int64_t now_ms,
                                      const std::function<bool(std::string_view)>& is_firing);

  static SilenceState StateAt(const Silence& s, std::int64_t now_ms) noexcept;

 private:
  struct Entry {
    Silence silence;
    Matchers matchers;
    std::set<std::string> silenced;  // fingerprints, for expire_on_resolve
  };
  Status Validate(const Silence& s) const;
  Status Persist(const Entry& e);

  StateStore* store_;
  std::function<std::string()> new_id_;
  std::map<std::string, Entry, std::less<>> silences_;
};

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_SILENCES_H_
