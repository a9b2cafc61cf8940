// Execution of a parsed Go text/template, following text/template/exec.go:
// Go's argument conversion and arity checks, truth, missingkey=zero map
// access, and its error messages with "name:line:col" locations.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <complex>
#include <cstdio>

#include "template/go_ast.h"
#include "template/go_format.h"

namespace nimify::tmpl {

std::string_view ParamTypeName(ParamType t) {
  switch (t) {
    case ParamType::kReflectValue:
      return "reflect.Value";
    case ParamType::kAny:
      return "interface {}";
    case ParamType::kString:
      return "string";
    case ParamType::kFloat64:
      return "float64";
    case ParamType::kInt:
      return "int";
    case ParamType::kBool:
      return "bool";
    case ParamType::kSamplePtr:
      return "*template.sample";
    case ParamType::kQueryResult:
      return "template.queryResult";
  }
  return "interface {}";
}

void FuncTable::Add(FuncDef def, bool builtin) {
  auto& m = builtin ? builtins_ : funcs_;
  std::string name = def.name;
  m[std::move(name)] = std::move(def);
}

const FuncDef* FuncTable::Find(std::string_view name, bool* builtin) const {
  if (auto it = funcs_.find(name); it != funcs_.end()) {
    if (builtin != nullptr) *builtin = false;
    return &it->second;
  }
  if (auto it = builtins_.find(name); it != builtins_.end()) {
    if (builtin != nullptr) *builtin = true;
    return &it->second;
  }
  return nullptr;
}

namespace {

using ast::Node;
using ast::NodeType;

// ---------------------------------------------------------------------------
// Go's value rules shared by the executor and the builtins.

// isTrue: the zero value of its type is false.
bool Truth(const Value& v) {
  switch (v.kind()) {
    case Kind::kInvalid:
      return false;
    case Kind::kBool:
      return v.AsBool();
    case Kind::kInt:
      return v.AsInt() != 0;
    case Kind::kFloat:
      return v.AsFloat() != 0;
    case Kind::kComplex:
      return v.AsComplex() != std::complex<double>();
    case Kind::kString:
    case Kind::kMap:
    case Kind::kList:
      return v.Len() > 0;
    case Kind::kSample:
      return v.AsSample() != nullptr;
    case Kind::kStruct:
    case Kind::kTime:
    case Kind::kDuration:
      return true;
  }
  return false;
}

// Type name after following a pointer, as reflect's indirect would show it.
std::string IndirectTypeName(const Value& v) {
  std::string t = v.TypeName();
  if (!t.empty() && t[0] == '*') t.erase(0, 1);
  return t;
}

// A non-nil *template.sample seen as the struct it points to.
Value SampleStruct(const SampleValue& s) {
  auto st = std::make_shared<StructValue>();
  st->type_name = "template.sample";
  st->fields.emplace_back("Labels", s.labels);
  st->fields.emplace_back("Value", Value::Float(s.value));
  return Value::Struct(std::move(st));
}

// printableValue: what {{.}} and html/js/urlquery print for a value.
Value Printable(const Value& v) {
  if (!v.valid()) return Value::String("<no value>");
  if (v.kind() == Kind::kSample && v.AsSample() != nullptr) return SampleStruct(*v.AsSample());
  return v;
}

Status FuncError(std::string msg) { return Status::InvalidArgument(std::move(msg)); }

// ---------------------------------------------------------------------------
// Builtins.

Result<Value> BuiltinAndOr(const CallEnv&, std::span<const Value> args) {
  return args.empty() ? Value() : args[0];  // evaluated lazily by the executor
}

Result<Value> BuiltinNot(const CallEnv&, std::span<const Value> args) {
  return Value::Bool(!Truth(args[0]));
}

Result<Value> BuiltinLen(const CallEnv&, std::span<const Value> args) {
  const Value& v = args[0];
  switch (v.kind()) {
    case Kind::kInvalid:
      return FuncError("reflect: call of reflect.Value.Type on zero Value");
    case Kind::kSample:
      if (v.AsSample() == nullptr) return FuncError("len of nil pointer");
      break;
    case Kind::kString:
    case Kind::kMap:
    case Kind::kList:
      return Value::Int(static_cast<std::int64_t>(v.Len()));
    default:
      break;
  }
  return FuncError("len of type " + IndirectTypeName(v));
}

// indexArg: an int index in [0, cap].
Result<std::int64_t> IndexArg(const Value& index, std::size_t cap) {
  if (!index.valid()) return FuncError("cannot index slice/array with nil");
  if (index.kind() != Kind::kInt) {
    return FuncError("cannot index slice/array with type " + index.TypeName());
  }
  const std::int64_t x = index.AsInt();
  if (x < 0 || static_cast<std::uint64_t>(x) > cap) {
    return FuncError("index out of range: " + std::to_string(x));
  }
  return x;
}

Result<Value> BuiltinIndex(const CallEnv&, std::span<const Value> args) {
  Value item = args[0];
  if (!item.valid()) return FuncError("index of untyped nil");
  for (std::size_t i = 1; i < args.size(); ++i) {
    const Value& index = args[i];
    if (item.kind() == Kind::kSample && item.AsSample() == nullptr) {
      return FuncError("index of nil pointer");
    }
    switch (item.kind()) {
      case Kind::kString:
      case Kind::kList: {
        NIMIFY_ASSIGN_OR_RETURN(const std::int64_t x, IndexArg(index, item.Len()));
        const auto ux = static_cast<std::size_t>(x);
        if (item.kind() == Kind::kString) {
          if (ux == item.Len()) return FuncError("reflect: string index out of range");
          item = Value::Int(static_cast<unsigned char>(item.AsString()[ux]));
        } else {
          if (ux == item.Len()) return FuncError("reflect: slice index out of range");
          item = item.AsList()->items[ux];
        }
        break;
      }
      case Kind::kMap: {
        if (!index.valid()) return FuncError("value is nil; should be of type string");
        if (index.kind() != Kind::kString || index.IsHtml()) {
          return FuncError("value has type " + index.TypeName() + "; should be string");
        }
        const MapValue* m = item.AsMap();
        const Value* found = m == nullptr ? nullptr : m->Find(index.AsString());
        if (found != nullptr) {
          item = *found;
        } else {
          item = (m == nullptr || m->elem_is_string) ? Value::String("") : Value();
        }
        break;
      }
      default:
        return FuncError("can't index item of type " + IndirectTypeName(item));
    }
  }
  return item;
}

Result<Value> BuiltinSlice(const CallEnv&, std::span<const Value> args) {
  const Value& item = args[0];
  if (!item.valid()) return FuncError("slice of untyped nil");
  const std::size_t n = args.size() - 1;
  if (n > 3) return FuncError("too many slice indexes: " + std::to_string(n));
  std::size_t cap = 0;
  switch (item.kind()) {
    case Kind::kString:
      if (n == 3) return FuncError("cannot 3-index slice a string");
      cap = item.Len();
      break;
    case Kind::kList:
      cap = item.Len();
      break;
    default:
      return FuncError("can't slice item of type " + IndirectTypeName(item));
  }
  std::int64_t idx[3] = {0, static_cast<std::int64_t>(item.Len()), 0};
  for (std::size_t i = 0; i < n; ++i) {
    NIMIFY_ASSIGN_OR_RETURN(idx[i], IndexArg(args[i + 1], cap));
  }
  if (idx[0] > idx[1]) {
    return FuncError("invalid slice index: " + std::to_string(idx[0]) + " > " +
                     std::to_string(idx[1]));
  }
  if (n == 3 && idx[1] > idx[2]) {
    return FuncError("invalid slice index: " + std::to_string(idx[1]) + " > " +
                     std::to_string(idx[2]));
  }
  const auto lo = static_cast<std::size_t>(idx[0]);
  const auto hi = static_cast<std::size_t>(idx[1]);
  if (item.kind() == Kind::kString) return Value::String(item.AsString().substr(lo, hi - lo));
  auto out = std::make_shared<ListValue>();
  if (item.AsList() != nullptr) {
    out->items.assign(item.AsList()->items.begin() + static_cast<std::ptrdiff_t>(lo),
                      item.AsList()->items.begin() + static_cast<std::ptrdiff_t>(hi));
  }
  return Value::List(std::move(out));
}

Result<Value> BuiltinCall(const CallEnv&, std::span<const Value> args) {
  // Templates never hold function values, so every call fails as Go's does.
  if (!args[0].valid()) return FuncError("call of nil");
  return FuncError("non-function of type " + args[0].TypeName());
}

Result<Value> BuiltinPrint(const CallEnv&, std::span<const Value> args) {
  return Value::String(Sprint(args));
}
Result<Value> BuiltinPrintln(const CallEnv&, std::span<const Value> args) {
  return Value::String(Sprintln(args));
}
Result<Value> BuiltinPrintf(const CallEnv&, std::span<const Value> args) {
  return Value::String(Sprintf(args[0].AsString(), args.subspan(1)));
}

// evalArgs: fmt.Sprint of the arguments after printableValue.
std::string EvalArgs(std::span<const Value> args) {
  if (args.size() == 1 && args[0].kind() == Kind::kString && !args[0].IsHtml()) {
    return args[0].AsString();
  }
  std::vector<Value> printable;
  printable.reserve(args.size());
  for (const Value& a : args) printable.push_back(Printable(a));
  return Sprint(printable);
}

Result<Value> BuiltinHtml(const CallEnv&, std::span<const Value> args) {
  const std::string s = EvalArgs(args);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\0':
        out += "\xEF\xBF\xBD";
        break;  // Go's html escaper replaces NUL with U+FFFD
      default:
        out.push_back(c);
    }
  }
  return Value::String(std::move(out));
}

