#include "common/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace nimify {
namespace {

std::string NameOfThisThread() {
  char buf[32] = {};
  EXPECT_EQ(pthread_getname_np(pthread_self(), buf, sizeof(buf)), 0);
  return buf;
}

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  const std::string before = NameOfThisThread();
  std::string inside;
  std::thread t([&] {
    SetCurrentThreadName("nimify-shard-3");
    inside = NameOfThisThread();
  });
  t.join();
  EXPECT_EQ(inside, "nimify-shard-3");
  EXPECT_EQ(NameOfThisThread(), before);
}

TEST(ThreadNameTest, LongNamesAreCutToTheKernelLimit) {
  std::string inside;
  std::thread t([&] {
    SetCurrentThreadName("nimify-a-name-longer-than-fifteen");
    inside = NameOfThisThread();
  });
  t.join();
  EXPECT_EQ(inside, "nimify-a-name-l");
}

}  // namespace
}  // namespace nimify
