// Accounts and login throttling through the real kaasd (DESIGN.md §6.1, issue 11): failures
// counted per (user, client address) and per address, X-Forwarded-For believed only from
// --trusted-proxies, disabling a user, changing and resetting passwords, listing anyone's
// tokens, and kubeconfig issuance in the audit log.

#include <gtest/gtest.h>

#include <string>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

constexpr const char* kPassword = "a-long-enough-password";

class AccountsTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args) {
    kaasd_ = std::make_unique<KaasdProcess>(std::move(args));
    ASSERT_TRUE(kaasd_->Start());
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
  }

  void CreateUser(const std::string& user) {
    auto u = kaasd_->Call("POST", "/api/v1/users",
                          Json{{"username", user}, {"password", kPassword}}.dump());
    ASSERT_EQ(u.status, 201) << u.raw;
    auto m = kaasd_->Call("PUT", "/api/v1/teams/payments/members/" + user,
                          Json{{"role", "member"}}.dump());
    ASSERT_EQ(m.status, 200) << m.raw;
  }

  // A login as a client behind a proxy would send it: X-Forwarded-For names `client`.
  HttpResult LoginVia(const std::string& client, const std::string& user,
                      const std::string& password) {
    return kaasd_->Call("POST", "/api/v1/auth/login",
                        Json{{"username", user}, {"password", password}}.dump(), "",
                        {{"X-Forwarded-For", client}});
  }

  // The newest audit entry with this action and actor (null when there is none).
  Json AuditEntry(const std::string& action, const std::string& actor,
                  const std::string& result = "") {
    auto all = kaasd_->Call("GET", "/api/v1/audit?limit=500");
    EXPECT_EQ(all.status, 200) << all.raw;
    const Json items = all.body["items"];
    for (const auto& e : items) {
      if (e["action"] == action && e["actor"] == actor && (result.empty() || e["result"] == result))
        return e;
    }
    return Json();
  }

  std::unique_ptr<KaasdProcess> kaasd_;
};

// ---- login throttling ----

TEST_F(AccountsTest, GuessesFromOneAddressDoNotLockTheAdminOutElsewhere) {
  // The test connects from 127.0.0.1, which is the trusted proxy here.
  Start({"--trusted-proxies", "127.0.0.1/32,10.9.0.0/16", "--login-rate-window-seconds", "120"});
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(LoginVia("203.0.113.7", "admin", "guess-number-" + std::to_string(i)).status, 401);
  }
  // The guesser's address is slowed down, whatever the password.
  auto limited = LoginVia("203.0.113.7", "admin", KaasdProcess::kAdminPassword);
  EXPECT_EQ(limited.status, 429) << limited.raw;
  EXPECT_EQ(limited.body["error"]["code"], "rate_limited");
  ASSERT_TRUE(limited.headers.count("Retry-After"));
  EXPECT_GE(std::stoi(limited.headers["Retry-After"]), 1);
  // The real admin, elsewhere, logs in at once (also through a chain of trusted proxies).
  auto owner = LoginVia("198.51.100.9", "admin", KaasdProcess::kAdminPassword);
  EXPECT_EQ(owner.status, 200) << owner.raw;
  EXPECT_EQ(LoginVia("198.51.100.10, 10.9.1.1", "admin", KaasdProcess::kAdminPassword).status, 200);
  // The audit log names the client, not the proxy.
  Json failed = AuditEntry("POST /api/v1/auth/login", "admin", "unauthenticated");
  ASSERT_FALSE(failed.is_null());
  EXPECT_EQ(failed["remote_addr"], "203.0.113.7");
  Json chained = AuditEntry("POST /api/v1/auth/login", "admin", "ok");
  ASSERT_FALSE(chained.is_null());
  EXPECT_EQ(chained["remote_addr"], "198.51.100.10");
}

TEST_F(AccountsTest, OneAddressGuessingManyUsersIsLimitedAsAnAddress) {
  Start({"--trusted-proxies", "127.0.0.1", "--login-rate-window-seconds", "120",
         "--login-max-failures-per-address", "6"});
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(LoginVia("203.0.113.8", "user" + std::to_string(i), "wrong-password-x").status, 401);
  }
  auto limited = LoginVia("203.0.113.8", "someone-else", "wrong-password-x");
  EXPECT_EQ(limited.status, 429) << limited.raw;
  EXPECT_TRUE(limited.headers.count("Retry-After"));
  EXPECT_EQ(LoginVia("198.51.100.9", "admin", KaasdProcess::kAdminPassword).status, 200);
}

TEST_F(AccountsTest, ForwardedForFromAnUntrustedPeerIsIgnored) {
  Start({"--login-rate-window-seconds", "120"});  // no trusted proxies
  CreateUser("bob");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(LoginVia("203.0.113." + std::to_string(i), "bob", "not-his-password").status, 401);
  }
  // Each "new address" was the socket's 127.0.0.1: the limit holds whatever the header says.
  EXPECT_EQ(LoginVia("198.51.100.9", "bob", kPassword).status, 429);
  Json failed = AuditEntry("POST /api/v1/auth/login", "bob", "unauthenticated");
  ASSERT_FALSE(failed.is_null());
  EXPECT_EQ(failed["remote_addr"], "127.0.0.1");
}

