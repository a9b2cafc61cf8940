// Acknowledgements of alerts (issue 8): who took an alert, why, until when.
#ifndef NIMIFY_ACTIONS_ACKS_H_
#define NIMIFY_ACTIONS_ACKS_H_

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

// Acknowledgements: by fingerprint or by matchers (applied to the alerts
// firing when it is made, and to later ones while it lasts). Dropped for an
// alert when the alert resolves; an ack whose alerts all resolved is deleted.
// Persisted under "ack/<id>".
// Thread safety: none; the responder calls it under its lock.
class AckStore {
 public:
  AckStore(StateStore* store, std::function<std::string()> new_id);
  Status Load();

  // Validates and stores; created_at_ms = now. Returns the id.
  Result<std::string> Add(Acknowledgement ack, std::int64_t now_ms);
  Status Remove(std::string_view id);  // kNotFound
  std::vector<Acknowledgement> List(std::int64_t now_ms) const;

  // Ids of the live acks covering the alert, sorted.
  std::vector<std::string> Covering(std::string_view fingerprint, const OwnedLabels& labels,
                                    std::int64_t now_ms) const;
  const Acknowledgement* Find(std::string_view id) const;
  // The alert resolved: by-fingerprint acks of it are deleted, matcher acks
  // forget it (and are deleted when they covered only resolved alerts).
  void OnResolved(std::string_view fingerprint, const OwnedLabels& labels);
  // A matcher ack now covers this alert.
  void NoteCovered(std::string_view id, std::string_view fingerprint);

 private:
  struct Entry {
    Acknowledgement ack;
    Matchers matchers;
    std::set<std::string> covered;
  };
  Status Persist(const Entry& e);

  StateStore* store_;
  std::function<std::string()> new_id_;
  std::map<std::string, Entry, std::less<>> acks_;
};

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_ACKS_H_