Result<Value> BuiltinJs(const CallEnv&, std::span<const Value> args) {
  const std::string s = EvalArgs(args);
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '\\':
          out += "\\\\";
          break;
        case '\'':
          out += "\\'";
          break;
        case '"':
          out += "\\\"";
          break;
        case '<':
          out += "\\u003C";
          break;
        case '>':
          out += "\\u003E";
          break;
        case '&':
          out += "\\u0026";
          break;
        case '=':
          out += "\\u003D";
          break;
        default:
          if (c < ' ') {
            static constexpr char kHex[] = "0123456789ABCDEF";
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    int w = 1;
    const std::int32_t r = DecodeRune(std::string_view(s).substr(i), &w);
    if (IsPrintRune(r)) {
      out.append(s, i, static_cast<std::size_t>(w));
    } else {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(r));
      out += buf;
    }
    i += static_cast<std::size_t>(w);
  }
  return Value::String(std::move(out));
}

}  // namespace

std::string UrlQueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

namespace {

Result<Value> BuiltinUrlquery(const CallEnv&, std::span<const Value> args) {
  return Value::String(UrlQueryEscape(EvalArgs(args)));
}

enum class BasicKind : std::uint8_t { kInvalid, kBool, kInt, kFloat, kComplex, kString };

BasicKind Basic(const Value& v) {
  switch (v.kind()) {
    case Kind::kBool:
      return BasicKind::kBool;
    case Kind::kInt:
      return BasicKind::kInt;
    case Kind::kFloat:
      return BasicKind::kFloat;
    case Kind::kComplex:
      return BasicKind::kComplex;
    case Kind::kString:
      return BasicKind::kString;
    default:
      return BasicKind::kInvalid;
  }
}

bool Comparable(const Value& v) {
  switch (v.kind()) {
    case Kind::kMap:
    case Kind::kList:
    case Kind::kStruct:
      return false;  // the data struct holds maps
    default:
      return true;
  }
}

// Nil of its type, or the untyped nil.
bool IsNil(const Value& v) {
  switch (v.kind()) {
    case Kind::kInvalid:
      return true;
    case Kind::kMap:
      return v.AsMap() == nullptr;
    case Kind::kList:
      return v.AsList() == nullptr;
    case Kind::kSample:
      return v.AsSample() == nullptr;
    default:
      return false;
  }
}

// == on two comparable values of the same non-basic kind (pointers).
bool SameReference(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kSample:
      return a.AsSample() == b.AsSample();
    case Kind::kTime:
      return a.AsTime().unix_sec == b.AsTime().unix_sec && a.AsTime().nsec == b.AsTime().nsec;
    case Kind::kDuration:
      return a.AsDuration().nanos == b.AsDuration().nanos;
    default:
      return false;
  }
}

