// Recycled memory for the evaluator's big per-query arrays (one entry per
// series per node). Returning those to the OS and faulting them back in on
// the next query cost more than evaluating it, so large blocks are kept per
// thread and reused.
#ifndef NIMIFY_PROMQL_EVAL_SCRATCH_ALLOC_H_
#define NIMIFY_PROMQL_EVAL_SCRATCH_ALLOC_H_

#include <cstddef>
#include <vector>

namespace nimify::promql::eval_internal {

// Blocks of 64 KiB and more are rounded up to a power of two and cached per
// thread (at most a few per size and 256 MiB in all); smaller ones go to the
// global allocator. Safe across threads: a block freed on another thread
// joins that thread's cache.
void* ScratchAllocate(std::size_t bytes);
void ScratchDeallocate(void* p, std::size_t bytes) noexcept;

template <typename T>
struct ScratchAllocator {
  using value_type = T;
  ScratchAllocator() noexcept = default;
  template <typename U>
  ScratchAllocator(const ScratchAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n) { return static_cast<T*>(ScratchAllocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { ScratchDeallocate(p, n * sizeof(T)); }
  template <typename U>
  friend bool operator==(const ScratchAllocator&, const ScratchAllocator<U>&) noexcept {
    return true;
  }
};

template <typename T>
using ScratchVec = std::vector<T, ScratchAllocator<T>>;

}  // namespace nimify::promql::eval_internal

#endif  // NIMIFY_PROMQL_EVAL_SCRATCH_ALLOC_H_
