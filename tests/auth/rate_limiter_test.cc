// Login throttling (DESIGN.md §6.1): a growing delay per (username, client address), a cap
// per address, and per username only a slowdown, so the owner is never locked out.
#include "kaas/auth/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "../support/manual_clock.h"
#include "../support/sqlite_database.h"

namespace kaas::auth {
namespace {

constexpr int64_t kWindow = 60'000;

class RateLimiterTest : public ::testing::Test {
 protected:
  RateLimitOptions Options() {
    RateLimitOptions o;
    o.max_failures_per_user = 3;
    o.max_failures_per_address = 100;
    o.window_ms = kWindow;
    o.max_failures_per_username = 0;  // no slowdown unless a test asks for it
    return o;
  }
  // The Retry-After of a refused attempt in seconds; 0 when the attempt may go ahead.
  int64_t RetryAfter(LoginRateLimiter& limiter, const std::string& user,
                     const std::string& address) {
    Status st = limiter.Check(user, address);
    if (st.ok()) return 0;
    EXPECT_EQ(st.code(), Code::kRateLimited) << st.ToString();
    return st.retry_after_s();
  }
  void Fail(LoginRateLimiter& limiter, const std::string& user, const std::string& address, int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(RetryAfter(limiter, user, address), 0) << "failure " << i + 1;
      limiter.RecordFailure(user, address);
      clock_.Advance(1000);
    }
  }

  testing::SqliteDatabase db_{"limiter"};
  testing::ManualClock clock_;
};

TEST_F(RateLimiterTest, EachRoundOfFailuresDoublesTheWaitAfterIt) {
  LoginRateLimiter limiter(*db_, clock_, Options());
  // Round 1: three guesses, then a window's wait after the last one.
  Fail(limiter, "bob", "203.0.113.7", 3);
  EXPECT_EQ(RetryAfter(limiter, "bob", "203.0.113.7"), 59);  // 1 s of it has passed
  clock_.Advance(kWindow - 1000);
  // Round 2: three more, then twice the window.
  Fail(limiter, "bob", "203.0.113.7", 3);
  EXPECT_EQ(RetryAfter(limiter, "bob", "203.0.113.7"), 119);
  clock_.Advance(kWindow);
  EXPECT_GT(RetryAfter(limiter, "bob", "203.0.113.7"), 0) << "the second wait is two windows";
  clock_.Advance(kWindow);
  // Round 3: four windows after it.
  Fail(limiter, "bob", "203.0.113.7", 3);
  EXPECT_EQ(RetryAfter(limiter, "bob", "203.0.113.7"), 239);
  // The owner, elsewhere, is never held up; another user from the guesser's address neither.
  EXPECT_EQ(RetryAfter(limiter, "bob", "198.51.100.9"), 0);
  EXPECT_EQ(RetryAfter(limiter, "alice", "203.0.113.7"), 0);
}

TEST_F(RateLimiterTest, ASuccessClearsAndADayForgets) {
  LoginRateLimiter limiter(*db_, clock_, Options());
  Fail(limiter, "bob", "203.0.113.7", 2);
  limiter.RecordSuccess("bob", "203.0.113.7");  // he remembered it
  Fail(limiter, "bob", "203.0.113.7", 2);       // a fresh round: no wait yet
  EXPECT_EQ(RetryAfter(limiter, "bob", "203.0.113.7"), 0);

  Fail(limiter, "eve", "192.0.2.1", 3);
  clock_.Advance(kWindow);
  Fail(limiter, "eve", "192.0.2.1", 3);
  EXPECT_GT(RetryAfter(limiter, "eve", "192.0.2.1"), kWindow / 1000);
  // A day later the rounds are forgotten: the next round waits one window again.
  clock_.Advance(Options().memory_ms);
  Fail(limiter, "eve", "192.0.2.1", 3);
  EXPECT_EQ(RetryAfter(limiter, "eve", "192.0.2.1"), 59);
}

TEST_F(RateLimiterTest, AnAddressIsCappedWhoeverItTries) {
  RateLimitOptions o = Options();
  o.max_failures_per_address = 4;
  LoginRateLimiter limiter(*db_, clock_, o);
  for (const char* user : {"u1", "u2", "u3", "u4"}) Fail(limiter, user, "203.0.113.7", 1);
  EXPECT_GT(RetryAfter(limiter, "u5", "203.0.113.7"), 0);
  EXPECT_EQ(RetryAfter(limiter, "u5", "198.51.100.9"), 0);
  clock_.Advance(kWindow);
  EXPECT_EQ(RetryAfter(limiter, "u5", "203.0.113.7"), 0);
}

// Guesses for one username from many addresses: nobody is refused (the owner would be), but
// every attempt for that username is answered more slowly.
TEST_F(RateLimiterTest, ManyAddressesOnlySlowAUsernameDown) {
  RateLimitOptions o = Options();
  o.max_failures_per_username = 6;
  o.slowdown_ms = 300;
  LoginRateLimiter limiter(*db_, clock_, o);
  auto timed = [&](const std::string& user, const std::string& address) {
    auto start = std::chrono::steady_clock::now();
    int64_t retry = RetryAfter(limiter, user, address);
    EXPECT_EQ(retry, 0) << user << " from " << address;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
  };
  for (int i = 0; i < 6; ++i) Fail(limiter, "admin", "10.1.0." + std::to_string(i), 1);
  EXPECT_GE(timed("admin", "198.51.100.9"), 300);  // the owner: slower, not refused
  EXPECT_LT(timed("alice", "198.51.100.9"), 300);
  clock_.Advance(kWindow);
  EXPECT_LT(timed("admin", "198.51.100.9"), 300);
}

}  // namespace
}  // namespace kaas::auth
