// Names the calling thread for `top -H`, `ps -L`, perf and debuggers, which
// otherwise show every thread of a process under the process's name.
#ifndef NIMIFY_COMMON_THREAD_NAME_H_
#define NIMIFY_COMMON_THREAD_NAME_H_

#include <string_view>

namespace nimify {

// At most 15 bytes are kept (the kernel's limit); longer names are cut.
void SetCurrentThreadName(std::string_view name) noexcept;

}  // namespace nimify

#endif  // NIMIFY_COMMON_THREAD_NAME_H_
