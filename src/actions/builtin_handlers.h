// The built-in handler types. ActionHandlerRegistry::Default() and
// WithBuiltins() call each of these once on a fresh registry.
#ifndef NIMIFY_ACTIONS_BUILTIN_HANDLERS_H_
#define NIMIFY_ACTIONS_BUILTIN_HANDLERS_H_

#include "nimify/actions.h"
#include "nimify/status.h"

namespace nimify::actions {

// "exec": runs a program with an argument vector (no shell).
Status RegisterExecHandler(ActionHandlerRegistry& registry);
// "log": writes the request to the responder's log.
Status RegisterLogHandler(ActionHandlerRegistry& registry);
// "http", "webhook", "slack", "statuspage", "alertmanager".
Status RegisterHttpHandlers(ActionHandlerRegistry& registry);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_BUILTIN_HANDLERS_H_