// fmt's %s and %v of one value, as Go's error messages embed them.
std::string FormatS(const Value& v) { return Sprintf("%s", std::span<const Value>(&v, 1)); }
std::string FormatV(const Value& v) { return Sprint(std::span<const Value>(&v, 1)); }

// eq as in Go 1.19: basic kinds compare by value, nil compares with anything
// without an error, and other kinds must be comparable Go types.
Result<Value> BuiltinEq(const CallEnv&, std::span<const Value> args) {
  const Value& v1 = args[0];
  if (args.size() == 1) return FuncError("missing argument for comparison");
  const BasicKind k1 = Basic(v1);
  for (std::size_t i = 1; i < args.size(); ++i) {
    const Value& v2 = args[i];
    const BasicKind k2 = Basic(v2);
    bool truth = false;
    if (k1 != k2) {
      if (v1.valid() && v2.valid()) return FuncError("incompatible types for comparison");
    } else {
      switch (k1) {
        case BasicKind::kBool:
          truth = v1.AsBool() == v2.AsBool();
          break;
        case BasicKind::kInt:
          truth = v1.AsInt() == v2.AsInt();
          break;
        case BasicKind::kFloat:
          truth = v1.AsFloat() == v2.AsFloat();
          break;
        case BasicKind::kComplex:
          truth = v1.AsComplex() == v2.AsComplex();
          break;
        case BasicKind::kString:
          truth = v1.AsString() == v2.AsString();
          break;
        case BasicKind::kInvalid:
          if (v1.valid() && v2.valid() && v1.kind() != v2.kind()) {
            return FuncError("non-comparable types " + FormatS(v1) + ": " + v1.TypeName() + ", " +
                             v2.TypeName() + ": " + FormatV(v2));
          }
          if (IsNil(v1) || IsNil(v2)) {
            truth = IsNil(v1) == IsNil(v2);
          } else if (!Comparable(v2)) {
            return FuncError("non-comparable type " + FormatS(v2) + ": " + v2.TypeName());
          } else {
            truth = SameReference(v1, v2);
          }
          break;
      }
    }
    if (truth) return Value::Bool(true);
  }
  return Value::Bool(false);
}

Result<Value> BuiltinNe(const CallEnv& env, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(Value eq, BuiltinEq(env, args));
  return Value::Bool(!eq.AsBool());
}

Result<bool> Less(const Value& v1, const Value& v2) {
  const BasicKind k1 = Basic(v1);
  if (k1 == BasicKind::kInvalid) return FuncError("invalid type for comparison");
  const BasicKind k2 = Basic(v2);
  if (k2 == BasicKind::kInvalid) return FuncError("invalid type for comparison");
  if (k1 != k2) return FuncError("incompatible types for comparison");
  switch (k1) {
    case BasicKind::kInt:
      return v1.AsInt() < v2.AsInt();
    case BasicKind::kFloat:
      return v1.AsFloat() < v2.AsFloat();
    case BasicKind::kString:
      return v1.AsString() < v2.AsString();
    default:
      return FuncError("invalid type for comparison");
  }
}

Result<Value> BuiltinLt(const CallEnv&, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(bool lt, Less(args[0], args[1]));
  return Value::Bool(lt);
}

Result<bool> LessOrEqual(const CallEnv& env, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(bool lt, Less(args[0], args[1]));
  if (lt) return true;
  NIMIFY_ASSIGN_OR_RETURN(Value eq, BuiltinEq(env, args));
  return eq.AsBool();
}

Result<Value> BuiltinLe(const CallEnv& env, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(bool le, LessOrEqual(env, args));
  return Value::Bool(le);
}
Result<Value> BuiltinGt(const CallEnv& env, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(bool le, LessOrEqual(env, args));
  return Value::Bool(!le);
}
Result<Value> BuiltinGe(const CallEnv&, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(bool lt, Less(args[0], args[1]));
  return Value::Bool(!lt);
}

// ---------------------------------------------------------------------------
// Methods of *time.Time and *time.Duration (the receiver is args[0]).

constexpr std::int64_t kNanosPerSecond = 1000000000;

Result<Value> TimeMethod(std::string_view name, const TimeValue& t, std::span<const Value> args) {
  if (name == "Unix") return Value::Int(t.unix_sec);
  if (name == "UnixMilli") return Value::Int(t.unix_sec * 1000 + t.nsec / 1000000);
  if (name == "UnixMicro") return Value::Int(t.unix_sec * 1000000 + t.nsec / 1000);
  if (name == "UnixNano") return Value::Int(t.unix_sec * kNanosPerSecond + t.nsec);
  if (name == "Nanosecond") return Value::Int(t.nsec);
  if (name == "String") return Value::String(FormatTime(t));
  if (name == "UTC") return Value::Time(t);
  if (name == "Format") return Value::String(FormatTimeLayout(t, args[0].AsString()));
  const auto field = [&](std::string_view layout) {
    const std::string s = FormatTimeLayout(t, layout);
    std::int64_t n = 0;
    std::from_chars(s.data(), s.data() + s.size(), n);
    return Value::Int(n);
  };
  if (name == "Year") return field("2006");
  if (name == "YearDay") return field("002");
  if (name == "Day") return field("2");
  if (name == "Hour") return field("15");
  if (name == "Minute") return field("4");
  if (name == "Second") return field("5");
  return FuncError("unknown method");
}

