// common/mutex.h and common/thread_mark.h: the lock types the annotations
// name, the condition variable's timed wait, the owner-thread check and the
// per-thread marks.
#include "common/mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/thread_mark.h"

namespace nimify {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(MutexTest, CondVarWaitUntilTellsATimeoutFromANotify) {
  Mutex mu;
  CondVar cv;
  bool ready = false;
  {
    MutexLock lock(mu);
    const auto start = steady_clock::now();
    // Nobody notifies: the deadline passes (spurious wake-ups loop).
    bool woken = true;
    while (!ready && (woken = cv.WaitUntil(mu, start + milliseconds(20)))) {
    }
    EXPECT_FALSE(woken);
    EXPECT_GE(steady_clock::now() - start, milliseconds(20));
  }
  std::thread notifier([&] {
    std::this_thread::sleep_for(milliseconds(10));
    MutexLock lock(mu);
    ready = true;
    cv.NotifyAll();
  });
  {
    MutexLock lock(mu);
    const auto deadline = steady_clock::now() + std::chrono::seconds(30);
    while (!ready && cv.WaitUntil(mu, deadline)) {
    }
    EXPECT_TRUE(ready);
  }
  notifier.join();
}

TEST(MutexTest, ConditionalMutexLockLocksOnlyWhenAsked) {
  Mutex mu;
  {
    ConditionalMutexLock held(mu, true);
    std::thread other([&] {
      if (mu.TryLock()) {
        mu.Unlock();
        ADD_FAILURE() << "the lock was free";
      }
    });
    other.join();
  }
  {
    ConditionalMutexLock not_held(mu, false);
    std::thread other([&] {
      if (mu.TryLock()) {
        mu.Unlock();
      } else {
        ADD_FAILURE() << "the lock was held";
      }
    });
    other.join();
  }
}

TEST(MutexTest, SharedMutexAdmitsReadersTogetherAndAWriterAlone) {
  SharedMutex mu;
  {
    ReaderLock a(mu);
    std::atomic<bool> second_reader_in{false};
    std::thread reader([&] {
      ReaderLock b(mu);
      second_reader_in = true;
    });
    reader.join();
    EXPECT_TRUE(second_reader_in.load());
  }
  WriterLock w(mu);
  SUCCEED();
}

TEST(ThreadMarkTest, ScopesNestAndStayOnTheirThread) {
  using Mark = ThreadMark<struct TestTag>;
  using OtherMark = ThreadMark<struct OtherTag>;
  int a = 0, b = 0;
  EXPECT_EQ(Mark::Current(), nullptr);
  {
    const Mark::Scope outer(&a);
    EXPECT_EQ(Mark::Current(), &a);
    EXPECT_EQ(OtherMark::Current(), nullptr);  // marks of other tags are separate
    {
      const Mark::Scope inner(&b);
      EXPECT_EQ(Mark::Current(), &b);
    }
    EXPECT_EQ(Mark::Current(), &a);
    const void* seen_elsewhere = &b;
    std::thread other([&] { seen_elsewhere = Mark::Current(); });
    other.join();
    EXPECT_EQ(seen_elsewhere, nullptr);
  }
  EXPECT_EQ(Mark::Current(), nullptr);
}

TEST(ExclusiveUseCheckerTest, OneThreadMayNestAndOthersFollowInTurn) {
  ExclusiveUseChecker checker;
  {
    const ExclusiveUseChecker::Scope outer(checker);
    const ExclusiveUseChecker::Scope nested(checker);
  }
  // Ownership moves once the first thread has left.
  std::thread other([&] { const ExclusiveUseChecker::Scope scope(checker); });
  other.join();
  const ExclusiveUseChecker::Scope again(checker);
  SUCCEED();
}

#ifndef NDEBUG
TEST(ExclusiveUseCheckerDeathTest, TwoThreadsInsideAtOnceAbort) {
  EXPECT_DEATH(
      {
        ExclusiveUseChecker checker;
        std::atomic<bool> inside{false};
        std::atomic<bool> release{false};
        std::thread holder([&] {
          const ExclusiveUseChecker::Scope scope(checker);
          inside = true;
          while (!release) std::this_thread::yield();
        });
        while (!inside) std::this_thread::yield();
        {
          const ExclusiveUseChecker::Scope second(checker);  // aborts here
        }
        release = true;
        holder.join();
      },
      "two threads at once");
}
#endif

}  // namespace
}  // namespace nimify
