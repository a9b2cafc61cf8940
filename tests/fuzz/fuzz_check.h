// FUZZ_CHECK: a broken invariant in a fuzz entry prints what broke and the
// input, then aborts, which libFuzzer reports as a crash (with a reproducer)
// and ctest as a failure.
#ifndef NIMIFY_TESTS_FUZZ_FUZZ_CHECK_H_
#define NIMIFY_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond, input)                                                         \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      const std::string_view fuzz_input_ = (input);                                     \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\ninput (%zu bytes): %.*s\n", \
                   __FILE__, __LINE__, #cond, fuzz_input_.size(),                       \
                   static_cast<int>(fuzz_input_.size()), fuzz_input_.data());           \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace nimify::fuzz {

inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace nimify::fuzz

#endif  // NIMIFY_TESTS_FUZZ_FUZZ_CHECK_H_
