#include "common/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>

namespace nimify {

void SetCurrentThreadName(std::string_view name) noexcept {
  char buf[16];
  const std::size_t n = std::min(name.size(), sizeof(buf) - 1);
  std::memcpy(buf, name.data(), n);
  buf[n] = '\0';
  (void)pthread_setname_np(pthread_self(), buf);
}

}  // namespace nimify
