#pragma once

#include <cstdint>
#include <string>

#include "kaas/common/clock.h"
#include "kaas/common/status.h"
#include "kaas/store/database.h"

namespace kaas::auth {

struct RateLimitOptions {
  int max_failures_per_user = 5;  // per (username, client address), one round
  int max_failures_per_address = 20;
  int64_t window_ms = 5 * 60 * 1000;
  // How long failures are remembered: each round of max_failures_per_user failures of one
  // (username, address) doubles the wait after it (window, 2 x window, 4 x window, ...).
  int64_t memory_ms = 24 * 3600 * 1000;
  int64_t max_wait_ms = 24 * 3600 * 1000;
  // Failures of a username from all addresses within the window beyond which every attempt for
  // it is answered only after slowdown_ms: slower, never refused (the owner is not locked out).
  int max_failures_per_username = 50;
  int64_t slowdown_ms = 1000;
};

// Failed-login limiter (DESIGN.md §6.1), per (username, client address) with a growing delay:
// after a round of max_failures_per_user failures, further attempts get kRateLimited with a
// Retry-After until window x 2^(rounds - 1) after the round's last failure, so a guesser gets
// a few dozen tries a day instead of one round per window. Per client address, at most
// max_failures_per_address failures per sliding window. Per username alone nothing is refused,
// so guesses from elsewhere never lock the account owner out: beyond
// max_failures_per_username failures in the window each attempt is only slowed down. A success
// clears that (user, address)'s failures. The failures are rows in the database
// (store::login_failures), so every replica sharing it counts the same failures: N replicas
// behind a load balancer do not allow N times the guesses.
class LoginRateLimiter {
 public:
  LoginRateLimiter(store::Database& db, const Clock& clock, RateLimitOptions options)
      : db_(db), clock_(clock), options_(options) {}

  // OK, or kRateLimited with retry_after_s set (or the database's error). Takes slowdown_ms
  // longer while the username is under attack from many addresses.
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
