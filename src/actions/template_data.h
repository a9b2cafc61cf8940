// The data every response template sees (step `with:`, manual text,
// remediation targets, handler templates such as the statuspage name):
// .Labels .Annotations .Value .Status .StartsAt .Fingerprint .Receiver
// .ExternalURL .Steps.<name>.{Output,ExitStatus,Outcome} .Ack.{By,Comment},
// plus the prelude's $labels $annotations $value (tmpl::DataTemplate).
#ifndef NIMIFY_ACTIONS_TEMPLATE_DATA_H_
#define NIMIFY_ACTIONS_TEMPLATE_DATA_H_

#include <map>
#include <string>
#include <string_view>

#include "nimify/actions.h"
#include "template/go_value.h"

namespace nimify::actions {

// What an earlier step of the incident left behind.
struct StepResult {
  std::string output;
  int exit_status = -1;
  std::string outcome;
};

tmpl::Value MakeTemplateData(const AlertSnapshot& alert, std::string_view receiver,
                             const IncidentView& incident,
                             const std::map<std::string, StepResult>& steps);

// The same data for a handler: the request's first alert and its incident;
// .Steps from incident.steps (their attachments as Output).
tmpl::Value MakeTemplateData(const ActionRequest& request);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_TEMPLATE_DATA_H_
