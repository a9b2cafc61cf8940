#include "differential/alert_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <tuple>
#include <utility>

#include "differential/expr_generator.h"

namespace nimify::differential {
namespace {

constexpr double kRelativeTolerance = 1e-9;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "alertname: A, time: 4m, " -> "alertname: A, time: 4m".
std::string HeaderKey(std::string_view line) {
  line = Trim(line);
  while (!line.empty() && (line.back() == ',' || line.back() == ' ')) line.remove_suffix(1);
  return std::string(line);
}

bool CloseValue(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  if (std::isinf(a) || std::isinf(b)) return false;
  double diff = std::fabs(a - b);
  return diff <= kRelativeTolerance * std::max(std::fabs(a), std::fabs(b)) || diff < 1e-12;
}

struct Token {
  bool number = false;
  double value = 0;
  std::string_view text;
};

std::vector<Token> Tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t start = i;
    if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i + 1 < s.size() && s[i] == '.' && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
        ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      }
      if (i + 1 < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        std::size_t j = i + 1;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) {
          i = j;
          while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
      }
      std::string number(s.substr(start, i - start));
      out.push_back({true, std::strtod(number.c_str(), nullptr), s.substr(start, i - start)});
    } else {
      while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      out.push_back({false, 0, s.substr(start, i - start)});
    }
  }
  return out;
}

std::string AlertsText(const std::vector<PrintedAlert>& alerts) {
  if (alerts.empty()) return "      (none)\n";
  std::string out;
  for (const auto& a : alerts) {
    out += "      " + a.labels + "\n        annotations " + a.annotations + "\n";
  }
  return out;
}

std::string SamplesText(const std::vector<ReportedSample>& samples) {
  if (samples.empty()) return "      (none)\n";
  std::string out;
  for (const auto& s : samples) {
    std::string labels = "{";
    bool first = true;
    for (const auto& l : s.labels) {
      labels += (first ? "" : ", ") + l.name + "=\"" + l.value + "\"";
      first = false;
    }
    out += "      " + labels + "} " + FormatFloat(s.value) + "\n";
  }
  return out;
}

std::string FindingText(const Finding* f) {
  if (f == nullptr) return "      (passed: nothing fired, no samples)\n";
  switch (f->kind) {
    case FindingKind::kAlerts:
      return AlertsText(f->alerts);
    case FindingKind::kSamples:
      return SamplesText(f->samples);
    case FindingKind::kExprError:
    case FindingKind::kRuleError:
      return "      error: " + f->error + "\n";
  }
  return "";
}

// 0 differ, 1 identical, 2 equal within tolerance.
int CompareFindings(const Finding& a, const Finding& b) {
  if (a.kind != b.kind) return 0;
  int result = 1;
  switch (a.kind) {
    case FindingKind::kAlerts: {
      if (a.alerts.size() != b.alerts.size()) return 0;
      auto sorted = [](std::vector<PrintedAlert> v) {
        std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) {
          return std::tie(x.labels, x.annotations) < std::tie(y.labels, y.annotations);
        });
        return v;
      };
      auto x = sorted(a.alerts), y = sorted(b.alerts);
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (x[i].labels == y[i].labels && x[i].annotations == y[i].annotations) continue;
        if (!CloseText(x[i].labels, y[i].labels) ||
            !CloseText(x[i].annotations, y[i].annotations)) {
          return 0;
        }
        result = 2;
      }
      return result;
    }
    case FindingKind::kSamples: {
      if (a.samples.size() != b.samples.size()) return 0;
      auto sorted = [](std::vector<ReportedSample> v) {
        std::stable_sort(v.begin(), v.end(),
                         [](const auto& x, const auto& y) { return x.labels < y.labels; });
        return v;
      };
      auto x = sorted(a.samples), y = sorted(b.samples);
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!(x[i].labels == y[i].labels)) return 0;
        if (x[i].value == y[i].value || (std::isnan(x[i].value) && std::isnan(y[i].value))) {
          continue;
        }
        if (!CloseValue(x[i].value, y[i].value)) return 0;
        result = 2;
      }
      return result;
    }
    case FindingKind::kExprError:
    case FindingKind::kRuleError:
      return a.error == b.error ? 1 : 3;
  }
  return 0;
}

// Two rules of a group may share a name and fail at the same instant, so a
// report can hold the same header twice: repeats are numbered in report
// order, which is rule order in both tools.
void AddFinding(FileOutcome* file, std::string key, Finding finding) {
  std::string unique = key;
  for (int n = 2; !file->findings.try_emplace(unique, std::move(finding)).second; ++n) {
    unique = key + " #" + std::to_string(n);
  }
}

}  // namespace

bool CloseText(std::string_view a, std::string_view b) {
  if (a == b) return true;
  std::vector<Token> x = Tokenize(a), y = Tokenize(b);
  if (x.size() != y.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i].number != y[i].number) return false;
    if (x[i].number ? !CloseValue(x[i].value, y[i].value) : x[i].text != y[i].text) return false;
  }
  return true;
}

