// Go's text/template, as Prometheus uses it for alert labels and annotations:
// the same lexer (trim markers, comments, raw strings), parser (pipelines,
// variables, if/else if/with/range/break/continue, define/template/block),
// execution rules (missingkey=zero, Go's truth and comparison rules, argument
// conversion) and the same error messages.
//
//   NIMIFY_ASSIGN_OR_RETURN(auto program,
//                           TemplateProgram::Parse("__alert_X", text, PrometheusFuncs()));
//   NIMIFY_ASSIGN_OR_RETURN(std::string out, program->Execute(data, env));
//
// Messages follow Go 1.19 (what Prometheus 2.42 was built with); the syntax
// Prometheus 3.x's newer Go adds is accepted too ({{else with}}, range over an
// integer). Where Go's behavior cannot or should not be copied:
//   - execution is bounded (ExecLimits): template depth 1000 (Go: 100000), total
//     nesting, output size and steps, so no template can exhaust the stack or loop;
//   - a *template.sample inside a slice prints its contents, not its address;
//   - Unicode classes (letters, printable, case mapping) are exact for ASCII and
//     Latin-1 and approximate beyond;
//   - *time.Time and *time.Duration have the common methods only (Unix*, Format,
//     Year..Second, Seconds, Minutes, Hours, ...).
//
// Thread safety: a parsed program is immutable; Execute may run concurrently.
#ifndef NIMIFY_TEMPLATE_GO_TEMPLATE_H_
#define NIMIFY_TEMPLATE_GO_TEMPLATE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/status.h"
#include "template/go_value.h"

namespace nimify::tmpl {

struct TemplateData;

// Parameter types of template functions. The executor converts arguments as
// Go's reflect-based call does, with Go's messages for mismatches.
enum class ParamType : std::uint8_t {
  kReflectValue,  // reflect.Value (the builtins): any value, nil included
  kAny,           // interface {}
  kString,
  kFloat64,
  kInt,
  kBool,
  kSamplePtr,    // *template.sample
  kQueryResult,  // template.queryResult
};

// Go's name for a parameter type: "string", "interface {}", "*template.sample".
std::string_view ParamTypeName(ParamType t);

// What a function sees of the execution besides its arguments.
struct CallEnv {
  const TemplateData* data = nullptr;  // Prometheus's inputs; may be null
};

// A function's error is a Status whose message is Go's error text; the
// executor reports it as "error calling <name>: <message>".
using FuncImpl = Result<Value> (*)(const CallEnv& env, std::span<const Value> args);

struct FuncDef {
  std::string name;
  std::vector<ParamType> params;  // with `variadic`, the last one is the ...T element type
  bool variadic = false;
  FuncImpl impl = nullptr;
};

// Name -> function. Prometheus's functions are looked up before Go's builtins,
// as text/template does with a FuncMap.
class FuncTable {
 public:
  void Add(FuncDef def, bool builtin);
  // Null when not defined.
  const FuncDef* Find(std::string_view name, bool* builtin) const;
  bool Has(std::string_view name) const { return Find(name, nullptr) != nullptr; }

 private:
  std::map<std::string, FuncDef, std::less<>> funcs_;
  std::map<std::string, FuncDef, std::less<>> builtins_;
};

// Go's builtins: and, or, not, len, index, slice, call, print, printf,
// println, html, js, urlquery, eq, ne, lt, le, gt, ge.
void AddBuiltinFuncs(FuncTable* table);
// The builtins plus Prometheus's template functions (functions.cc).
const FuncTable& PrometheusFuncs();

// Bounds on one execution, so no template can run away.
struct ExecLimits {
  std::size_t max_output_bytes = std::size_t{1} << 20;
  int max_template_depth = 1000;  // nested {{template}} calls
  // Nested control structures, template calls and parenthesized pipelines, all
  // levels together; bounds the native stack an execution uses.
  int max_nesting = 2500;
  std::uint64_t max_steps = 10'000'000;  // nodes walked and commands evaluated
};

class TemplateProgram {
 public:
  // Parses `text` as template `name`. kParseError with Go's message, e.g.
  // `template: x:1: function "foo" not defined`, when the text is not a template.
  static Result<std::shared_ptr<const TemplateProgram>> Parse(std::string_view name,
                                                              std::string text,
                                                              const FuncTable* funcs);
  ~TemplateProgram();
  TemplateProgram(const TemplateProgram&) = delete;
  TemplateProgram& operator=(const TemplateProgram&) = delete;

  // Executes with `data` as dot. The error message is Go's, e.g.
  // `template: x:1:3: executing "x" at <humanize>: error calling humanize: ...`.
  Result<std::string> Execute(const Value& data, const CallEnv& env,
                              const ExecLimits& limits = ExecLimits()) const;

  // Whether some template of the program names `function`.
  bool Calls(std::string_view function) const;

  struct Impl;

 private:
  explicit TemplateProgram(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nimify::tmpl

#endif  // NIMIFY_TEMPLATE_GO_TEMPLATE_H_
