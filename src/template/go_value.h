// Dynamic values for the Go text/template engine: the few Go types a
// Prometheus alert template can see (the data struct, label maps, float64,
// strings, query results, *time.Time, *time.Duration), with Go's type names
// for error messages and %T.
#ifndef NIMIFY_TEMPLATE_GO_VALUE_H_
#define NIMIFY_TEMPLATE_GO_VALUE_H_

#include <complex>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "promql/labels.h"

namespace nimify::tmpl {

struct MapValue;
struct ListValue;
struct StructValue;
struct SampleValue;

// A *time.Time (always UTC, as Prometheus builds them).
struct TimeValue {
  std::int64_t unix_sec = 0;
  std::int32_t nsec = 0;  // [0, 1e9)
};

// A *time.Duration in nanoseconds.
struct DurationValue {
  std::int64_t nanos = 0;
};

enum class Kind : std::uint8_t {
  kInvalid,  // Go's zero reflect.Value: untyped nil, a nil interface
  kBool,
  kInt,  // Go's int
  kFloat,
  kString,  // string, or the named string type template.HTML
  kMap,     // null pointer: a nil map
  kList,    // null pointer: a nil slice
  kStruct,
  kSample,  // null pointer: a nil *template.sample
  kTime,
  kDuration,
  kComplex,  // complex128, from literals such as 1+2i
};

class Value {
 public:
  Value() = default;  // invalid (nil)

  static Value Bool(bool b) { return Value(Rep(std::in_place_index<1>, b)); }
  static Value Int(std::int64_t i) { return Value(Rep(std::in_place_index<2>, i)); }
  static Value Float(double d) { return Value(Rep(std::in_place_index<3>, d)); }
  static Value String(std::string s) {
    return Value(Rep(std::in_place_index<4>, StringRep{std::move(s), false}));
  }
  // html/template.HTML, what safeHtml returns: a string of another type.
  static Value Html(std::string s) {
    return Value(Rep(std::in_place_index<4>, StringRep{std::move(s), true}));
  }
  static Value Map(std::shared_ptr<const MapValue> m) {
    return Value(Rep(std::in_place_index<5>, std::move(m)));
  }
  static Value List(std::shared_ptr<const ListValue> l) {
    return Value(Rep(std::in_place_index<6>, std::move(l)));
  }
  static Value Struct(std::shared_ptr<const StructValue> s) {
    return Value(Rep(std::in_place_index<7>, std::move(s)));
  }
  static Value Sample(std::shared_ptr<const SampleValue> s) {
    return Value(Rep(std::in_place_index<8>, std::move(s)));
  }
  static Value Time(TimeValue t) { return Value(Rep(std::in_place_index<9>, t)); }
  static Value Duration(DurationValue d) { return Value(Rep(std::in_place_index<10>, d)); }
  static Value Complex(std::complex<double> c) { return Value(Rep(std::in_place_index<11>, c)); }

  // map[string]string of a label set.
  static Value LabelMap(const promql::Labels& labels);

  Kind kind() const noexcept { return static_cast<Kind>(rep_.index()); }
  bool valid() const noexcept { return kind() != Kind::kInvalid; }

  // REQUIRES: the matching kind().
  bool AsBool() const { return std::get<1>(rep_); }
  std::int64_t AsInt() const { return std::get<2>(rep_); }
  double AsFloat() const { return std::get<3>(rep_); }
  const std::string& AsString() const { return std::get<4>(rep_).text; }
  bool IsHtml() const { return kind() == Kind::kString && std::get<4>(rep_).html; }
  const MapValue* AsMap() const { return std::get<5>(rep_).get(); }    // null: nil map
  const ListValue* AsList() const { return std::get<6>(rep_).get(); }  // null: nil slice
  const StructValue* AsStruct() const { return std::get<7>(rep_).get(); }
  const SampleValue* AsSample() const { return std::get<8>(rep_).get(); }  // null: nil pointer
  const TimeValue& AsTime() const { return std::get<9>(rep_); }
  const DurationValue& AsDuration() const { return std::get<10>(rep_); }
  std::complex<double> AsComplex() const { return std::get<11>(rep_); }

  // Go's reflect Type.String(), as %T and error messages print it; "<nil>" when invalid.
  std::string TypeName() const;

  // Number of elements of a string, map or list (Go's len); 0 for other kinds.
  std::size_t Len() const;

 private:
  struct StringRep {
    std::string text;
    bool html;
  };
  using Rep = std::variant<std::monostate, bool, std::int64_t, double, StringRep,
                           std::shared_ptr<const MapValue>, std::shared_ptr<const ListValue>,
                           std::shared_ptr<const StructValue>, std::shared_ptr<const SampleValue>,
                           TimeValue, DurationValue, std::complex<double>>;
  explicit Value(Rep rep) : rep_(std::move(rep)) {}

  Rep rep_;
};

// map[string]T, entries sorted by key (Go prints and ranges maps in key order).
struct MapValue {
  bool elem_is_string = true;  // map[string]string; else map[string]interface {}
  std::vector<std::pair<std::string, Value>> entries;

  const Value* Find(std::string_view key) const;
};

// A Go slice; the only one templates meet is template.queryResult ([]*sample).
struct ListValue {
  std::vector<Value> items;
};

// A struct value with exported fields in declaration order (the template data).
struct StructValue {
  std::string type_name;
  std::vector<std::pair<std::string, Value>> fields;
};

// Prometheus's *template.sample: {Labels map[string]string; Value float64}.
struct SampleValue {
  Value labels;  // map[string]string
  double value = 0;
};

}  // namespace nimify::tmpl

#endif  // NIMIFY_TEMPLATE_GO_VALUE_H_
