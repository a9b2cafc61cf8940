// Mutexes that clang's thread-safety analysis can check, and the annotations
// that state which lock guards what:
//
//   Mutex mu_;
//   std::vector<Item> queue_ NIMIFY_GUARDED_BY(mu_);
//   void DrainLocked() NIMIFY_REQUIRES(mu_);
//   ...
//   MutexLock lock(mu_);
//   while (queue_.empty()) cv_.Wait(mu_);
//
// With clang, -Wthread-safety turns a read or write of a guarded member without
// its lock into a compile error (cmake/NimifyWarnings.cmake); gcc ignores the
// annotations. The types are std::mutex and std::shared_mutex underneath, with
// the same cost. Waits are written as loops around CondVar::Wait rather than
// with predicate lambdas, because the analysis does not follow a lock into a
// lambda.
#ifndef NIMIFY_COMMON_MUTEX_H_
#define NIMIFY_COMMON_MUTEX_H_

#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <thread>

#if defined(__clang__)
#define NIMIFY_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define NIMIFY_THREAD_ANNOTATION(x)
#endif

#define NIMIFY_CAPABILITY(name) NIMIFY_THREAD_ANNOTATION(capability(name))
#define NIMIFY_SCOPED_CAPABILITY NIMIFY_THREAD_ANNOTATION(scoped_lockable)
#define NIMIFY_GUARDED_BY(mu) NIMIFY_THREAD_ANNOTATION(guarded_by(mu))
#define NIMIFY_PT_GUARDED_BY(mu) NIMIFY_THREAD_ANNOTATION(pt_guarded_by(mu))
#define NIMIFY_ACQUIRED_BEFORE(...) NIMIFY_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define NIMIFY_ACQUIRED_AFTER(...) NIMIFY_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define NIMIFY_REQUIRES(...) NIMIFY_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define NIMIFY_REQUIRES_SHARED(...) \
  NIMIFY_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define NIMIFY_ACQUIRE(...) NIMIFY_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define NIMIFY_ACQUIRE_SHARED(...) NIMIFY_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define NIMIFY_RELEASE(...) NIMIFY_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define NIMIFY_RELEASE_SHARED(...) NIMIFY_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define NIMIFY_RELEASE_GENERIC(...) NIMIFY_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define NIMIFY_TRY_ACQUIRE(...) NIMIFY_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define NIMIFY_EXCLUDES(...) NIMIFY_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define NIMIFY_ASSERT_CAPABILITY(x) NIMIFY_THREAD_ANNOTATION(assert_capability(x))
#define NIMIFY_ASSERT_SHARED_CAPABILITY(x) NIMIFY_THREAD_ANNOTATION(assert_shared_capability(x))
#define NIMIFY_NO_THREAD_SAFETY_ANALYSIS NIMIFY_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace nimify {

class CondVar;

// std::mutex with annotations. Thread safety: it is the lock.
class NIMIFY_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() NIMIFY_ACQUIRE() { mu_.lock(); }
  void Unlock() NIMIFY_RELEASE() { mu_.unlock(); }
  bool TryLock() NIMIFY_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis the caller holds the lock where it cannot see it (a
  // callback run under the lock). Not checked at run time.
  void AssertHeld() const NIMIFY_ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for a scope.
class NIMIFY_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) NIMIFY_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() NIMIFY_RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// Holds a Mutex for a scope only when `lock` is true: for state shared between
// threads in one mode and owned by one thread in the other (a producer is
// shared with the clock thread only in wall-clock mode). To the analysis it
// always holds the lock, so every access is checked as if it did.
class NIMIFY_SCOPED_CAPABILITY ConditionalMutexLock {
 public:
  ConditionalMutexLock(Mutex& mu, bool lock) NIMIFY_ACQUIRE(mu) NIMIFY_NO_THREAD_SAFETY_ANALYSIS
      : mu_(lock ? &mu : nullptr) {
    if (mu_ != nullptr) mu_->Lock();
  }
  ~ConditionalMutexLock() NIMIFY_RELEASE() NIMIFY_NO_THREAD_SAFETY_ANALYSIS {
    if (mu_ != nullptr) mu_->Unlock();
  }
  ConditionalMutexLock(const ConditionalMutexLock&) = delete;
  ConditionalMutexLock& operator=(const ConditionalMutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// std::shared_mutex with annotations: many readers or one writer.
class NIMIFY_CAPABILITY("shared mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() NIMIFY_ACQUIRE() { mu_.lock(); }
  void Unlock() NIMIFY_RELEASE() { mu_.unlock(); }
  void LockShared() NIMIFY_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void UnlockShared() NIMIFY_RELEASE_SHARED() { mu_.unlock_shared(); }
  // As Mutex::AssertHeld, for a callback run under the lock.
  void AssertHeld() const NIMIFY_ASSERT_CAPABILITY(this) {}
  void AssertReaderHeld() const NIMIFY_ASSERT_SHARED_CAPABILITY(this) {}

 private:
  std::shared_mutex mu_;
};

class NIMIFY_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) NIMIFY_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~WriterLock() NIMIFY_RELEASE() { mu_.Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

class NIMIFY_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) NIMIFY_ACQUIRE_SHARED(mu) : mu_(mu) { mu_.LockShared(); }
  ~ReaderLock() NIMIFY_RELEASE() { mu_.UnlockShared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

// A condition variable waited on with a held Mutex. Wait may return
// spuriously: callers loop on their condition. Thread safety: any thread.
class CondVar {
 public:
  void Wait(Mutex& mu) NIMIFY_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // still held: the caller's scope unlocks it
  }
  // false when the deadline passed (the condition may still have changed).
  template <class Clock, class Duration>
  bool WaitUntil(Mutex& mu, const std::chrono::time_point<Clock, Duration>& deadline)
      NIMIFY_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    const bool woken = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return woken;
  }
  template <class Rep, class Period>
  bool WaitFor(Mutex& mu, const std::chrono::duration<Rep, Period>& timeout) NIMIFY_REQUIRES(mu) {
    return WaitUntil(mu, std::chrono::steady_clock::now() + timeout);
  }
  void NotifyOne() noexcept { cv_.notify_one(); }
  void NotifyAll() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

// Debug check of an owner-thread contract ("only the shard's owner, or one
// thread while the owner is idle, calls this"): two threads inside scopes of
// the same checker at once abort. Nested scopes on one thread are fine.
// Compiled out with NDEBUG. Thread safety: any thread (that is what it checks).
class ExclusiveUseChecker {
 public:
  class Scope {
   public:
#ifdef NDEBUG
    explicit Scope(const ExclusiveUseChecker&) noexcept {}
#else
    explicit Scope(const ExclusiveUseChecker& checker) noexcept : checker_(checker) {
      const std::thread::id self = std::this_thread::get_id();
      std::thread::id expected{};
      // relaxed: the id is the only datum; the callers' own sync orders the rest.
      entered_ = checker_.inside_.compare_exchange_strong(expected, self, std::memory_order_relaxed);
      assert((entered_ || expected == self) &&
             "two threads at once in code that one thread at a time may run");
    }
    ~Scope() {
      if (entered_) checker_.inside_.store(std::thread::id{}, std::memory_order_relaxed);
    }

   private:
    const ExclusiveUseChecker& checker_;
    bool entered_ = false;
#endif
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
  };

#ifndef NDEBUG
 private:
  mutable std::atomic<std::thread::id> inside_{};
#endif
};

}  // namespace nimify

#endif  // NIMIFY_COMMON_MUTEX_H_