Result<Value> DurationMethod(std::string_view name, std::int64_t d) {
  const double secs =
      static_cast<double>(d / kNanosPerSecond) + static_cast<double>(d % kNanosPerSecond) / 1e9;
  if (name == "Seconds") return Value::Float(secs);
  if (name == "Minutes") {
    return Value::Float(static_cast<double>(d / (60 * kNanosPerSecond)) +
                        static_cast<double>(d % (60 * kNanosPerSecond)) / (60e9));
  }
  if (name == "Hours") {
    return Value::Float(static_cast<double>(d / (3600 * kNanosPerSecond)) +
                        static_cast<double>(d % (3600 * kNanosPerSecond)) / (3600e9));
  }
  if (name == "Milliseconds") return Value::Int(d / 1000000);
  if (name == "Microseconds") return Value::Int(d / 1000);
  if (name == "Nanoseconds") return Value::Int(d);
  if (name == "String") return Value::String(FormatDuration(d));
  return FuncError("unknown method");
}

// The methods a value has: name and parameter types.
const FuncDef* FindMethod(const Value& recv, std::string_view name) {
  static const std::vector<FuncDef> kTimeMethods = [] {
    std::vector<FuncDef> m;
    for (const char* n : {"Unix", "UnixMilli", "UnixMicro", "UnixNano", "Nanosecond", "String",
                          "UTC", "Year", "YearDay", "Day", "Hour", "Minute", "Second"}) {
      m.push_back(FuncDef{n, {}, false, nullptr});
    }
    m.push_back(FuncDef{"Format", {ParamType::kString}, false, nullptr});
    return m;
  }();
  static const std::vector<FuncDef> kDurationMethods = [] {
    std::vector<FuncDef> m;
    for (const char* n :
         {"Seconds", "Minutes", "Hours", "Milliseconds", "Microseconds", "Nanoseconds", "String"}) {
      m.push_back(FuncDef{n, {}, false, nullptr});
    }
    return m;
  }();
  const std::vector<FuncDef>* methods = nullptr;
  if (recv.kind() == Kind::kTime) methods = &kTimeMethods;
  if (recv.kind() == Kind::kDuration) methods = &kDurationMethods;
  if (methods == nullptr) return nullptr;
  for (const FuncDef& m : *methods) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

Result<Value> CallMethod(const Value& recv, std::string_view name, std::span<const Value> args) {
  if (recv.kind() == Kind::kTime) return TimeMethod(name, recv.AsTime(), args);
  return DurationMethod(name, recv.AsDuration().nanos);
}

// ---------------------------------------------------------------------------
// The executor.

enum class Flow : std::uint8_t { kNormal, kBreak, kContinue, kError };

struct ExecShared {
  const TemplateProgram::Impl* prog;
  const CallEnv* env;
  const ExecLimits* limits;
  std::string out;
  std::uint64_t steps = 0;
  int nesting = 0;  // active Walk and EvalPipeline calls, which recurse natively
  bool failed = false;
  std::string error;
};

// Counts one level of native recursion for the scope of a Walk or EvalPipeline.
class NestingScope {
 public:
  explicit NestingScope(ExecShared* sh) : sh_(sh) { ++sh_->nesting; }
  ~NestingScope() { --sh_->nesting; }
  NestingScope(const NestingScope&) = delete;
  NestingScope& operator=(const NestingScope&) = delete;
  bool too_deep() const { return sh_->nesting > sh_->limits->max_nesting; }

 private:
  ExecShared* sh_;
};

using Args = std::span<const ast::NodePtr>;

bool IsHexInt(std::string_view s) {
  return s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
         s.find_first_of("pP") == std::string_view::npos;
}

class State {
 public:
  State(ExecShared* shared, const ast::Tree* tmpl, int depth)
      : sh_(shared), tmpl_(tmpl), depth_(depth) {}

  void Push(std::string name, Value v) { vars_.emplace_back(std::move(name), std::move(v)); }

  Flow Walk(const Value& dot, const Node* node) {
    if (sh_->failed) return Flow::kError;
    if (!Step()) return Flow::kError;
    At(node);
    const NestingScope scope(sh_);
    if (scope.too_deep()) {
      TooDeep();
      return Flow::kError;
    }
    switch (node->type) {
      case NodeType::kAction: {
        const auto* a = static_cast<const ast::ActionNode*>(node);
        Value val = EvalPipeline(dot, a->pipe.get());
        if (sh_->failed) return Flow::kError;
        // A declaration prints nothing.
        if (a->pipe->decl.empty()) PrintValue(node, val);
        return sh_->failed ? Flow::kError : Flow::kNormal;
      }
      case NodeType::kComment:
        return Flow::kNormal;
      case NodeType::kIf:
      case NodeType::kWith:
        return WalkIfOrWith(dot, static_cast<const ast::BranchNode*>(node));
      case NodeType::kList:
        for (const auto& n : static_cast<const ast::ListNode*>(node)->nodes) {
          const Flow f = Walk(dot, n.get());
          if (f != Flow::kNormal) return f;
        }
        return Flow::kNormal;
      case NodeType::kRange:
        return WalkRange(dot, static_cast<const ast::BranchNode*>(node));
      case NodeType::kTemplate:
        return WalkTemplate(dot, static_cast<const ast::TemplateCallNode*>(node));
      case NodeType::kText:
        Write(static_cast<const ast::TextNode*>(node)->text);
        return sh_->failed ? Flow::kError : Flow::kNormal;
      case NodeType::kBreak:
        return Flow::kBreak;
      case NodeType::kContinue:
        return Flow::kContinue;
      default:
        Errorf("unknown node: " + node->String());
        return Flow::kError;
    }
  }

 private:
  bool Failed() const { return sh_->failed; }
  void At(const Node* n) { node_ = n; }

  bool Step() {
    if (++sh_->steps > sh_->limits->max_steps) {
      Errorf("exceeded the maximum of " + std::to_string(sh_->limits->max_steps) +
             " execution steps");
      return false;
    }
    return true;
  }

  Value Errorf(const std::string& msg) {
    if (!sh_->failed) {
      sh_->failed = true;
      if (node_ == nullptr) {
        sh_->error = "template: " + tmpl_->name + ": " + msg;
      } else {
        sh_->error = "template: " + sh_->prog->Location(*node_) + ": executing " +
                     Quote(tmpl_->name) + " at <" + node_->String() + ">: " + msg;
      }
    }
    return Value();
  }

  Value TooDeep() {
    return Errorf("exceeded maximum nesting depth (" + std::to_string(sh_->limits->max_nesting) +
                  ")");
  }

  void Write(std::string_view s) {
    sh_->out.append(s);
    if (sh_->out.size() > sh_->limits->max_output_bytes) {
      Errorf("template output exceeds " + std::to_string(sh_->limits->max_output_bytes) + " bytes");
    }
  }

  // --- variables ----------------------------------------------------------
  std::size_t Mark() const { return vars_.size(); }
  void Pop(std::size_t mark) { vars_.resize(mark); }
  void SetVar(const std::string& name, Value v) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) {
        it->second = std::move(v);
        return;
      }
    }
    Errorf("undefined variable: " + name);
  }
  void SetTopVar(std::size_t n, Value v) { vars_[vars_.size() - n].second = std::move(v); }
  Value VarValue(const std::string& name) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    return Errorf("undefined variable: " + name);
  }

  // --- control structures -------------------------------------------------
  Flow WalkIfOrWith(const Value& dot, const ast::BranchNode* n) {
    const std::size_t mark = Mark();
    Value val = EvalPipeline(dot, n->pipe.get());
    Flow f = Flow::kNormal;
    if (!Failed()) {
      if (Truth(val)) {
        f = Walk(n->type == NodeType::kWith ? val : dot, n->list.get());
      } else if (n->else_list) {
        f = Walk(dot, n->else_list.get());
      }
    }
    Pop(mark);
    return Failed() ? Flow::kError : f;
  }

  Flow WalkRange(const Value& dot, const ast::BranchNode* r) {
    At(r);
    const std::size_t outer_mark = Mark();
    Value val = EvalPipeline(dot, r->pipe.get());
    if (Failed()) return Flow::kError;
    if (val.kind() == Kind::kSample && val.AsSample() != nullptr)
      val = SampleStruct(*val.AsSample());
    const std::size_t mark = Mark();
    const auto& decl = r->pipe->decl;
    // One iteration; false stops the loop ({{break}} or an error).
    auto iteration = [&](const Value& index, const Value& elem) -> bool {
      if (!decl.empty()) {
        if (r->pipe->is_assign) {
          SetVar(decl[0]->ident[0], decl.size() > 1 ? index : elem);
        } else {
          SetTopVar(1, elem);  // lexically the last variable
        }
      }
      if (decl.size() > 1) {
        if (r->pipe->is_assign) {
          SetVar(decl[1]->ident[0], elem);
        } else {
          SetTopVar(2, index);
        }
      }
      if (Failed()) return false;
      const Flow f = Walk(elem, r->list.get());
      Pop(mark);
      return f == Flow::kNormal || f == Flow::kContinue;
    };
    bool ran = false;
    switch (val.kind()) {
      case Kind::kList:
        if (val.Len() > 0) {
          ran = true;
          const auto& items = val.AsList()->items;
          for (std::size_t i = 0; i < items.size(); ++i) {
            if (!iteration(Value::Int(static_cast<std::int64_t>(i)), items[i])) break;
          }
        }
        break;
      case Kind::kMap:
        if (val.Len() > 0) {
          ran = true;
          for (const auto& [k, v] : val.AsMap()->entries) {
            if (!iteration(Value::String(k), v)) break;
          }
        }
        break;
      case Kind::kInt:
        // Go 1.22 ranges over integers (Prometheus 3.x).
        if (decl.size() > 1) {
          Errorf("can't use " + Sprint(std::span<const Value>(&val, 1)) +
                 " to iterate over more than one variable");
          break;
        }
        if (val.AsInt() > 0) {
          ran = true;
          for (std::int64_t i = 0; i < val.AsInt(); ++i) {
            if (!iteration(Value::Int(i), Value::Int(i))) break;
          }
        }
        break;
      case Kind::kInvalid:
        break;  // acts like an empty map
      default:
        Errorf("range can't iterate over " + Sprint(std::span<const Value>(&val, 1)));
        break;
    }
    if (!Failed() && !ran && r->else_list) Walk(dot, r->else_list.get());
    Pop(outer_mark);
    return Failed() ? Flow::kError : Flow::kNormal;
  }

  Flow WalkTemplate(const Value& dot, const ast::TemplateCallNode* t) {
    At(t);
    auto it = sh_->prog->trees.find(t->name);
    if (it == sh_->prog->trees.end() || !it->second->root) {
      Errorf("template " + Quote(t->name) + " not defined");
      return Flow::kError;
    }
    if (depth_ >= sh_->limits->max_template_depth) {
      Errorf("exceeded maximum template depth (" + std::to_string(sh_->limits->max_template_depth) +
             ")");
      return Flow::kError;
    }
    // Variables declared by the pipeline persist in the caller.
    Value new_dot = EvalPipeline(dot, t->pipe.get());
    if (Failed()) return Flow::kError;
    State callee(sh_, it->second.get(), depth_ + 1);
    callee.Push("$", new_dot);  // no dynamic scoping: the callee sees only $
    const Flow f = callee.Walk(new_dot, it->second->root.get());
    return f == Flow::kError ? Flow::kError : Flow::kNormal;
  }

  // --- evaluation ---------------------------------------------------------
  Value EvalPipeline(const Value& dot, const ast::PipeNode* pipe) {
    if (pipe == nullptr) return Value();
    At(pipe);
    const NestingScope scope(sh_);
    if (scope.too_deep()) return TooDeep();
    Value value;
    bool have = false;
    for (const auto& cmd : pipe->cmds) {
      Value prev = std::move(value);
      value = EvalCommand(dot, cmd.get(), have ? &prev : nullptr);
      if (Failed()) return Value();
      have = true;
    }
    for (const auto& var : pipe->decl) {
      if (pipe->is_assign) {
        SetVar(var->ident[0], value);
      } else {
        Push(var->ident[0], value);
      }
    }
    return value;
  }

  void NotAFunction(Args args, const Value* final) {
    if (args.size() > 1 || final != nullptr) {
      Errorf("can't give argument to non-function " + args[0]->String());
    }
  }

  Value EvalCommand(const Value& dot, const ast::CommandNode* cmd, const Value* final) {
    if (!Step()) return Value();
    const Node* first = cmd->args[0].get();
    const Args args(cmd->args);
    switch (first->type) {
      case NodeType::kField:
        return EvalFieldNode(dot, static_cast<const ast::FieldNode*>(first), args, final);
      case NodeType::kChain:
        return EvalChainNode(dot, static_cast<const ast::ChainNode*>(first), args, final);
      case NodeType::kIdentifier:
        return EvalFunction(dot, static_cast<const ast::IdentifierNode*>(first), cmd, args, final);
      case NodeType::kPipe:
        NotAFunction(args, final);
        if (Failed()) return Value();
        return EvalPipeline(dot, static_cast<const ast::PipeNode*>(first));
      case NodeType::kVariable:
        return EvalVariableNode(dot, static_cast<const ast::VariableNode*>(first), args, final);
      default:
        break;
    }
    At(first);
    NotAFunction(args, final);
    if (Failed()) return Value();
    switch (first->type) {
      case NodeType::kBool:
        return Value::Bool(static_cast<const ast::BoolNode*>(first)->value);
      case NodeType::kDot:
        return dot;
      case NodeType::kNil:
        return Errorf("nil is not a command");
      case NodeType::kNumber:
        return IdealConstant(static_cast<const ast::NumberNode*>(first));
      case NodeType::kString:
        return Value::String(static_cast<const ast::StringNode*>(first)->text);
      default:
        return Errorf("can't evaluate command " + Quote(first->String()));
    }
  }

  // A number literal without a target type: int, or float64 when written as one.
  Value IdealConstant(const ast::NumberNode* n) {
    At(n);
    if (n->is_complex) return Value::Complex(n->complex128);
    if (n->is_float && !IsHexInt(n->text) && n->text[0] != '\'' &&
        n->text.find_first_of(".eEpP") != std::string::npos) {
      return Value::Float(n->float64);
    }
    if (n->is_int) return Value::Int(n->int64);
    if (n->is_uint) return Errorf(n->text + " overflows int");
    return Value();
  }

  Value EvalFieldNode(const Value& dot, const ast::FieldNode* field, Args args,
                      const Value* final) {
    At(field);
    return EvalFieldChain(dot, dot, field, field->ident, args, final);
  }

  Value EvalChainNode(const Value& dot, const ast::ChainNode* chain, Args args,
                      const Value* final) {
    At(chain);
    if (chain->node->type == NodeType::kNil) {
      return Errorf("indirection through explicit nil in " + chain->String());
    }
    Value pipe = EvalArg(dot, ParamType::kReflectValue, chain->node.get());
    if (Failed()) return Value();
    return EvalFieldChain(dot, pipe, chain, chain->field, args, final);
  }

  Value EvalVariableNode(const Value& dot, const ast::VariableNode* var, Args args,
                         const Value* final) {
    At(var);
    Value value = VarValue(var->ident[0]);
    if (Failed()) return Value();
    if (var->ident.size() == 1) {
      NotAFunction(args, final);
      return value;
    }
    return EvalFieldChain(dot, value, var, std::span<const std::string>(var->ident).subspan(1),
                          args, final);
  }

  Value EvalFieldChain(const Value& dot, Value receiver, const Node* node,
                       std::span<const std::string> ident, Args args, const Value* final) {
    const std::size_t n = ident.size();
    for (std::size_t i = 0; i + 1 < n; ++i) {
      receiver = EvalField(dot, ident[i], node, {}, nullptr, receiver);
      if (Failed()) return Value();
    }
    return EvalField(dot, ident[n - 1], node, args, final, receiver);
  }

  Value EvalField(const Value& dot, const std::string& name, const Node* node, Args args,
                  const Value* final, const Value& receiver) {
    if (!receiver.valid()) return Value();  // missingkey=zero: a nil value yields the zero value
    const std::string type = receiver.TypeName();
    if (const FuncDef* method = FindMethod(receiver, name)) {
      return EvalCall(dot, *method, false, node, name, args, final, &receiver);
    }
    const bool has_args = args.size() > 1 || final != nullptr;
    const auto struct_field = [&](const StructValue& s) -> const Value* {
      for (const auto& [fname, fval] : s.fields) {
        if (fname == name) return &fval;
      }
      return nullptr;
    };
    switch (receiver.kind()) {
      case Kind::kStruct:
        if (const Value* f = struct_field(*receiver.AsStruct())) {
          if (has_args) return Errorf(name + " has arguments but cannot be invoked as function");
          return *f;
        }
        break;
      case Kind::kSample: {
        const SampleValue* s = receiver.AsSample();
        const bool known = name == "Labels" || name == "Value";
        if (!known) break;
        if (s == nullptr) return Errorf("nil pointer evaluating " + type + "." + name);
        if (has_args) return Errorf(name + " has arguments but cannot be invoked as function");
        return name == "Labels" ? s->labels : Value::Float(s->value);
      }
      case Kind::kMap: {
        if (has_args) return Errorf(name + " is not a method but has arguments");
        const MapValue* m = receiver.AsMap();
        if (const Value* v = m == nullptr ? nullptr : m->Find(name)) return *v;
        return (m == nullptr || m->elem_is_string) ? Value::String("") : Value();
      }
      default:
        break;
    }
    return Errorf("can't evaluate field " + name + " in type " + type);
  }

  Value EvalFunction(const Value& dot, const ast::IdentifierNode* ident, const Node* cmd, Args args,
                     const Value* final) {
    At(ident);
    bool builtin = false;
    const FuncDef* def = sh_->prog->funcs->Find(ident->ident, &builtin);
    if (def == nullptr) return Errorf(Quote(ident->ident) + " is not a defined function");
    return EvalCall(dot, *def, builtin, cmd, ident->ident, args, final, nullptr);
  }

  Value EvalCall(const Value& dot, const FuncDef& fn, bool builtin, const Node* node,
                 const std::string& name, Args args, const Value* final, const Value* receiver) {
    if (!args.empty()) args = args.subspan(1);  // args[0] names the function
    const std::size_t num_in = args.size() + (final != nullptr ? 1 : 0);
    const std::size_t nparams = fn.params.size();
    std::size_t num_fixed = args.size();
    if (fn.variadic) {
      num_fixed = nparams - 1;
      if (num_in < num_fixed) {
        return Errorf("wrong number of args for " + name + ": want at least " +
                      std::to_string(nparams - 1) + " got " + std::to_string(args.size()));
      }
    } else if (num_in != nparams) {
      return Errorf("wrong number of args for " + name + ": want " + std::to_string(nparams) +
                    " got " + std::to_string(num_in));
    }
    if (builtin && (name == "and" || name == "or")) {
      // and/or evaluate their arguments only until the result is known.
      Value v;
      for (const auto& arg : args) {
        v = EvalArg(dot, ParamType::kReflectValue, arg.get());
        if (Failed()) return Value();
        if (Truth(v) == (name == "or")) return v;
      }
      if (final != nullptr) v = *final;
      return v;
    }
    std::vector<Value> argv;
    argv.reserve(num_in + 1);
    if (receiver != nullptr) argv.push_back(*receiver);
    std::size_t i = 0;
    for (; i < num_fixed && i < args.size(); ++i) {
      argv.push_back(EvalArg(dot, fn.params[i], args[i].get()));
      if (Failed()) return Value();
    }
    if (fn.variadic) {
      for (; i < args.size(); ++i) {
        argv.push_back(EvalArg(dot, fn.params.back(), args[i].get()));
        if (Failed()) return Value();
      }
    }
    if (final != nullptr) {
      ParamType t = fn.params.empty() ? ParamType::kAny : fn.params.back();
      if (fn.variadic && num_in - 1 < num_fixed) t = fn.params[num_in - 1];
      argv.push_back(ValidateType(*final, t));
      if (Failed()) return Value();
    }
    Result<Value> result =
        receiver != nullptr ? CallMethod(*receiver, name, std::span<const Value>(argv).subspan(1))
                            : fn.impl(*sh_->env, argv);
    if (!result.ok()) {
      At(node);
      return Errorf("error calling " + name + ": " + std::string(result.status().message()));
    }
    return std::move(result).value();
  }

  static bool CanBeNil(ParamType t) {
    return t == ParamType::kAny || t == ParamType::kReflectValue || t == ParamType::kSamplePtr ||
           t == ParamType::kQueryResult;
  }
  static Value Zero(ParamType t) {
    if (t == ParamType::kSamplePtr) return Value::Sample(nullptr);
    if (t == ParamType::kQueryResult) return Value::List(nullptr);
    return Value();
  }
  static bool Assignable(const Value& v, ParamType t) {
    switch (t) {
      case ParamType::kReflectValue:
      case ParamType::kAny:
        return true;
      case ParamType::kString:
        return v.kind() == Kind::kString && !v.IsHtml();
      case ParamType::kFloat64:
        return v.kind() == Kind::kFloat;
      case ParamType::kInt:
        return v.kind() == Kind::kInt;
      case ParamType::kBool:
        return v.kind() == Kind::kBool;
      case ParamType::kSamplePtr:
        return v.kind() == Kind::kSample;
      case ParamType::kQueryResult:
        return v.kind() == Kind::kList;
    }
    return false;
  }

  Value ValidateType(const Value& value, ParamType t) {
    if (!value.valid()) {
      if (CanBeNil(t)) return Zero(t);
      return Errorf("invalid value; expected " + std::string(ParamTypeName(t)));
    }
    if (Assignable(value, t)) return value;
    return Errorf("wrong type for value; expected " + std::string(ParamTypeName(t)) + "; got " +
                  value.TypeName());
  }

  Value EvalArg(const Value& dot, ParamType t, const Node* n) {
    At(n);
    switch (n->type) {
      case NodeType::kDot:
        return ValidateType(dot, t);
      case NodeType::kNil:
        if (CanBeNil(t)) return Zero(t);
        return Errorf("cannot assign nil to " + std::string(ParamTypeName(t)));
      case NodeType::kField: {
        Value v = EvalFieldNode(dot, static_cast<const ast::FieldNode*>(n), {}, nullptr);
        return Failed() ? Value() : ValidateType(v, t);
      }
      case NodeType::kVariable: {
        Value v = EvalVariableNode(dot, static_cast<const ast::VariableNode*>(n), {}, nullptr);
        return Failed() ? Value() : ValidateType(v, t);
      }
      case NodeType::kPipe: {
        Value v = EvalPipeline(dot, static_cast<const ast::PipeNode*>(n));
        return Failed() ? Value() : ValidateType(v, t);
      }
      case NodeType::kIdentifier: {
        const auto* id = static_cast<const ast::IdentifierNode*>(n);
        Value v = EvalFunction(dot, id, id, {}, nullptr);
        return Failed() ? Value() : ValidateType(v, t);
      }
      case NodeType::kChain: {
        Value v = EvalChainNode(dot, static_cast<const ast::ChainNode*>(n), {}, nullptr);
        return Failed() ? Value() : ValidateType(v, t);
      }
      default:
        break;
    }
    const auto* num =
        n->type == NodeType::kNumber ? static_cast<const ast::NumberNode*>(n) : nullptr;
    switch (t) {
      case ParamType::kBool:
        if (n->type == NodeType::kBool)
          return Value::Bool(static_cast<const ast::BoolNode*>(n)->value);
        return Errorf("expected bool; found " + n->String());
      case ParamType::kFloat64:
        if (num != nullptr && num->is_float) return Value::Float(num->float64);
        return Errorf("expected float; found " + n->String());
      case ParamType::kInt:
        if (num != nullptr && num->is_int) return Value::Int(num->int64);
        return Errorf("expected integer; found " + n->String());
      case ParamType::kString:
        if (n->type == NodeType::kString) {
          return Value::String(static_cast<const ast::StringNode*>(n)->text);
        }
        return Errorf("expected string; found " + n->String());
      case ParamType::kAny:
      case ParamType::kReflectValue:
        return EvalEmptyInterface(n);
      default:
        return Errorf("can't handle " + n->String() + " for arg of type " +
                      std::string(ParamTypeName(t)));
    }
  }

  Value EvalEmptyInterface(const Node* n) {
    At(n);
    switch (n->type) {
      case NodeType::kBool:
        return Value::Bool(static_cast<const ast::BoolNode*>(n)->value);
      case NodeType::kNumber:
        return IdealConstant(static_cast<const ast::NumberNode*>(n));
      case NodeType::kString:
        return Value::String(static_cast<const ast::StringNode*>(n)->text);
      default:
        return Errorf("can't handle assignment of " + n->String() + " to empty interface argument");
    }
  }

  void PrintValue(const Node* n, const Value& v) {
    At(n);
    const Value p = Printable(v);
    Write(Sprint(std::span<const Value>(&p, 1)));
  }

  ExecShared* sh_;
  const ast::Tree* tmpl_;
  int depth_;
  const Node* node_ = nullptr;
  std::vector<std::pair<std::string, Value>> vars_;
};

}  // namespace

