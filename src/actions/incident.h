// The responder's state of one alert: its incident (what Slack and the status
// page show), its place in routing and escalation, and the steps queued and
// done for it. Serialised to the StateStore as "alert/<fingerprint>" so a
// restart neither re-runs a finished step nor escalates twice.
#ifndef NIMIFY_ACTIONS_INCIDENT_H_
#define NIMIFY_ACTIONS_INCIDENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actions/response_config.h"
#include "actions/template_data.h"
#include "nimify/actions.h"

namespace nimify::actions {

// One step waiting to run for an alert.
struct QueuedStep {
  std::string receiver;
  std::string response;
  const StepSpec* step = nullptr;
  // "fire", "resolved", "escalation/<level>": with the step, names it uniquely
  // per incident (done markers, idempotency keys).
  std::string occasion;
  std::string DoneKey() const { return occasion + "/" + receiver + "/" + response + "/" + step->name; }
};


// The bytes of a step's output kept in the StateStore (the head of it).
inline constexpr std::size_t kPersistedOutputCap = 4096;

// Thread safety: none; owned by the responder under its lock.
struct Incident {
  AlertSnapshot alert;
  bool firing = false;     // fired and not resolved
  bool ever_fired = false;
  std::uint64_t generation = 0;  // increases with each new firing; stale timers check it
  std::vector<std::string> receivers;  // matched, route order, unique
  // Persisted:
  std::set<std::string> notified;      // receivers whose responses started
  std::set<std::string> levels_done;   // "<receiver>/<level index>"
  std::set<std::string> steps_done;    // QueuedStep::DoneKey()
  // By step name: what `.Steps.<name>` and `when: {step: ...}` read, so a
  // response resumed after a restart can still match on a step that finished
  // before it. Persisted with the output capped at kPersistedOutputCap.
  std::map<std::string, StepResult> results;
  // Not persisted:
  std::deque<QueuedStep> queue;
  bool step_running = false;
  std::set<std::string> silence_reported;
  bool inhibit_reported = false;
  std::vector<std::string> silenced_by;
  std::vector<std::string> inhibited_by;
  IncidentView view;
  std::int64_t updated_at_ms = 0;

  // JSON of the persisted part (labels, annotations, times and the sets).
  std::string Encode() const;
  // False when `json` is not a valid encoding.
  bool Decode(const std::string& json);
};

// "investigating" / "acknowledged" / "escalated" / "resolved" from the state.
void RefreshStatus(Incident* incident);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_INCIDENT_H_
