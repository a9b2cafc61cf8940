// CRC-32C (Castagnoli), the checksum of every state-store record. Chosen over
// zlib's CRC-32 because it detects more bit patterns at equal cost and x86-64
// computes it in hardware (SSE4.2), which this file uses when the CPU has it.
#ifndef NIMIFY_ACTIONS_CRC32C_H_
#define NIMIFY_ACTIONS_CRC32C_H_

#include <cstdint>
#include <string_view>

namespace nimify::actions {

// The CRC-32C of `data`, continuing from `crc` (the CRC of the bytes before;
// 0 to start). Crc32c("123456789") == 0xE3069283.
std::uint32_t Crc32c(std::string_view data, std::uint32_t crc = 0) noexcept;

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_CRC32C_H_
