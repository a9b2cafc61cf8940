// The PromQL function table (names, argument types, return types).
#ifndef NIMIFY_PROMQL_FUNCTIONS_H_
#define NIMIFY_PROMQL_FUNCTIONS_H_

#include <string_view>
#include <vector>

#include "promql/value.h"

namespace nimify::promql {

struct Function {
  std::string_view name;
  std::vector<ValueType> arg_types;
  // 0: exactly arg_types; -1: the last type repeats without bound;
  // n > 0: up to n trailing arguments may be omitted.
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
  bool experimental = false;
};

// Null when no function has that name.
const Function* LookupFunction(std::string_view name) noexcept;

// Every function, in name order (for docs and tests).
const std::vector<Function>& AllFunctions();

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_FUNCTIONS_H_
