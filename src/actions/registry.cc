// ActionHandlerRegistry.
#include <map>
#include <string>
#include <utility>

#include "actions/builtin_handlers.h"
#include "common/mutex.h"
#include "nimify/actions.h"

namespace nimify {

// Thread safety: `mu` guards `factories`; factories are copied out of Find,
// so a caller never runs one under the lock.
struct ActionHandlerRegistry::Impl {
  mutable Mutex mu;
  std::map<std::string, ActionHandlerFactory, std::less<>> factories NIMIFY_GUARDED_BY(mu);
};

namespace {

// Registers the built-in types. A failure here is a programming error in a
// built-in (a duplicate name); the types that did register stay usable, and
// the missing one shows up as kNotFound with the list of known types.
void RegisterBuiltins(ActionHandlerRegistry& registry) {
  (void)actions::RegisterExecHandler(registry);
  (void)actions::RegisterLogHandler(registry);
  (void)actions::RegisterHttpHandlers(registry);
}

}  // namespace

ActionHandlerRegistry::ActionHandlerRegistry() : impl_(std::make_unique<Impl>()) {}
ActionHandlerRegistry::~ActionHandlerRegistry() = default;

ActionHandlerRegistry& ActionHandlerRegistry::Default() {
  // Built on first use (thread-safe static initialisation); never destroyed,
  // so handlers created from it may outlive static destruction order.
  static ActionHandlerRegistry* const registry = [] {
    auto* r = new ActionHandlerRegistry();
    RegisterBuiltins(*r);
    return r;
  }();
  return *registry;
}

std::unique_ptr<ActionHandlerRegistry> ActionHandlerRegistry::WithBuiltins() {
  auto registry = std::make_unique<ActionHandlerRegistry>();
  RegisterBuiltins(*registry);
  return registry;
}

Status ActionHandlerRegistry::Register(std::string type, ActionHandlerFactory factory) {
  if (type.empty()) return Status::InvalidArgument("handler type name is empty");
  if (!factory) return Status::InvalidArgument("handler type \"" + type + "\" has no factory");
  MutexLock lock(impl_->mu);
  auto [it, inserted] = impl_->factories.try_emplace(std::move(type), std::move(factory));
  if (!inserted) {
    return Status::AlreadyExists("handler type \"" + it->first + "\" is already registered");
  }
  return Status::Ok();
}

Result<ActionHandlerFactory> ActionHandlerRegistry::Find(std::string_view type) const {
  MutexLock lock(impl_->mu);
  auto it = impl_->factories.find(type);
  if (it != impl_->factories.end()) return it->second;
  std::string known;
  for (const auto& [name, factory] : impl_->factories) {
    if (!known.empty()) known += ", ";
    known += name;
  }
  if (known.empty()) known = "none";
  return Status::NotFound("unknown handler type \"" + std::string(type) + "\" (known: " + known +
                          ")");
}

std::vector<std::string> ActionHandlerRegistry::types() const {
  MutexLock lock(impl_->mu);
  std::vector<std::string> out;
  out.reserve(impl_->factories.size());
  for (const auto& [name, factory] : impl_->factories) out.push_back(name);
  return out;
}

}  // namespace nimify
