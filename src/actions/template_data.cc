#include "actions/template_data.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "template/data_template.h"

namespace nimify::actions {

tmpl::Value MakeTemplateData(const AlertSnapshot& alert, std::string_view receiver,
                             const IncidentView& incident,
                             const std::map<std::string, StepResult>& steps) {
  std::vector<std::pair<std::string, std::string>> labels, annotations;
  for (const OwnedLabel& l : alert.labels) labels.emplace_back(l.name, l.value);
  for (const OwnedLabel& l : alert.annotations) annotations.emplace_back(l.name, l.value);
  std::vector<std::pair<std::string, tmpl::Value>> step_values;
  for (const auto& [name, r] : steps) {
    step_values.emplace_back(
        name, tmpl::MakeStruct("struct { Output string; ExitStatus int; Outcome string }",
                               {{"Output", tmpl::Value::String(r.output)},
                                {"ExitStatus", tmpl::Value::Int(r.exit_status)},
                                {"Outcome", tmpl::Value::String(r.outcome)}}));
  }
  const tmpl::TimeValue starts{alert.starts_at_ms / 1000,
                               static_cast<std::int32_t>((alert.starts_at_ms % 1000) * 1000000)};
  return tmpl::MakeStruct(
      "struct { Labels map[string]string; Annotations map[string]string; Value float64; ... }",
      {{"Labels", tmpl::MakeStringMap(std::move(labels))},
       {"Annotations", tmpl::MakeStringMap(std::move(annotations))},
       {"Value", tmpl::Value::Float(alert.value)},
       {"Status",
        tmpl::Value::String(alert.state == AlertState::kResolved ? "resolved" : "firing")},
       {"StartsAt", tmpl::Value::Time(starts)},
       {"Fingerprint", tmpl::Value::String(alert.fingerprint)},
       {"Receiver", tmpl::Value::String(std::string(receiver))},
       {"ExternalURL", tmpl::Value::String("")},
       {"Steps", tmpl::MakeAnyMap(std::move(step_values))},
       {"Ack", tmpl::MakeStruct("struct { By string; Comment string }",
                                {{"By", tmpl::Value::String(incident.acknowledged_by)},
                                 {"Comment", tmpl::Value::String(incident.ack_comment)}})}});
}

tmpl::Value MakeTemplateData(const ActionRequest& request) {
  static const AlertSnapshot kNoAlert;
  std::map<std::string, StepResult> steps;
  for (const StepReport& s : request.incident.steps) {
    steps[s.step] = StepResult{s.attachment, -1, s.outcome};
  }
  return MakeTemplateData(request.alerts.empty() ? kNoAlert : request.alerts.front(),
                          request.receiver, request.incident, steps);
}

}  // namespace nimify::actions