TEST_F(AccountsTest, BadTrustedProxiesStopKaasdAtStart) {
  KaasdProcess bad({"--trusted-proxies", "10.0.0.0/33"});
  EXPECT_FALSE(bad.Start());
}

// ---- disabling a user ----

TEST_F(AccountsTest, DisablingAUserEndsEverySessionAndTokenAtOnce) {
  Start({});
  CreateUser("eve");
  std::string session = kaasd_->Login("eve", kPassword);
  std::string other_session = kaasd_->Login("eve", kPassword);
  auto api = kaasd_->Call("POST", "/api/v1/tokens", R"({"name":"ci","ttl_hours":2})", session);
  ASSERT_EQ(api.status, 201);
  std::string api_token = api.body["token"];
  ASSERT_EQ(kaasd_->Call("GET", "/api/v1/me", "", api_token).status, 200);

  auto disabled = kaasd_->Call("PATCH", "/api/v1/users/eve", R"({"disabled":true})");
  ASSERT_EQ(disabled.status, 200) << disabled.raw;
  EXPECT_EQ(disabled.body["disabled"], true);
  EXPECT_FALSE(disabled.body.value("disabled_at", "").empty());
  for (const std::string& t : {session, other_session, api_token}) {
    auto me = kaasd_->Call("GET", "/api/v1/me", "", t);
    EXPECT_EQ(me.status, 401) << me.raw;
  }
  auto login = kaasd_->Call("POST", "/api/v1/auth/login",
                            Json{{"username", "eve"}, {"password", kPassword}}.dump(), "");
  EXPECT_EQ(login.status, 401);
  const Json users = kaasd_->Call("GET", "/api/v1/users").body["items"];
  bool listed = false;
  for (const auto& u : users) {
    if (u["username"] == "eve") listed = u["disabled"] == true;
  }
  EXPECT_TRUE(listed) << users.dump();
  Json audited = AuditEntry("PATCH /api/v1/users/{username}", "admin", "ok");
  ASSERT_FALSE(audited.is_null());
  EXPECT_EQ(audited["object"], "eve");

  // Enabling lets eve log in again; what was revoked stays revoked.
  auto enabled = kaasd_->Call("PATCH", "/api/v1/users/eve", R"({"disabled":false})");
  ASSERT_EQ(enabled.status, 200) << enabled.raw;
  EXPECT_EQ(enabled.body["disabled"], false);
  EXPECT_FALSE(kaasd_->Login("eve", kPassword).empty());
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", session).status, 401);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", api_token).status, 401);
}

TEST_F(AccountsTest, DisablingRefusesOneselfUnknownUsersAndBadBodies) {
  Start({});
  EXPECT_EQ(kaasd_->Call("PATCH", "/api/v1/users/admin", R"({"disabled":true})").status, 409);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me").status, 200);
  EXPECT_EQ(kaasd_->Call("PATCH", "/api/v1/users/nobody", R"({"disabled":true})").status, 404);
  CreateUser("eve");
  EXPECT_EQ(kaasd_->Call("PATCH", "/api/v1/users/eve", R"({"disabled":"yes"})").status, 400);
  EXPECT_EQ(kaasd_->Call("PATCH", "/api/v1/users/eve", R"({})").status, 400);
  EXPECT_EQ(kaasd_->Call("PATCH", "/api/v1/users/eve", R"({"is_admin":true})").status, 400);
  EXPECT_EQ(kaasd_
                ->Call("PATCH", "/api/v1/users/eve", R"({"disabled":true})",
                       kaasd_->Login("eve", kPassword))
                .status,
            403);
}

// ---- passwords ----

