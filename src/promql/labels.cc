#include "promql/labels.h"

#include <algorithm>

#include "promql/lexer.h"

namespace nimify::promql {

namespace {

void SortAndDedup(std::vector<Label>* labels) {
  std::stable_sort(labels->begin(), labels->end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
  // Keep the last of equal names: it was set later.
  std::vector<Label> out;
  out.reserve(labels->size());
  for (auto& l : *labels) {
    if (!out.empty() && out.back().name == l.name) {
      out.back() = std::move(l);
    } else {
      out.push_back(std::move(l));
    }
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const Label& l) { return l.value.empty(); }),
            out.end());
  *labels = std::move(out);
}

// Words PromQL reads as numbers or operators, never as a metric name, so
// such a name stays inside the braces to keep the text parseable.
bool LexesAsNonMetricWord(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  for (const char* word : {"inf", "nan", "bool", "on", "ignoring", "group_left", "group_right",
                           "atan2"}) {
    if (lower == word) return true;
  }
  return false;
}

}  // namespace

Labels::Labels(std::initializer_list<Label> labels) : labels_(labels) { SortAndDedup(&labels_); }

Labels Labels::FromUnsorted(std::vector<Label> labels) {
  Labels out;
  out.labels_ = std::move(labels);
  SortAndDedup(&out.labels_);
  return out;
}

std::string_view Labels::Get(std::string_view name) const noexcept {
  for (const auto& l : labels_) {
    if (l.name == name) return l.value;
  }
  return {};
}

bool Labels::Has(std::string_view name) const noexcept {
  for (const auto& l : labels_) {
    if (l.name == name) return true;
  }
  return false;
}

void Labels::Set(std::string_view name, std::string_view value) {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != labels_.end() && it->name == name) {
    if (value.empty()) {
      labels_.erase(it);
    } else {
      it->value.assign(value);
    }
    return;
  }
  if (value.empty()) return;
  labels_.insert(it, Label{std::string(name), std::string(value)});
}

void Labels::Del(std::string_view name) { Set(name, {}); }

Labels Labels::WithoutMetricName() const {
  Labels out = *this;
  out.Del(kMetricNameLabel);
  return out;
}

Labels Labels::KeepOnly(const std::vector<std::string>& names) const {
  Labels out;
  for (const auto& l : labels_) {
    if (std::find(names.begin(), names.end(), l.name) != names.end()) out.labels_.push_back(l);
  }
  return out;
}

Labels Labels::Drop(const std::vector<std::string>& names, bool also_drop_metric_name) const {
  Labels out;
  for (const auto& l : labels_) {
    if (also_drop_metric_name && l.name == kMetricNameLabel) continue;
    if (std::find(names.begin(), names.end(), l.name) != names.end()) continue;
    out.labels_.push_back(l);
  }
  return out;
}

std::uint64_t Labels::Hash() const noexcept {
  // FNV-1a over name\xff value\xff ...; 0xff never occurs in valid UTF-8.
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& l : labels_) {
    mix(l.name);
    mix(l.value);
  }
  return h;
}

int Labels::Compare(const Labels& a, const Labels& b) noexcept {
  const std::size_t n = std::min(a.labels_.size(), b.labels_.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (int c = a.labels_[i].name.compare(b.labels_[i].name); c != 0) return c < 0 ? -1 : 1;
    if (int c = a.labels_[i].value.compare(b.labels_[i].value); c != 0) return c < 0 ? -1 : 1;
  }
  if (a.labels_.size() == b.labels_.size()) return 0;
  return a.labels_.size() < b.labels_.size() ? -1 : 1;
}

std::string QuoteLabelValue(std::string_view value) { return GoQuote(value); }

std::string Labels::ToString() const {
  std::string out;
  std::string_view name = MetricName();
  bool name_printed = false;
  if (!name.empty() && IsValidMetricName(name) && !LexesAsNonMetricWord(name)) {
    out.append(name);
    name_printed = true;
  }
  out.push_back('{');
  bool first = true;
  for (const auto& l : labels_) {
    if (name_printed && l.name == kMetricNameLabel) continue;
    if (!first) out += ", ";
    first = false;
    // As Prometheus prints them: names that are not legacy label names are quoted.
    if (IsValidLabelName(l.name)) {
      out += l.name;
    } else {
      out += QuoteLabelValue(l.name);
    }
    out += '=';
    out += QuoteLabelValue(l.value);
  }
  out.push_back('}');
  if (name_printed && labels_.size() == 1) out.resize(out.size() - 2);
  return out;
}

void LabelsBuilder::Set(std::string_view name, std::string_view value) {
  for (auto& l : labels_) {
    if (l.name == name) {
      l.value.assign(value);
      return;
    }
  }
  labels_.push_back(Label{std::string(name), std::string(value)});
}

void LabelsBuilder::Del(std::string_view name) { Set(name, {}); }

Labels LabelsBuilder::Build() const { return Labels::FromUnsorted(labels_); }

bool IsValidLabelName(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool IsValidMetricName(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace nimify::promql
