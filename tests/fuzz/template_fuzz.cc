// Fuzz entry for the Go template engine: parse the input as an alert template
// (Prometheus's prelude, Prometheus's functions) and execute it with bounded
// depth, steps and output against fixed alert data and a `query` function
// that answers a small vector.
// Invariants: no crash, no unbounded run; a parse error is a kParseError that
// reads "template: ..."; the output never exceeds the output bound.
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz/fuzz_check.h"
#include "template/alert_template.h"
#include "template/go_template.h"

namespace {

using namespace nimify;

constexpr std::string_view kPrelude =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}";

tmpl::Value MakeData(const tmpl::TemplateData& data) {
  auto s = std::make_shared<tmpl::StructValue>();
  s->type_name = "struct { Labels map[string]string; ExternalLabels map[string]string; "
                 "ExternalURL string; Value float64 }";
  s->fields.emplace_back("Labels", tmpl::Value::LabelMap(data.labels));
  s->fields.emplace_back("ExternalLabels", tmpl::Value::LabelMap(data.external_labels));
  s->fields.emplace_back("ExternalURL", tmpl::Value::String(data.external_url));
  s->fields.emplace_back("Value", tmpl::Value::Float(data.value));
  return tmpl::Value::Struct(std::move(s));
}

const tmpl::TemplateData& Data() {
  static const tmpl::TemplateData* data = [] {
    auto* d = new tmpl::TemplateData;
    d->labels = promql::Labels{{"__name__", "up"}, {"instance", "h:9090"}, {"job", "api"}};
    d->value = 1234.5678;
    d->external_labels = promql::Labels{{"cluster", "eu-1"}};
    d->external_url = "http://nimify.example:9090";
    d->ts_ms = 1700000000000;
    d->query = [](std::string_view expr) -> Result<promql::Vector> {
      if (expr.empty()) return Status::InvalidArgument("empty query");
      promql::Vector v;
      v.push_back({promql::Labels{{"__name__", "x"}, {"a", std::string(expr.substr(0, 8))}},
                   1700000000000, 0.25});
      v.push_back({promql::Labels{{"b", "c"}}, 1700000000000, -3e9});
      return v;
    };
    return d;
  }();
  return *data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::AsText(data, size);
  std::string text(kPrelude);
  text.append(input);
  auto program = tmpl::TemplateProgram::Parse("__alert_Fuzz", std::move(text), &tmpl::PrometheusFuncs());
  if (!program.ok()) {
    FUZZ_CHECK(program.status().code() == StatusCode::kParseError, input);
    FUZZ_CHECK(std::string_view(program.status().message()).starts_with("template: "), input);
    return 0;
  }
  tmpl::ExecLimits limits;
  limits.max_output_bytes = 64 * 1024;
  limits.max_template_depth = 200;
  limits.max_nesting = 500;
  limits.max_steps = 200'000;
  const tmpl::CallEnv env{&Data()};
  Result<std::string> out = (*program)->Execute(MakeData(Data()), env, limits);
  if (out.ok()) FUZZ_CHECK(out->size() <= limits.max_output_bytes, input);
  return 0;
}
