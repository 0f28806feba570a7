#include "kaas/common/status.h"

namespace kaas {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kUnauthenticated:
      return "unauthenticated";
    case Code::kPermissionDenied:
      return "forbidden";
    case Code::kNotFound:
      return "not_found";
    case Code::kAlreadyExists:
      return "conflict";
    case Code::kConflict:
      return "conflict";
    case Code::kOperationInProgress:
      return "operation_in_progress";
    case Code::kPayloadTooLarge:
      return "payload_too_large";
    case Code::kQuotaExceeded:
      return "quota_exceeded";
    case Code::kInsufficientCapacity:
      return "insufficient_capacity";
    case Code::kInvalidUpgrade:
      return "invalid_upgrade";
    case Code::kRateLimited:
      return "rate_limited";
    case Code::kFailedPrecondition:
      return "failed_precondition";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kCancelled:
      return "cancelled";
    case Code::kInternal:
      return "internal";
  }
  return "internal";
}

bool IsRetryable(Code code) { return code == Code::kUnavailable; }

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s = CodeName(code_);
  s += ": ";
  s += message_;
  return s;
}

}  // namespace kaas