void AddBuiltinFuncs(FuncTable* table) {
  using P = ParamType;
  const auto add = [&](const char* name, std::vector<ParamType> params, bool variadic,
                       FuncImpl impl) {
    table->Add(FuncDef{name, std::move(params), variadic, impl}, true);
  };
  add("and", {P::kReflectValue, P::kReflectValue}, true, BuiltinAndOr);
  add("or", {P::kReflectValue, P::kReflectValue}, true, BuiltinAndOr);
  add("not", {P::kReflectValue}, false, BuiltinNot);
  add("len", {P::kReflectValue}, false, BuiltinLen);
  add("index", {P::kReflectValue, P::kReflectValue}, true, BuiltinIndex);
  add("slice", {P::kReflectValue, P::kReflectValue}, true, BuiltinSlice);
  add("call", {P::kReflectValue, P::kReflectValue}, true, BuiltinCall);
  add("print", {P::kAny}, true, BuiltinPrint);
  add("println", {P::kAny}, true, BuiltinPrintln);
  add("printf", {P::kString, P::kAny}, true, BuiltinPrintf);
  add("html", {P::kAny}, true, BuiltinHtml);
  add("js", {P::kAny}, true, BuiltinJs);
  add("urlquery", {P::kAny}, true, BuiltinUrlquery);
  add("eq", {P::kReflectValue, P::kReflectValue}, true, BuiltinEq);
  add("ne", {P::kReflectValue, P::kReflectValue}, false, BuiltinNe);
  add("lt", {P::kReflectValue, P::kReflectValue}, false, BuiltinLt);
  add("le", {P::kReflectValue, P::kReflectValue}, false, BuiltinLe);
  add("gt", {P::kReflectValue, P::kReflectValue}, false, BuiltinGt);
  add("ge", {P::kReflectValue, P::kReflectValue}, false, BuiltinGe);
}

Result<std::string> TemplateProgram::Execute(const Value& data, const CallEnv& env,
                                             const ExecLimits& limits) const {
  const ast::Tree* main = impl_->main();
  if (main == nullptr || !main->root) {
    return Status::InvalidArgument("template: " + impl_->parse_name + ": " +
                                   Quote(impl_->parse_name) +
                                   " is an incomplete or empty template");
  }
  ExecShared shared{impl_.get(), &env, &limits, {}, 0, false, {}};
  State state(&shared, main, 0);
  state.Push("$", data);
  state.Walk(data, main->root.get());
  if (shared.failed) return Status::InvalidArgument(std::move(shared.error));
  return std::move(shared.out);
}

}  // namespace nimify::tmpl
