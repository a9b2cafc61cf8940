// Prometheus alert templates: Go text/template with Prometheus's functions,
// as used in alerting-rule labels and annotations.
//
//   auto t = tmpl::AlertTemplate::Compile("{{ $labels.job }} at {{ $value | humanize }}");
//   if (!t.ok()) ...;                       // load-time error, as promtool reports it
//   std::string s = t->Expand(data);        // "<error expanding template: ...>" on failure
#ifndef NIMIFY_TEMPLATE_ALERT_TEMPLATE_H_
#define NIMIFY_TEMPLATE_ALERT_TEMPLATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "nimify/status.h"
#include "promql/labels.h"
#include "promql/value.h"

namespace nimify::tmpl {

struct TemplateData {
  promql::Labels labels;           // the query result's labels, __name__ included if kept
  double value = 0;                // $value / .Value
  promql::Labels external_labels;  // $externalLabels
  std::string external_url;        // $externalURL, externalURL
  std::int64_t ts_ms = 0;          // evaluation time, for `query` and `now`
  // Runs an instant query at ts_ms for the `query` function; null: `query` fails.
  std::function<Result<promql::Vector>(std::string_view expr)> query;
};

class TemplateProgram;  // parsed template tree (template/go_template.h)

// A compiled alert template. Immutable; safe to share between threads.
class AlertTemplate {
 public:
  // Parses `text` with Prometheus's prelude ({{$labels := .Labels}}...).
  // kParseError with Go's message ("template: x:1: unexpected ...") on a bad template.
  static Result<AlertTemplate> Compile(std::string_view text, std::string_view name = "");

  // Expands with `data`. On an execution error, returns Prometheus's
  // "<error expanding template: ...>" text (the alert is still produced).
  std::string Expand(const TemplateData& data) const;

  // Like Expand, but returns execution errors as a Status.
  Result<std::string> Execute(const TemplateData& data) const;

  const std::string& source() const noexcept { return source_; }

  // Whether the template calls `function` (e.g. "query", whose answer depends
  // on when it runs).
  bool Calls(std::string_view function) const;

 private:
  std::string source_;
  std::string name_;
  std::shared_ptr<const TemplateProgram> program_;
};

// Go's fmt %v / strconv.FormatFloat(v, 'g', -1, 64): 1e+06, 123456.7, 1e-05, +Inf, NaN.
std::string FormatGoFloat(double v);

}  // namespace nimify::tmpl

#endif  // NIMIFY_TEMPLATE_ALERT_TEMPLATE_H_
