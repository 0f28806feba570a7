#include "kaas/auth/rate_limiter.h"

#include <vector>

#include "kaas/common/ids.h"
#include "kaas/common/log.h"
#include "kaas/store/repositories.h"

namespace kaas::auth {
namespace {

// `recent`: failure times in the window, newest first, at most `limit` of them.
Status Limited(const std::vector<int64_t>& recent, int limit, int64_t window_ms, int64_t now,
               const char* what) {
  if (static_cast<int>(recent.size()) < limit) return Status::Ok();
  // Allowed again when the limit-th newest failure leaves the window.
  int64_t retry_ms = recent[static_cast<size_t>(limit) - 1] + window_ms - now;
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
  std::vector<int64_t> mine, address_wide;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    mine = store::login_failures::RecentForUser(tx, username, address, since,
                                                options_.max_failures_per_user);
    address_wide = store::login_failures::RecentForAddress(tx, address, since,
                                                           options_.max_failures_per_address);
    return Status::Ok();
  }));
  KAAS_RETURN_IF_ERROR(Limited(mine, options_.max_failures_per_user, options_.window_ms, now,
                               "user from this address"));
  return Limited(address_wide, options_.max_failures_per_address, options_.window_ms, now,
                 "address");
}

void LoginRateLimiter::RecordFailure(const std::string& username, const std::string& address) {
  const int64_t now = clock_.NowMs();
  Status st = db_.Write([&](store::Tx& tx) {
    // Rows older than the window count for nothing: the table holds one window of failures.
    store::login_failures::DeleteBefore(tx, now - options_.window_ms);
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
