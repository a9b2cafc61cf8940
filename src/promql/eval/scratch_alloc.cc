#include "promql/eval/scratch_alloc.h"

#include <bit>
#include <new>

namespace nimify::promql::eval_internal {

namespace {

constexpr std::size_t kMinCachedBytes = std::size_t{64} << 10;
constexpr int kMinClass = 16;  // 2^16 = 64 KiB
constexpr int kMaxClass = 40;
constexpr std::size_t kBlocksPerClass = 4;
constexpr std::size_t kMaxCachedBytes = std::size_t{256} << 20;

class BlockCache {
 public:
  ~BlockCache() {
    for (auto& list : free_) {
      for (void* p : list) ::operator delete(p);
    }
  }
  void* Take(int cls) {
    auto& list = free_[cls - kMinClass];
    if (list.empty()) return nullptr;
    void* p = list.back();
    list.pop_back();
    cached_bytes_ -= std::size_t{1} << cls;
    return p;
  }
  bool Put(int cls, void* p) {
    auto& list = free_[cls - kMinClass];
    const std::size_t size = std::size_t{1} << cls;
    if (list.size() >= kBlocksPerClass || cached_bytes_ + size > kMaxCachedBytes) return false;
    list.push_back(p);
    cached_bytes_ += size;
    return true;
  }

 private:
  std::vector<void*> free_[kMaxClass - kMinClass + 1];
  std::size_t cached_bytes_ = 0;
};

BlockCache& Cache() {
  thread_local BlockCache cache;
  return cache;
}

int SizeClass(std::size_t bytes) { return std::bit_width(bytes - 1); }

}  // namespace

void* ScratchAllocate(std::size_t bytes) {
  if (bytes < kMinCachedBytes) return ::operator new(bytes);
  const int cls = SizeClass(bytes);
  if (cls > kMaxClass) return ::operator new(bytes);
  if (void* p = Cache().Take(cls)) return p;
  return ::operator new (std::size_t{1} << cls);
}

void ScratchDeallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes >= kMinCachedBytes) {
    const int cls = SizeClass(bytes);
    if (cls <= kMaxClass && Cache().Put(cls, p)) return;
  }
  ::operator delete(p);
}

}  // namespace nimify::promql::eval_internal