TEST_F(AccountsTest, ChangingOnesPasswordEndsOtherSessionsButNotThisOne) {
  Start({});
  CreateUser("bob");
  std::string here = kaasd_->Login("bob", kPassword);
  std::string elsewhere = kaasd_->Login("bob", kPassword);
  auto api = kaasd_->Call("POST", "/api/v1/tokens", R"({"name":"ci","ttl_hours":2})", here);
  ASSERT_EQ(api.status, 201);
  std::string api_token = api.body["token"];
  const std::string kNew = "a-brand-new-password";

  auto wrong =
      kaasd_->Call("PUT", "/api/v1/users/bob/password",
                   Json{{"old_password", "not-the-password"}, {"new_password", kNew}}.dump(), here);
  EXPECT_EQ(wrong.status, 403) << wrong.raw;
  auto missing =
      kaasd_->Call("PUT", "/api/v1/users/bob/password", Json{{"new_password", kNew}}.dump(), here);
  EXPECT_EQ(missing.status, 403) << missing.raw;
  auto short_pw =
      kaasd_->Call("PUT", "/api/v1/users/bob/password",
                   Json{{"old_password", kPassword}, {"new_password", "short"}}.dump(), here);
  EXPECT_EQ(short_pw.status, 400) << short_pw.raw;
  EXPECT_EQ(short_pw.body["error"]["details"]["field"], "new_password");

  auto changed =
      kaasd_->Call("PUT", "/api/v1/users/bob/password",
                   Json{{"old_password", kPassword}, {"new_password", kNew}}.dump(), here);
  ASSERT_EQ(changed.status, 204) << changed.raw;
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", here).status, 200);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", elsewhere).status, 401);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", api_token).status, 200);  // automation stays
  EXPECT_TRUE(kaasd_->Login("bob", kPassword).empty());
  EXPECT_FALSE(kaasd_->Login("bob", kNew).empty());
  Json audited = AuditEntry("PUT /api/v1/users/{username}/password", "bob", "ok");
  ASSERT_FALSE(audited.is_null());
  EXPECT_EQ(audited["object"], "bob");
  EXPECT_EQ(audited.dump().find(kNew), std::string::npos);
}

TEST_F(AccountsTest, OnlyAPlatformAdminResetsAnotherUsersPassword) {
  Start({});
  CreateUser("bob");
  CreateUser("alice");
  std::string bob = kaasd_->Login("bob", kPassword);
  std::string alice = kaasd_->Login("alice", kPassword);
  const std::string kReset = "reset-by-the-admin";
  auto refused =
      kaasd_->Call("PUT", "/api/v1/users/alice/password",
                   Json{{"old_password", kPassword}, {"new_password", kReset}}.dump(), bob);
  EXPECT_EQ(refused.status, 403) << refused.raw;
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", alice).status, 200);

  auto reset =
      kaasd_->Call("PUT", "/api/v1/users/alice/password", Json{{"new_password", kReset}}.dump());
  ASSERT_EQ(reset.status, 204) << reset.raw;
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", alice).status, 401);
  EXPECT_FALSE(kaasd_->Login("alice", kReset).empty());
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me").status, 200);  // the admin's own session
  EXPECT_EQ(
      kaasd_->Call("PUT", "/api/v1/users/nobody/password", Json{{"new_password", kReset}}.dump())
          .status,
      404);
}

// ---- tokens of other users ----

TEST_F(AccountsTest, PlatformAdminsListAnyonesTokens) {
  Start({});
  CreateUser("bob");
  CreateUser("alice");
  std::string bob = kaasd_->Login("bob", kPassword);
  auto issued = kaasd_->Call("POST", "/api/v1/tokens", R"({"name":"deploy","ttl_hours":2})", bob);
  ASSERT_EQ(issued.status, 201);

  auto listed = kaasd_->Call("GET", "/api/v1/tokens?user=bob");
  ASSERT_EQ(listed.status, 200) << listed.raw;
  const Json items = listed.body["items"];
  ASSERT_EQ(items.size(), 1u) << listed.raw;
  EXPECT_EQ(items[0]["id"], issued.body["id"]);
  EXPECT_EQ(items[0]["name"], "deploy");
  EXPECT_FALSE(items[0].contains("token"));
  // The admin can then revoke it.
  EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/tokens/" + items[0]["id"].get<std::string>()).status,
            204);
  EXPECT_TRUE(kaasd_->Call("GET", "/api/v1/tokens?user=bob").body["items"].empty());

  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/tokens?user=alice", "", bob).status, 403);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/tokens?user=bob", "", bob).status, 200);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/tokens?user=nobody").status, 404);
}

// ---- kubeconfig issuance is audited ----

TEST_F(AccountsTest, IssuingAKubeconfigIsAudited) {
  Start({});
  CreateUser("bob");
  std::string bob = kaasd_->Login("bob", kPassword);
  auto c = kaasd_->Call("POST", "/api/v1/clusters",
                        R"({"name":"kc","team":"payments","purpose":"personal"})", bob);
  ASSERT_EQ(c.status, 202) << c.raw;
  ASSERT_EQ(kaasd_->WaitOperation(c.body["operation"]["id"])["state"], "succeeded");
  std::string id = c.body["cluster"]["id"];
  auto kc = kaasd_->Call("GET", "/api/v1/clusters/" + id + "/kubeconfig", "", bob);
  ASSERT_EQ(kc.status, 200);
  Json entry = AuditEntry("GET /api/v1/clusters/{id}/kubeconfig", "bob", "ok");
  ASSERT_FALSE(entry.is_null());
  EXPECT_EQ(entry["object"], id);
  EXPECT_EQ(entry["team"], "payments");
  // The key itself never reaches the audit log.
  auto all = kaasd_->Call("GET", "/api/v1/audit?limit=500");
  EXPECT_EQ(all.raw.find("PRIVATE KEY"), std::string::npos);
}

}  // namespace
}  // namespace kaas::testing
