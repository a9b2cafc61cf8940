#include <exception>
#include <string>
#include <utility>

#include "alerting/rule_file.h"
#include "engine/rule_set_internal.h"
#include "nimify/rules.h"

namespace nimify {
namespace {

alerting::RuleLoadOptions ToLoadOptions(const RuleSetOptions& options) {
  alerting::RuleLoadOptions out;
  out.prometheus2_fields_only = options.prometheus2_fields_only;
  out.ignore_unknown_fields = options.ignore_unknown_fields;
  return out;
}

OwnedLabels ToOwned(const alerting::LabelPairs& pairs) {
  OwnedLabels out;
  out.reserve(pairs.size());
  for (const auto& p : pairs) out.push_back({p.name, p.value});
  return out;
}

// The loaders are written not to throw; this is the library boundary, so a
// stray exception (e.g. std::bad_alloc, or one from yaml-cpp) still becomes a Status.
template <typename Fn>
Result<std::shared_ptr<const RuleSet>> Guarded(Fn&& load) {
  try {
    return load();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("loading rules: ") + e.what());
  } catch (...) {
    return Status::Internal("loading rules: unknown exception");
  }
}

}  // namespace

namespace internal {

std::shared_ptr<const RuleSet> RuleSetAccess::Make(std::vector<alerting::RuleFileSpec> files) {
  auto impl = std::make_unique<RuleSet::Impl>();
  impl->files = std::move(files);
  return std::shared_ptr<const RuleSet>(new RuleSet(std::move(impl)));
}

}  // namespace internal

RuleSet::RuleSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuleSet::~RuleSet() = default;

Result<std::shared_ptr<const RuleSet>> RuleSet::Parse(std::string_view text,
                                                      std::string_view origin,
                                                      const RuleSetOptions& options) {
  return Guarded([&]() -> Result<std::shared_ptr<const RuleSet>> {
    NIMIFY_ASSIGN_OR_RETURN(alerting::RuleFileSpec file,
                            alerting::ParseRuleFile(text, origin, ToLoadOptions(options)));
    std::vector<alerting::RuleFileSpec> files;
    files.push_back(std::move(file));
    return internal::RuleSetAccess::Make(std::move(files));
  });
}

Result<std::shared_ptr<const RuleSet>> RuleSet::LoadFile(const std::string& path,
                                                         const RuleSetOptions& options) {
  return Guarded([&]() -> Result<std::shared_ptr<const RuleSet>> {
    NIMIFY_ASSIGN_OR_RETURN(alerting::RuleFileSpec file,
                            alerting::LoadRuleFile(path, ToLoadOptions(options)));
    std::vector<alerting::RuleFileSpec> files;
    files.push_back(std::move(file));
    return internal::RuleSetAccess::Make(std::move(files));
  });
}

Result<std::shared_ptr<const RuleSet>> RuleSet::LoadFiles(const std::vector<std::string>& paths,
                                                          const RuleSetOptions& options) {
  return Guarded([&]() -> Result<std::shared_ptr<const RuleSet>> {
    NIMIFY_ASSIGN_OR_RETURN(std::vector<alerting::RuleFileSpec> files,
                            alerting::LoadRuleFiles(paths, ToLoadOptions(options)));
    return internal::RuleSetAccess::Make(std::move(files));
  });
}

std::shared_ptr<const RuleSet> RuleSet::Empty() { return internal::RuleSetAccess::Make({}); }

std::size_t RuleSet::rule_count() const noexcept {
  std::size_t n = 0;
  for (const auto& f : impl_->files) n += f.RuleCount();
  return n;
}

std::size_t RuleSet::group_count() const noexcept {
  std::size_t n = 0;
  for (const auto& f : impl_->files) n += f.groups.size();
  return n;
}

std::vector<RuleInfo> RuleSet::rules() const {
  std::vector<RuleInfo> out;
  for (const auto& f : impl_->files) {
    for (const auto& g : f.groups) {
      for (const auto& r : g.rules) {
        RuleInfo info;
        info.file = f.path;
        info.group = g.name;
        info.kind = r.kind == alerting::RuleKind::kAlerting ? RuleKind::kAlerting
                                                            : RuleKind::kRecording;
        info.name = r.name;
        info.expr = r.expr;
        info.for_duration = std::chrono::milliseconds(r.for_ms);
        info.keep_firing_for = std::chrono::milliseconds(r.keep_firing_for_ms);
        info.group_interval = std::chrono::milliseconds(g.interval_ms);
        info.labels = ToOwned(r.labels);
        info.annotations = ToOwned(r.annotations);
        out.push_back(std::move(info));
      }
    }
  }
  return out;
}

}  // namespace nimify
