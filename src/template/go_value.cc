#include "template/go_value.h"

#include <algorithm>

namespace nimify::tmpl {

const Value* MapValue::Find(std::string_view key) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), key,
                             [](const auto& e, std::string_view k) { return e.first < k; });
  if (it == entries.end() || it->first != key) return nullptr;
  return &it->second;
}

Value Value::LabelMap(const promql::Labels& labels) {
  auto m = std::make_shared<MapValue>();
  m->entries.reserve(labels.size());
  // Labels are sorted by name already, as the map needs.
  for (const auto& l : labels) m->entries.emplace_back(l.name, Value::String(l.value));
  return Value::Map(std::move(m));
}

std::string Value::TypeName() const {
  switch (kind()) {
    case Kind::kInvalid:
      return "<nil>";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float64";
    case Kind::kString:
      return IsHtml() ? "template.HTML" : "string";
    case Kind::kMap: {
      const MapValue* m = AsMap();
      return (m == nullptr || m->elem_is_string) ? "map[string]string" : "map[string]interface {}";
    }
    case Kind::kList:
      return "template.queryResult";
    case Kind::kStruct:
      return AsStruct()->type_name;
    case Kind::kSample:
      return "*template.sample";
    case Kind::kTime:
      return "*time.Time";
    case Kind::kDuration:
      return "*time.Duration";
    case Kind::kComplex:
      return "complex128";
  }
  return "<nil>";
}

std::size_t Value::Len() const {
  switch (kind()) {
    case Kind::kString:
      return AsString().size();
    case Kind::kMap:
      return AsMap() == nullptr ? 0 : AsMap()->entries.size();
    case Kind::kList:
      return AsList() == nullptr ? 0 : AsList()->items.size();
    default:
      return 0;
  }
}

}  // namespace nimify::tmpl
