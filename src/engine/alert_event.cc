#include "nimify/alert.h"

namespace nimify {

std::string_view AlertStateName(AlertState state) noexcept {
  switch (state) {
    case AlertState::kPending: return "pending";
    case AlertState::kFiring: return "firing";
    case AlertState::kResolved: return "resolved";
  }
  return "unknown";
}

AlertHandler::~AlertHandler() = default;

}  // namespace nimify
