#include "alerting/alert.h"

namespace nimify::alerting {

const char* AlertStateName(AlertState state) noexcept {
  switch (state) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
  }
  return "unknown";
}

LabelPairs AnnotationsOf(const Alert& alert) {
  const DeferredAnnotations& d = alert.deferred;
  if (d.expander == nullptr) return alert.annotations;
  return d.expander->Expand(d.metric, d.value, d.ts_ms);
}

void ExpandDeferredAnnotations(Alert* alert) {
  if (alert->deferred.expander == nullptr) return;
  alert->annotations = AnnotationsOf(*alert);
  alert->deferred = {};
}

std::string QueryEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string GeneratorURL(std::string_view external_url, std::string_view expr) {
  return std::string(external_url) + "/graph?g0.expr=" + QueryEscape(expr) + "&g0.tab=1";
}

void AddExternalLabels(const promql::Labels& external_labels, promql::Labels* labels) {
  for (const auto& l : external_labels) {
    if (!labels->Has(l.name)) labels->Set(l.name, l.value);
  }
}

}  // namespace nimify::alerting
