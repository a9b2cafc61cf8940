// Built against the installed package only: proves the public headers are
// self-contained and that nimify::nimify links with no other dependency.
#include <cstdio>

#include "nimify/nimify.h"

int main() {
  nimify::Status s = nimify::Status::InvalidArgument("demo");
  if (s.ok() || s.code() != nimify::StatusCode::kInvalidArgument) return 1;
  std::printf("nimify %s: %s\n", nimify::Version(), s.ToString().c_str());
  return 0;
}
