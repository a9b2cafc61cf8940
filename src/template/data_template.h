// A Go template executed with data of the caller's choosing (not Prometheus's
// alert data): the responses render step parameters with .Labels,
// .Annotations, .Steps, .Ack, ... and the prelude variables $labels,
// $annotations and $value.
//
//   auto t = tmpl::DataTemplate::Compile("kubectl -n {{ $labels.namespace }}", "step");
//   NIMIFY_ASSIGN_OR_RETURN(std::string s, t->Execute(data));  // data: a struct Value
#ifndef NIMIFY_TEMPLATE_DATA_TEMPLATE_H_
#define NIMIFY_TEMPLATE_DATA_TEMPLATE_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nimify/status.h"
#include "template/go_value.h"

namespace nimify::tmpl {

class TemplateProgram;

// Builds a struct value field by field (Go prints the struct's type name in
// some errors; the name given here is used).
Value MakeStruct(std::string type_name, std::vector<std::pair<std::string, Value>> fields);
// map[string]interface {} with the entries sorted by key.
Value MakeAnyMap(std::vector<std::pair<std::string, Value>> entries);
// map[string]string with the entries sorted by key.
Value MakeStringMap(std::vector<std::pair<std::string, std::string>> entries);

// A compiled template whose data is any Value. The prelude
// {{$labels := .Labels}}{{$annotations := .Annotations}}{{$value := .Value}}
// is prepended, so the data must be a struct (or map) with those fields.
// Thread safety: immutable; Execute may run concurrently.
class DataTemplate {
 public:
  // kParseError with Go's message on a bad template.
  static Result<DataTemplate> Compile(std::string_view text, std::string_view name);

  // kInvalidArgument "error executing template <name>: ..." on an execution error.
  Result<std::string> Execute(const Value& data) const;

  const std::string& source() const noexcept { return source_; }

 private:
  std::string source_;
  std::string name_;
  std::shared_ptr<const TemplateProgram> program_;
};

}  // namespace nimify::tmpl

#endif  // NIMIFY_TEMPLATE_DATA_TEMPLATE_H_
