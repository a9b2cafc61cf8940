#include "promql/labels.h"

#include <algorithm>
#include <cassert>

#include "promql/lexer.h"

namespace nimify::promql {

namespace {

// Sorted by name, names unique, no empty value: what SortAndDedup makes.
bool IsCanonical(const std::vector<Label>& labels) noexcept {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].value.empty()) return false;
    if (i > 0 && !(labels[i - 1].name < labels[i].name)) return false;
  }
  return true;
}

void SortAndDedup(std::vector<Label>* labels) {
  // Most label sets arrive sorted (from storage, or built in order).
  if (IsCanonical(*labels)) return;
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

const std::vector<Label> Labels::kNoLabels;

Labels::Labels(std::initializer_list<Label> labels) {
  if (labels.size() == 0) return;
  *this = FromUnsorted(std::vector<Label>(labels));
}

Labels Labels::FromUnsorted(std::vector<Label> labels) {
  SortAndDedup(&labels);
  return FromSorted(std::move(labels));
}

Labels Labels::FromSorted(std::vector<Label> labels) {
  assert(IsCanonical(labels));
  Labels out;
  if (labels.empty()) return out;
  out.rep_ = std::make_shared<Rep>();
  out.rep_->labels = std::move(labels);
  return out;
}

std::vector<Label>& Labels::Mutable() {
  if (!rep_) {
    rep_ = std::make_shared<Rep>();
  } else if (rep_.use_count() != 1) {
    auto copy = std::make_shared<Rep>();
    copy->labels = rep_->labels;
    rep_ = std::move(copy);
  } else {
    // The last other owner may have just let go: see its reads before writing.
    std::atomic_thread_fence(std::memory_order_acquire);
    rep_->hash.store(0, std::memory_order_relaxed);
    rep_->secondary_hash.store(0, std::memory_order_relaxed);
  }
  return rep_->labels;
}

std::string_view Labels::Get(std::string_view name) const noexcept {
  for (const auto& l : items()) {
    if (l.name == name) return l.value;
  }
  return {};
}

bool Labels::Has(std::string_view name) const noexcept {
  for (const auto& l : items()) {
    if (l.name == name) return true;
  }
  return false;
}

void Labels::Set(std::string_view name, std::string_view value) {
  const std::vector<Label>& current = items();
  auto found = std::lower_bound(current.begin(), current.end(), name,
                                [](const Label& l, std::string_view n) { return l.name < n; });
  const bool present = found != current.end() && found->name == name;
  if (!present && value.empty()) return;  // nothing to delete: no copy
  if (present && found->value == value) return;
  const auto index = found - current.begin();
  std::vector<Label>& labels = Mutable();
  auto it = labels.begin() + index;
  if (present) {
    if (value.empty()) {
      labels.erase(it);
    } else {
      it->value.assign(value);
    }
    return;
  }
  if (labels.size() == labels.capacity()) labels.reserve(labels.size() + 2);
  labels.insert(labels.begin() + index, Label{std::string(name), std::string(value)});
}

void Labels::Del(std::string_view name) { Set(name, {}); }

Labels Labels::WithoutMetricName() const {
  Labels out = *this;
  out.Del(kMetricNameLabel);
  return out;
}

Labels Labels::KeepOnly(const std::vector<std::string>& names) const {
  std::vector<Label> kept;
  for (const auto& l : items()) {
    if (std::find(names.begin(), names.end(), l.name) != names.end()) kept.push_back(l);
  }
  return FromSorted(std::move(kept));
}

Labels Labels::Drop(const std::vector<std::string>& names, bool also_drop_metric_name) const {
  std::vector<Label> kept;
  for (const auto& l : items()) {
    if (also_drop_metric_name && l.name == kMetricNameLabel) continue;
    if (std::find(names.begin(), names.end(), l.name) != names.end()) continue;
    kept.push_back(l);
  }
  return FromSorted(std::move(kept));
}

bool Labels::Equal(const Labels& a, const Labels& b) noexcept {
  if (a.rep_ == b.rep_) return true;
  if (a.size() != b.size()) return false;
  if (a.rep_ && b.rep_) {
    // Cached hashes tell most unequal sets apart without comparing strings.
    const std::uint64_t ha = a.rep_->hash.load(std::memory_order_relaxed);
    const std::uint64_t hb = b.rep_->hash.load(std::memory_order_relaxed);
    if (ha != 0 && hb != 0 && ha != hb) return false;
  }
  return a.items() == b.items();
}

std::uint64_t Labels::Hash() const noexcept {
  if (rep_) {
    if (const std::uint64_t cached = rep_->hash.load(std::memory_order_relaxed); cached != 0) {
      return cached;
    }
  }
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
  for (const auto& l : items()) {
    mix(l.name);
    mix(l.value);
  }
  if (rep_) rep_->hash.store(h, std::memory_order_relaxed);
  return h;
}

int Labels::Compare(const Labels& a, const Labels& b) noexcept {
  if (a.rep_ == b.rep_) return 0;
  const std::vector<Label>& x = a.items();
  const std::vector<Label>& y = b.items();
  const std::size_t n = std::min(x.size(), y.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (int c = x[i].name.compare(y[i].name); c != 0) return c < 0 ? -1 : 1;
    if (int c = x[i].value.compare(y[i].value); c != 0) return c < 0 ? -1 : 1;
  }
  if (x.size() == y.size()) return 0;
  return x.size() < y.size() ? -1 : 1;
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
  for (const auto& l : items()) {
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
  if (name_printed && size() == 1) out.resize(out.size() - 2);
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
