// Status and Result<T>: the error vocabulary of nimify's public API.
//
// No exception crosses nimify's API. Every fallible call returns a Status or a
// Result<T>, and both are [[nodiscard]].
//
//   nimify::Result<int> ParsePort(std::string_view s);
//   NIMIFY_ASSIGN_OR_RETURN(int port, ParsePort(text));
//   if (port == 0) return nimify::Status::InvalidArgument("port 0");
#ifndef NIMIFY_STATUS_H_
#define NIMIFY_STATUS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "nimify/export.h"

namespace nimify {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument,
  kParseError,
  kNotFound,
  kAlreadyExists,
  kResourceExhausted,
  kUnavailable,
  kFailedPrecondition,
  kDeadlineExceeded,
  kInternal,
  // A value outside the range accepted now, e.g. a sample older than the
  // engine still stores (EngineOptions::max_late_age); unlike
  // kInvalidArgument, the same value may have been fine earlier.
  kOutOfRange,
};

NIMIFY_EXPORT std::string_view StatusCodeName(StatusCode code) noexcept;

class Status;
namespace internal {
// Prints "nimify: Result::value() on error: <status>" to stderr and aborts.
// Out of line so that the header needs no <cstdio> and the call stays cold.
[[noreturn]] NIMIFY_EXPORT void DieOfValueOnError(const Status& status) noexcept;
}  // namespace internal

// OK or (code, message). OK holds no allocation, so it is free to create,
// copy and return. Thread safety: immutable; copies may be used from any thread.
class [[nodiscard]] NIMIFY_EXPORT Status {
 public:
  Status() noexcept = default;
  Status(StatusCode code, std::string message);

  static Status Ok() noexcept { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(StatusCode::kInvalidArgument, std::move(msg));
  }
  static Status ParseError(std::string msg) {
    return Status(StatusCode::kParseError, std::move(msg));
  }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status AlreadyExists(std::string msg) {
    return Status(StatusCode::kAlreadyExists, std::move(msg));
  }
  static Status ResourceExhausted(std::string msg) {
    return Status(StatusCode::kResourceExhausted, std::move(msg));
  }
  static Status Unavailable(std::string msg) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  static Status FailedPrecondition(std::string msg) {
    return Status(StatusCode::kFailedPrecondition, std::move(msg));
  }
  static Status DeadlineExceeded(std::string msg) {
    return Status(StatusCode::kDeadlineExceeded, std::move(msg));
  }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }
  static Status OutOfRange(std::string msg) {
    return Status(StatusCode::kOutOfRange, std::move(msg));
  }

  bool ok() const noexcept { return rep_ == nullptr; }
  StatusCode code() const noexcept { return rep_ ? rep_->code : StatusCode::kOk; }
  // Empty for OK.
  std::string_view message() const noexcept {
    return rep_ ? std::string_view(rep_->message) : std::string_view();
  }
  // "OK" or "<CodeName>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is `prefix + ": " + message()`; OK stays OK.
  Status WithPrefix(std::string_view prefix) const;

  friend bool operator==(const Status& a, const Status& b) noexcept {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;  // null == OK; immutable, so copies share it.
};

// A T or a non-OK Status (the shape of absl::StatusOr).
template <typename T>
class [[nodiscard]] Result {
 public:
  // REQUIRES: !status.ok(). An OK status without a value becomes kInternal.
  Result(Status status)  // NOLINT(google-explicit-constructor)
      : data_(status.ok() ? Status(StatusCode::kInternal, "Result built from OK status")
                          : std::move(status)) {}
  Result(const T& value) : data_(value) {}  // NOLINT(google-explicit-constructor)
  Result(T&& value) : data_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  template <typename U,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, Status> &&
                                        !std::is_same_v<std::decay_t<U>, Result<T>> &&
                                        !std::is_same_v<std::decay_t<U>, T>>>
  Result(U&& value) : data_(T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const noexcept { return std::holds_alternative<T>(data_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(data_); }

  // REQUIRES: ok(). On an error it aborts the process with the status on
  // stderr (a programming error, as dereferencing an empty optional is); it
  // never throws, so no exception crosses the API even then.
  T& value() & {
    CheckHasValue();
    return *std::get_if<T>(&data_);
  }
  const T& value() const& {
    CheckHasValue();
    return *std::get_if<T>(&data_);
  }
  T&& value() && {
    CheckHasValue();
    return std::move(*std::get_if<T>(&data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void CheckHasValue() const noexcept {
    if (!ok()) [[unlikely]]
      internal::DieOfValueOnError(*std::get_if<Status>(&data_));
  }

  std::variant<Status, T> data_;
};

}  // namespace nimify

#define NIMIFY_STATUS_CONCAT_INNER_(a, b) a##b
#define NIMIFY_STATUS_CONCAT_(a, b) NIMIFY_STATUS_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define NIMIFY_RETURN_IF_ERROR(expr)                  \
  do {                                                \
    ::nimify::Status nimify_status_ = (expr);         \
    if (!nimify_status_.ok()) return nimify_status_;  \
  } while (0)

// Declares/assigns `lhs` from a Result, or returns its Status.
#define NIMIFY_ASSIGN_OR_RETURN(lhs, rexpr) \
  NIMIFY_ASSIGN_OR_RETURN_IMPL_(NIMIFY_STATUS_CONCAT_(nimify_result_, __LINE__), lhs, rexpr)
#define NIMIFY_ASSIGN_OR_RETURN_IMPL_(result, lhs, rexpr) \
  auto result = (rexpr);                                  \
  if (!result.ok()) return result.status();               \
  lhs = std::move(result).value()

#endif  // NIMIFY_STATUS_H_
