#include "alerting/extensions.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "alerting/yaml_util.h"
#include "promql/parser.h"

namespace nimify::alerting {

bool AlertExtension::Matches(const promql::Labels& alert_labels) const {
  for (const auto& m : matchers) {
    if (!m.Matches(alert_labels.Get(m.name()))) return false;
  }
  return true;
}

const AlertExtension* ExtensionConfig::Find(const promql::Labels& alert_labels) const {
  for (const auto& ext : alert_extensions) {
    if (ext.Matches(alert_labels)) return &ext;
  }
  return nullptr;
}

bool RecoveryHolds(const promql::Vector& recovery_result, const promql::Labels& alert_labels) {
  for (const auto& sample : recovery_result) {
    bool all_equal = true;
    for (const auto& l : sample.metric) {
      if (l.name == promql::kMetricNameLabel) continue;
      if (alert_labels.Get(l.name) != l.value) {
        all_equal = false;
        break;
      }
    }
    if (all_equal) return true;
  }
  return false;
}

void FlapTracker::Record(bool firing) {
  history_.push_back(firing);
  const auto window = static_cast<std::size_t>(config_.window);
  while (history_.size() > window) history_.pop_front();
  // Entries before the first recorded one count as equal to it (no changes),
  // so the change at history_[i-1] -> history_[i] sits at position
  // offset + i - 1 of the window's window-1 transitions.
  const std::size_t offset = window - history_.size();
  double weighted_changes = 0;
  for (std::size_t i = 1; i < history_.size(); ++i) {
    if (history_[i] == history_[i - 1]) continue;
    const double position = static_cast<double>(offset + i - 1);
    weighted_changes += 0.75 + 0.5 * position / static_cast<double>(window - 2);
  }
  share_ = weighted_changes / static_cast<double>(window - 1);
  if (!flapping_ && share_ >= config_.high) {
    flapping_ = true;
  } else if (flapping_ && share_ < config_.low) {
    flapping_ = false;
  }
}

bool FlapTracker::Idle() const noexcept {
  if (flapping_) return false;
  return std::none_of(history_.begin(), history_.end(), [](bool firing) { return firing; });
}

namespace {

bool ReadMatchers(const YamlField& field, promql::MatchType type, ErrorList* errors,
                  std::vector<promql::LabelMatcher>* out) {
  std::vector<SourcePos> positions;
  auto pairs = ReadStringMap(field, errors, &positions);
  if (!pairs) return false;
  bool ok = true;
  for (std::size_t i = 0; i < pairs->size(); ++i) {
    const auto& [name, value] = (*pairs)[i];
    if (!promql::IsValidLabelName(name)) {
      errors->Add(positions[i], "invalid label name in " + field.key + ": " + name);
      ok = false;
      continue;
    }
    auto matcher = promql::LabelMatcher::Create(type, name, value);
    if (!matcher.ok()) {
      errors->Add(positions[i],
                  field.key + " " + name + ": " + std::string(matcher.status().message()));
      ok = false;
      continue;
    }
    out->push_back(std::move(*matcher));
  }
  return ok;
}

void ParseFlapDetection(const YamlField& field, ErrorList* errors, AlertExtension* ext) {
  std::vector<YamlField> fields;
  if (!ReadMapping(field.value, field.value_pos, {"flap_detection", {"window", "low", "high"}},
                   errors, &fields)) {
    return;
  }
  FlapDetectionConfig config;
  bool ok = true;
  if (const auto* f = FindField(fields, "window")) {
    if (auto v = ReadInt(*f, errors)) {
      if (*v < 3 || *v > 10000) {
        errors->Add(f->value_pos, "flap_detection: window must be between 3 and 10000");
        ok = false;
      }
      config.window = static_cast<int>(std::clamp<std::int64_t>(*v, 3, 10000));
    } else {
      ok = false;
    }
  }
  if (const auto* f = FindField(fields, "low")) {
    if (auto v = ReadFloat(*f, errors))
      config.low = *v;
    else
      ok = false;
  }
  if (const auto* f = FindField(fields, "high")) {
    if (auto v = ReadFloat(*f, errors))
      config.high = *v;
    else
      ok = false;
  }
  if (ok && !(config.low >= 0 && config.low <= config.high && config.high <= 1)) {
    errors->Add(field.value_pos, "flap_detection: need 0 <= low <= high <= 1");
    ok = false;
  }
  if (ok) ext->flap_detection = config;
}

}  // namespace

Result<ExtensionConfig> ParseExtensionConfig(std::string_view content, std::string_view origin) {
  try {
    NIMIFY_ASSIGN_OR_RETURN(YAML::Node root, LoadFirstDocument(content, origin));
    ErrorList errors{std::string(origin)};
    ExtensionConfig config;
    if (!root.IsDefined() || root.IsNull()) return config;
    if (!root.IsMap()) {
      errors.Add(PosOf(root), "expected a mapping at the top level");
      return errors.ToStatus();
    }
    YAML::Node list = root["alert_extensions"];
    if (!list.IsDefined() || list.IsNull()) return config;
    if (!list.IsSequence()) {
      errors.Add(PosOf(list), "alert_extensions: expected a sequence");
      return errors.ToStatus();
    }
    for (const auto& node : list) {
      std::vector<YamlField> fields;
      const SourcePos pos = PosOf(node);
      if (!ReadMapping(
              node, pos,
              {"alert extension",
               {"match", "match_re", "recovery_expr", "recovery_timeout", "flap_detection"}},
              &errors, &fields)) {
        continue;
      }
      AlertExtension ext;
      ext.pos = pos;
      if (const auto* f = FindField(fields, "match")) {
        ReadMatchers(*f, promql::MatchType::kEqual, &errors, &ext.matchers);
      }
      if (const auto* f = FindField(fields, "match_re")) {
        ReadMatchers(*f, promql::MatchType::kRegexMatch, &errors, &ext.matchers);
      }
      if (const auto* f = FindField(fields, "recovery_expr")) {
        if (auto text = ReadString(*f, &errors)) {
          ext.recovery_expr = *text;
          auto parsed = promql::ParseExpr(*text);
          if (!parsed.ok()) {
            errors.Add(f->value_pos, "recovery_expr: " + std::string(parsed.status().message()));
          } else if ((*parsed)->type() != promql::ValueType::kVector) {
            errors.Add(f->value_pos, "recovery_expr: must be an instant vector expression, got " +
                                         std::string(promql::ValueTypeName((*parsed)->type())));
          } else {
            ext.parsed_recovery_expr = std::move(*parsed);
          }
        }
      }
      if (const auto* f = FindField(fields, "recovery_timeout")) {
        if (auto v = ReadDurationMs(*f, &errors)) ext.recovery_timeout_ms = *v;
        if (ext.recovery_expr.empty()) {
          errors.Add(f->key_pos, "recovery_timeout needs a recovery_expr");
        }
      }
      if (const auto* f = FindField(fields, "flap_detection"))
        ParseFlapDetection(*f, &errors, &ext);
      if (!FindField(fields, "recovery_expr") && !FindField(fields, "flap_detection")) {
        errors.Add(pos, "alert extension needs recovery_expr or flap_detection");
      }
      config.alert_extensions.push_back(std::move(ext));
    }
    NIMIFY_RETURN_IF_ERROR(errors.ToStatus());
    return config;
  } catch (const std::exception& e) {
    return Status::ParseError(std::string(origin) + ": " + e.what());
  }
}

Result<ExtensionConfig> LoadExtensionConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return ParseExtensionConfig(buffer.str(), path);
}

}  // namespace nimify::alerting
