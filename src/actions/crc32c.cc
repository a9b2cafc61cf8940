#include "actions/crc32c.h"

#include <array>
#include <cstddef>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define NIMIFY_CRC32C_HAVE_SSE42 1
#endif

namespace nimify::actions {
namespace {

constexpr std::uint32_t kReflectedPolynomial = 0x82F63B78u;

constexpr std::array<std::uint32_t, 256> MakeTable() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kReflectedPolynomial : 0u);
    table[i] = crc;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> kTable = MakeTable();

// `state` is the inverted running CRC, as both loops keep it.
std::uint32_t UpdatePortable(std::uint32_t state, const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) state = kTable[(state ^ p[i]) & 0xFFu] ^ (state >> 8);
  return state;
}

#ifdef NIMIFY_CRC32C_HAVE_SSE42
__attribute__((target("sse4.2"))) std::uint32_t UpdateSse42(std::uint32_t state,
                                                            const unsigned char* p, std::size_t n) {
  std::uint64_t wide = state;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    wide = _mm_crc32_u64(wide, word);
    p += 8;
    n -= 8;
  }
  state = static_cast<std::uint32_t>(wide);
  while (n > 0) {
    state = _mm_crc32_u8(state, *p);
    ++p;
    --n;
  }
  return state;
}

bool CpuHasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

std::uint32_t Crc32c(std::string_view data, std::uint32_t crc) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::uint32_t state = ~crc;
#ifdef NIMIFY_CRC32C_HAVE_SSE42
  if (CpuHasSse42()) return ~UpdateSse42(state, p, data.size());
#endif
  return ~UpdatePortable(state, p, data.size());
}

}  // namespace nimify::actions
