#include "kaas/auth/rate_limiter.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "kaas/common/ids.h"
#include "kaas/common/log.h"
#include "kaas/store/repositories.h"

namespace kaas::auth {
namespace {

Status RateLimited(int64_t retry_ms, const char* what) {
  int64_t retry_s = std::max<int64_t>(1, (retry_ms + 999) / 1000);
  return std::move(Status(Code::kRateLimited, std::string("too many failed logins for this ") +
                                                  what + "; try again in " +
                                                  std::to_string(retry_s) + " s")
                       .WithRetryAfter(retry_s));
}

}  // namespace

Status LoginRateLimiter::Check(const std::string& username, const std::string& address) {
  const int64_t now = clock_.NowMs();
  const int64_t since = now - options_.window_ms;
  const int limit = std::max(options_.max_failures_per_user, 1);
  store::login_failures::FailureCount mine;
  int64_t of_username = 0;
  std::vector<int64_t> address_wide;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    mine = store::login_failures::OfUser(tx, username, address, now - options_.memory_ms);
    address_wide = store::login_failures::RecentForAddress(tx, address, since,
                                                           options_.max_failures_per_address);
    of_username = store::login_failures::CountForUsername(tx, username, since);
    return Status::Ok();
  }));
  // (username, address): a round of `limit` failures just ended -> wait window x 2^(rounds-1)
  // after its last failure; within a round, no wait.
  const int64_t rounds = mine.count / limit;
  if (rounds >= 1 && mine.count % limit == 0) {
    int64_t wait = options_.window_ms;
    for (int64_t r = 1; r < rounds && wait < options_.max_wait_ms; ++r) wait *= 2;
    wait = std::min(wait, options_.max_wait_ms);
    if (mine.last + wait > now)
      return RateLimited(mine.last + wait - now, "user from this address");
  }
  // The address, whoever it tries: at most max_failures_per_address per sliding window.
  const auto per_address = static_cast<size_t>(options_.max_failures_per_address);
  if (per_address > 0 && address_wide.size() >= per_address) {
    return RateLimited(address_wide[per_address - 1] + options_.window_ms - now, "address");
  }
  // The username from everywhere: slower, never refused.
  if (options_.max_failures_per_username > 0 && of_username >= options_.max_failures_per_username &&
      options_.slowdown_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.slowdown_ms));
  }
  return Status::Ok();
}

void LoginRateLimiter::RecordFailure(const std::string& username, const std::string& address) {
  const int64_t now = clock_.NowMs();
  Status st = db_.Write([&](store::Tx& tx) {
    // Rows older than the memory count for nothing: the table holds a day of failures.
    store::login_failures::DeleteBefore(tx, now - std::max(options_.memory_ms, options_.window_ms));
    store::login_failures::Insert(tx, NewId("lf"), username, address, now);
    return Status::Ok();
  });
  if (!st.ok()) log::Warn("failed login not recorded", {{"error", st.ToString()}});
}

void LoginRateLimiter::RecordSuccess(const std::string& username, const std::string& address) {
  Status st = db_.Write([&](store::Tx& tx) {
    store::login_failures::DeleteForUser(tx, username, address);
    return Status::Ok();
  });
  if (!st.ok()) log::Warn("failed logins not cleared", {{"error", st.ToString()}});
}

}  // namespace kaas::auth
