#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kaas {

// The small set of error codes that crosses module boundaries. api/ maps them to HTTP
// (one table, HttpStatus in api/src/http.cc); lifecycle/ maps them to retry policy (IsRetryable).
enum class Code {
  kOk,
  kInvalidArgument,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kAlreadyExists,
  kConflict,
  kOperationInProgress,
  kPayloadTooLarge,
  kQuotaExceeded,
  kInsufficientCapacity,
  kInvalidUpgrade,
  kRateLimited,
  kFailedPrecondition,
  kUnavailable,
  kCancelled,
  kInternal,
};

// Stable machine-readable name of a code ("invalid_argument", ...), as used in API errors.
const char* CodeName(Code code);

// One exceeded resource of a quota or capacity refusal.
struct ResourceShortfall {
  std::string resource;
  int64_t requested = 0;
  int64_t used = 0;
  int64_t limit = 0;
};

// [[nodiscard]]: a Status returned and dropped is a compile error (-Werror=unused-result).
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // For invalid_argument: the request field the error is about ("workers.count").
  const std::string& field() const { return field_; }
  Status& WithField(std::string field) {
    field_ = std::move(field);
    return *this;
  }

  // For quota_exceeded / insufficient_capacity: each resource that does not fit.
  const std::vector<ResourceShortfall>& shortfalls() const { return shortfalls_; }
  Status& WithShortfalls(std::vector<ResourceShortfall> s) {
    shortfalls_ = std::move(s);
    return *this;
  }

  // For rate_limited: seconds until the caller may try again (the Retry-After header).
  int64_t retry_after_s() const { return retry_after_s_; }
  Status& WithRetryAfter(int64_t seconds) {
    retry_after_s_ = seconds;
    return *this;
  }

  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string field_;
  std::vector<ResourceShortfall> shortfalls_;
  int64_t retry_after_s_ = 0;
};

inline Status InvalidArgument(std::string field, std::string message) {
  return std::move(Status(Code::kInvalidArgument, std::move(message)).WithField(std::move(field)));
}
inline Status NotFound(std::string message) { return {Code::kNotFound, std::move(message)}; }
inline Status Conflict(std::string message) { return {Code::kConflict, std::move(message)}; }
inline Status Internal(std::string message) { return {Code::kInternal, std::move(message)}; }
inline Status Unavailable(std::string message) { return {Code::kUnavailable, std::move(message)}; }

// Whether an operation step that failed with `code` is worth retrying with backoff.
bool IsRetryable(Code code);

// Result<T>: a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace kaas

// Propagates a non-OK Status from an expression returning Status.
#define KAAS_RETURN_IF_ERROR(expr) \
  do {                             \
    ::kaas::Status _st = (expr);   \
    if (!_st.ok()) return _st;     \
  } while (0)

#define KAAS_CONCAT_INNER(a, b) a##b
#define KAAS_CONCAT(a, b) KAAS_CONCAT_INNER(a, b)
// KAAS_ASSIGN_OR_RETURN(auto x, Foo()): binds the value or returns the Status.
#define KAAS_ASSIGN_OR_RETURN(lhs, expr) \
  KAAS_ASSIGN_OR_RETURN_IMPL(KAAS_CONCAT(_res_, __LINE__), lhs, expr)
#define KAAS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
