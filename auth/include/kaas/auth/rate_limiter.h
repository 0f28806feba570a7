#pragma once

#include <cstdint>
#include <string>

#include "kaas/common/clock.h"
#include "kaas/common/status.h"
#include "kaas/store/database.h"

namespace kaas::auth {

struct RateLimitOptions {
  int max_failures_per_user = 5;  // per (username, client address)
  int max_failures_per_address = 20;
  int64_t window_ms = 5 * 60 * 1000;
};

// Failed-login limiter, per (username, client address) and per client address, over a sliding
// window: after too many failures further attempts get kRateLimited with a Retry-After until
// the oldest failure leaves the window. Nothing is counted per username alone, so guesses from
// one address never lock the account owner out at another; nobody is locked out for good, and
// a success clears that (user, address)'s failures. The failures are rows in the database
// (store::login_failures), so every replica sharing it counts the same failures: N replicas
// behind a load balancer do not allow N times the guesses.
class LoginRateLimiter {
 public:
  LoginRateLimiter(store::Database& db, const Clock& clock, RateLimitOptions options)
      : db_(db), clock_(clock), options_(options) {}

  // OK, or kRateLimited with retry_after_s set (or the database's error).
  Status Check(const std::string& username, const std::string& address);
  // Best effort: a failure that cannot be recorded (the database is away) is logged.
  void RecordFailure(const std::string& username, const std::string& address);
  void RecordSuccess(const std::string& username, const std::string& address);

 private:
  store::Database& db_;
  const Clock& clock_;
  RateLimitOptions options_;
};

}  // namespace kaas::auth
