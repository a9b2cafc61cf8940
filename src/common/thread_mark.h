// A per-thread note that this thread is inside some object's critical scope
// (holding a pipeline's shards, running a dispatcher's handlers), so that a
// call that would wait for that scope can tell it is being made from inside
// it and fail instead of deadlocking:
//
//   using HoldingMark = ThreadMark<struct HoldingTag>;
//   const HoldingMark::Scope holding(this);   // scopes nest
//   if (HoldingMark::Current() == this) return Status::FailedPrecondition(...);
#ifndef NIMIFY_COMMON_THREAD_MARK_H_
#define NIMIFY_COMMON_THREAD_MARK_H_

namespace nimify {

// Tag: one independent mark per tag type. Thread safety: each thread has its own.
template <typename Tag>
class ThreadMark {
 public:
  static const void* Current() noexcept { return current_; }

  class Scope {
   public:
    explicit Scope(const void* owner) noexcept : previous_(current_) { current_ = owner; }
    ~Scope() { current_ = previous_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    const void* const previous_;
  };

 private:
  static inline thread_local const void* current_ = nullptr;
};

}  // namespace nimify

#endif  // NIMIFY_COMMON_THREAD_MARK_H_
