#include "template/alert_template.h"

#include "template/go_format.h"
#include "template/go_template.h"

namespace nimify::tmpl {
namespace {

// What Prometheus prepends to every label and annotation template, on the same
// line, so error columns count it too.
constexpr std::string_view kPrelude =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}";

// The type of Prometheus's template data (template.AlertTemplateData), as Go prints it.
constexpr std::string_view kDataType =
    "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; "
    "Value float64 }";

Value MakeData(const TemplateData& data) {
  auto s = std::make_shared<StructValue>();
  s->type_name = std::string(kDataType);
  s->fields.reserve(4);
  s->fields.emplace_back("Labels", Value::LabelMap(data.labels));
  s->fields.emplace_back("ExternalLabels", Value::LabelMap(data.external_labels));
  s->fields.emplace_back("ExternalURL", Value::String(data.external_url));
  s->fields.emplace_back("Value", Value::Float(data.value));
  return Value::Struct(std::move(s));
}

}  // namespace

Result<AlertTemplate> AlertTemplate::Compile(std::string_view text, std::string_view name) {
  std::string full;
  full.reserve(kPrelude.size() + text.size());
  full.append(kPrelude);
  full.append(text);
  NIMIFY_ASSIGN_OR_RETURN(std::shared_ptr<const TemplateProgram> program,
                          TemplateProgram::Parse(name, std::move(full), &PrometheusFuncs()));
  AlertTemplate t;
  t.source_ = std::string(text);
  t.name_ = std::string(name);
  t.program_ = std::move(program);
  return t;
}

Result<std::string> AlertTemplate::Execute(const TemplateData& data) const {
  if (!program_) return std::string();
  const CallEnv env{&data};
  Result<std::string> out = program_->Execute(MakeData(data), env);
  if (!out.ok()) {
    // Prometheus's Expander wraps execution errors this way.
    return Status::InvalidArgument("error executing template " + name_ + ": " +
                                   std::string(out.status().message()));
  }
  return out;
}

std::string AlertTemplate::Expand(const TemplateData& data) const {
  Result<std::string> out = Execute(data);
  if (out.ok()) return std::move(out).value();
  return "<error expanding template: " + std::string(out.status().message()) + ">";
}

bool AlertTemplate::Calls(std::string_view function) const {
  return program_ != nullptr && program_->Calls(function);
}

std::string FormatGoFloat(double v) { return FormatFloat(v, 'g', -1); }

}  // namespace nimify::tmpl
