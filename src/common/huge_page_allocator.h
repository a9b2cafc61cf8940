// HugePageAllocator: a std::allocator for large arrays that are read at
// random, one element per sample (hash tables, per-series slot arrays).
//
//   std::vector<Slot, common::HugePageAllocator<Slot>> slots;
//
// An allocation of at least kHugePageBytes gets its own anonymous mapping,
// aligned to and rounded up to 2 MiB and advised MADV_HUGEPAGE before its
// first touch, so that the kernel backs it with transparent huge pages where
// it grants them (the default "madvise" mode does only on request). A table
// of a few MiB then costs a few TLB entries instead of one per 4 KiB page,
// and a random read misses the TLB far less often: at 100 requests a second
// the tables are cold, and each page walk was a second memory miss (two
// levels of them in a virtual machine). glibc's malloc serves such sizes
// from its thread arenas or from mappings that are not 2 MiB aligned, and it
// may have touched the pages already; then advice comes too late.
//
// Smaller allocations go to std::allocator. The rounding costs up to 2 MiB
// per array, so this is for a few large arrays, not for many.
//
// Thread safety: stateless; as safe as mmap and operator new.
#ifndef NIMIFY_COMMON_HUGE_PAGE_ALLOCATOR_H_
#define NIMIFY_COMMON_HUGE_PAGE_ALLOCATOR_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>

namespace nimify::common {

inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

// Maps `bytes` (a multiple of kHugePageBytes) aligned to kHugePageBytes and
// advised for huge pages; nullptr when the mapping fails.
inline void* MapHugePages(std::size_t bytes) noexcept {
  // Map one huge page more, then unmap the unaligned head and tail.
  const std::size_t padded = bytes + kHugePageBytes;
  void* raw = mmap(nullptr, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto begin = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (begin + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  if (aligned > begin) munmap(raw, aligned - begin);
  const std::uintptr_t end = begin + padded;
  if (end > aligned + bytes) munmap(reinterpret_cast<void*>(aligned + bytes), end - aligned - bytes);
  // Advice only: without it the mapping still works, in small pages.
  (void)madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

inline std::size_t HugePageRound(std::size_t bytes) noexcept {
  return (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
}

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;

  HugePageAllocator() noexcept = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}  // NOLINT: rebinding

  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHugePageBytes) return std::allocator<T>().allocate(n);
    void* p = MapHugePages(HugePageRound(bytes));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }

  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHugePageBytes) {
      std::allocator<T>().deallocate(p, n);
      return;
    }
    munmap(p, HugePageRound(bytes));
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace nimify::common

#endif  // NIMIFY_COMMON_HUGE_PAGE_ALLOCATOR_H_
