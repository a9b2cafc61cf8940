// A position in a source file, as error messages and lint warnings print it.
#ifndef NIMIFY_ALERTING_SOURCE_POS_H_
#define NIMIFY_ALERTING_SOURCE_POS_H_

#include <string>
#include <string_view>

namespace nimify::alerting {

// 1-based line and column; line 0 means "unknown".
struct SourcePos {
  int line = 0;
  int column = 0;
  bool known() const noexcept { return line > 0; }
  friend bool operator==(const SourcePos&, const SourcePos&) = default;
};

// "origin:line:col" (or just "origin" when the position is unknown).
inline std::string FormatPos(std::string_view origin, SourcePos pos) {
  std::string out(origin);
  if (pos.known()) {
    out += ':' + std::to_string(pos.line) + ':' + std::to_string(pos.column);
  }
  return out;
}

}  // namespace nimify::alerting

#endif  // NIMIFY_ALERTING_SOURCE_POS_H_