Result<TestRulesOutput> ParseTestRulesOutput(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  TestRulesOutput out;
  FileOutcome* file = nullptr;
  auto malformed = [](std::size_t i, std::string_view why) {
    return Status::InvalidArgument("test rules output line " + std::to_string(i + 1) + ": " +
                                   std::string(why));
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string_view t = Trim(line);
    if (t.empty()) continue;
    if (StartsWith(line, "Unit Testing:  ")) {
      file = &out[std::string(line.substr(15))];
      continue;
    }
    if (file == nullptr) return malformed(i, "output before the first \"Unit Testing:\"");
    if (t == "SUCCESS") continue;
    if (t == "FAILED:") {
      file->failed = true;
      continue;
    }
    if (StartsWith(line, "    name: ")) continue;
    if (StartsWith(line, "    alertname: ")) {
      Finding f;
      f.kind = FindingKind::kAlerts;
      std::string key = HeaderKey(line);
      // Skip the expectation (always empty here), up to `got:`.
      std::size_t j = i + 1;
      while (j < lines.size() && !StartsWith(Trim(lines[j]), "got:")) ++j;
      if (j == lines.size()) return malformed(i, "alert failure without got:");
      std::string_view got = Trim(lines[j]);
      if (got != "got:[]") {
        if (got != "got:[") return malformed(j, "unexpected got: line");
        for (++j; j < lines.size() && Trim(lines[j]) != "]"; ++j) {
          std::string_view item = Trim(lines[j]);
          if (StartsWith(item, "Labels:")) {
            f.alerts.push_back({std::string(item.substr(7)), ""});
          } else if (StartsWith(item, "Annotations:")) {
            if (f.alerts.empty()) return malformed(j, "Annotations before Labels");
            // Every alert but the last is followed by a "," in Go's list format.
            std::string_view annotations = item.substr(12);
            if (!annotations.empty() && annotations.back() == ',') annotations.remove_suffix(1);
            f.alerts.back().annotations = std::string(annotations);
          } else if (item.empty() || item.back() != ':') {
            return malformed(j, "unexpected line in an alert list");
          }
        }
        if (j == lines.size()) return malformed(i, "unterminated alert list");
      }
      i = j;
      AddFinding(file, std::move(key), std::move(f));
      continue;
    }
    if (StartsWith(line, "    expr: ") || StartsWith(line, "    rule: ")) {
      Finding f;
      std::string key;
      std::size_t time = line.find(", time: ");
      std::size_t err = time == std::string_view::npos ? time : line.find(", err: ", time);
      if (err != std::string_view::npos) {
        f.kind = StartsWith(line, "    rule: ") ? FindingKind::kRuleError : FindingKind::kExprError;
        key = HeaderKey(line.substr(0, err));
        f.error = std::string(line.substr(err + 7));
      } else {
        if (StartsWith(line, "    rule: ")) return malformed(i, "rule failure without err:");
        f.kind = FindingKind::kSamples;
        key = HeaderKey(line);
        if (i + 2 >= lines.size() || !StartsWith(lines[i + 1], "        exp: ") ||
            !StartsWith(lines[i + 2], "        got: ")) {
          return malformed(i, "expression failure without exp:/got:");
        }
        auto got = ParseReportedSamples(lines[i + 2].substr(13));
        if (!got.ok()) return got.status().WithPrefix("line " + std::to_string(i + 3) + ": ");
        f.samples = std::move(*got);
        i += 2;
      }
      AddFinding(file, std::move(key), std::move(f));
      continue;
    }
    file->other_lines.emplace_back(t);
  }
  return out;
}

Comparison CompareOutcomes(const FileOutcome& promtool, const FileOutcome& nimify) {
  Comparison c;
  std::set<std::string> keys;
  for (const auto& [k, f] : promtool.findings) keys.insert(k);
  for (const auto& [k, f] : nimify.findings) keys.insert(k);
  for (const auto& key : keys) {
    auto p = promtool.findings.find(key);
    auto n = nimify.findings.find(key);
    const Finding* pf = p == promtool.findings.end() ? nullptr : &p->second;
    const Finding* nf = n == nimify.findings.end() ? nullptr : &n->second;
    int same = pf != nullptr && nf != nullptr ? CompareFindings(*pf, *nf) : 0;
    if (same == 0) {
      c.disagreements.push_back(key + "\n    promtool 2.42:\n" + FindingText(pf) + "    nimify:\n" +
                                FindingText(nf));
      continue;
    }
    ++c.agreed;
    if (same == 2) ++c.tolerance;
    if (same == 3) ++c.error_text;
  }
  std::vector<std::string> po = promtool.other_lines, no = nimify.other_lines;
  std::sort(po.begin(), po.end());
  std::sort(no.begin(), no.end());
  if (po != no) {
    std::string text = "file-level output differs\n    promtool 2.42:\n";
    for (const auto& l : po) text += "      " + l + "\n";
    text += "    nimify:\n";
    for (const auto& l : no) text += "      " + l + "\n";
    c.disagreements.push_back(text);
  }
  if (c.disagreements.empty() && promtool.failed != nimify.failed) {
    c.disagreements.push_back(std::string("outcome differs: promtool ") +
                              (promtool.failed ? "FAILED" : "SUCCESS") + ", nimify " +
                              (nimify.failed ? "FAILED" : "SUCCESS") + "\n");
  }
  return c;
}

}  // namespace nimify::differential
