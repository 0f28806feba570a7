#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "kaas/common/clock.h"
#include "kaas/common/status.h"

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
// a success clears that (user, address)'s failures. In-process state: each kaasd replica
// limits on its own.
class LoginRateLimiter {
 public:
  LoginRateLimiter(const Clock& clock, RateLimitOptions options)
      : clock_(clock), options_(options) {}

  // OK, or kRateLimited with retry_after_s set.
  Status Check(const std::string& username, const std::string& address);
  void RecordFailure(const std::string& username, const std::string& address);
  void RecordSuccess(const std::string& username, const std::string& address);

 private:
  using Window = std::deque<int64_t>;
  void Trim(Window& w, int64_t now) const;
  Status Limited(const Window& w, int limit, int64_t now, const char* what) const;

  const Clock& clock_;
  RateLimitOptions options_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Window> user_addresses_;
  std::map<std::string, Window> addresses_;
};

}  // namespace kaas::auth
