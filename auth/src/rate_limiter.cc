#include "kaas/auth/rate_limiter.h"

namespace kaas::auth {

void LoginRateLimiter::Trim(Window& w, int64_t now) const {
  while (!w.empty() && w.front() <= now - options_.window_ms) w.pop_front();
}

Status LoginRateLimiter::Limited(const Window& w, int limit, int64_t now, const char* what) const {
  if (static_cast<int>(w.size()) < limit) return Status::Ok();
  int64_t retry_ms = w[w.size() - static_cast<size_t>(limit)] + options_.window_ms - now;
  int64_t retry_s = std::max<int64_t>(1, (retry_ms + 999) / 1000);
  return std::move(Status(Code::kRateLimited, std::string("too many failed logins for this ") +
                                                  what + "; try again in " +
                                                  std::to_string(retry_s) + " s")
                       .WithRetryAfter(retry_s));
}

Status LoginRateLimiter::Check(const std::string& username, const std::string& address) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.NowMs();
  auto u = user_addresses_.find({username, address});
  if (u != user_addresses_.end()) {
    Trim(u->second, now);
    KAAS_RETURN_IF_ERROR(
        Limited(u->second, options_.max_failures_per_user, now, "user from this address"));
  }
  auto a = addresses_.find(address);
  if (a != addresses_.end()) {
    Trim(a->second, now);
    KAAS_RETURN_IF_ERROR(Limited(a->second, options_.max_failures_per_address, now, "address"));
  }
  return Status::Ok();
}

void LoginRateLimiter::RecordFailure(const std::string& username, const std::string& address) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.NowMs();
  // Bounded memory: forget idle entries when the maps grow large.
  auto forget_idle = [&](auto& m) {
    for (auto it = m.begin(); it != m.end();) {
      Trim(it->second, now);
      it = it->second.empty() ? m.erase(it) : std::next(it);
    }
  };
  if (user_addresses_.size() > 100000) forget_idle(user_addresses_);
  if (addresses_.size() > 100000) forget_idle(addresses_);
  user_addresses_[{username, address}].push_back(now);
  addresses_[address].push_back(now);
}

void LoginRateLimiter::RecordSuccess(const std::string& username, const std::string& address) {
  std::lock_guard lock(mu_);
  user_addresses_.erase({username, address});
}

}  // namespace kaas::auth
