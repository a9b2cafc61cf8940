#include "template/data_template.h"

#include <algorithm>

#include "template/go_template.h"

namespace nimify::tmpl {
namespace {

// On the template's first line, like Prometheus's prelude, so columns in
// errors count it too.
constexpr std::string_view kPrelude =
    "{{$labels := .Labels}}{{$annotations := .Annotations}}{{$value := .Value}}";

}  // namespace

Value MakeStruct(std::string type_name, std::vector<std::pair<std::string, Value>> fields) {
  auto s = std::make_shared<StructValue>();
  s->type_name = std::move(type_name);
  s->fields = std::move(fields);
  return Value::Struct(std::move(s));
}

Value MakeAnyMap(std::vector<std::pair<std::string, Value>> entries) {
  auto m = std::make_shared<MapValue>();
  m->elem_is_string = false;
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  m->entries = std::move(entries);
  return Value::Map(std::move(m));
}

Value MakeStringMap(std::vector<std::pair<std::string, std::string>> entries) {
  auto m = std::make_shared<MapValue>();
  m->elem_is_string = true;
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  m->entries.reserve(entries.size());
  for (auto& [k, v] : entries) m->entries.emplace_back(std::move(k), Value::String(std::move(v)));
  return Value::Map(std::move(m));
}

Result<DataTemplate> DataTemplate::Compile(std::string_view text, std::string_view name) {
  std::string full;
  full.reserve(kPrelude.size() + text.size());
  full.append(kPrelude);
  full.append(text);
  NIMIFY_ASSIGN_OR_RETURN(std::shared_ptr<const TemplateProgram> program,
                          TemplateProgram::Parse(name, std::move(full), &PrometheusFuncs()));
  DataTemplate t;
  t.source_ = std::string(text);
  t.name_ = std::string(name);
  t.program_ = std::move(program);
  return t;
}

Result<std::string> DataTemplate::Execute(const Value& data) const {
  if (!program_) return std::string();
  const CallEnv env{nullptr};
  Result<std::string> out = program_->Execute(data, env);
  if (!out.ok()) {
    return Status::InvalidArgument("error executing template " + name_ + ": " +
                                   std::string(out.status().message()));
  }
  return out;
}

}  // namespace nimify::tmpl
