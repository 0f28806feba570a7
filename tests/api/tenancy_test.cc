// Teams, roles and isolation through the real kaasd: the authorization matrix over the whole
// route table, tokens, brute-force limiting, the audit log and kubeconfigs.

#include <gtest/gtest.h>
#include <stdio.h>

#include <fstream>
#include <set>
#include <thread>

#include "kaas/api/server.h"
#include "kaasd_process.h"

namespace kaas::testing {
namespace {

constexpr const char* kPassword = "a-long-enough-password";

enum Role { kAnonymous, kForeign, kViewer, kMember, kTeamAdmin, kPlatformAdmin, kRoles };
const char* kRoleNames[] = {"anonymous", "foreign member", "viewer",
                            "member",    "team admin",     "platform admin"};

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

class TenancyTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }

  void Start(std::vector<std::string> args) {
    kaasd_ = std::make_unique<KaasdProcess>(std::move(args));
    ASSERT_TRUE(kaasd_->Start());
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    for (const char* team : {"payments", "search"}) {
      ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", Json{{"name", team}}.dump()).status, 201);
    }
    for (const char* user : {"alice", "bob", "vic", "mallory", "carol"}) {
      auto r = kaasd_->Call("POST", "/api/v1/users",
                            Json{{"username", user}, {"password", kPassword}}.dump());
      ASSERT_EQ(r.status, 201) << r.raw;
    }
    Member("payments", "alice", "admin");
    Member("payments", "bob", "member");
    Member("payments", "vic", "viewer");
    Member("search", "mallory", "member");
  }

  void Member(const std::string& team, const std::string& user, const std::string& role) {
    auto r = kaasd_->Call("PUT", "/api/v1/teams/" + team + "/members/" + user,
                          Json{{"role", role}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
  }

  std::string UserOf(Role role) {
    switch (role) {
      case kForeign:
        return "mallory";
      case kViewer:
        return "vic";
      case kMember:
        return "bob";
      case kTeamAdmin:
        return "alice";
      case kPlatformAdmin:
        return "admin";
      default:
        return "";
    }
  }

  std::string TokenOf(Role role) {
    if (role == kAnonymous) return "";
    if (role == kPlatformAdmin) return kaasd_->Login("admin", KaasdProcess::kAdminPassword);
    return kaasd_->Login(UserOf(role), kPassword);
  }

  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(TenancyTest, EveryRouteAndMethodAnswersEachRoleAsSpecified) {
  // A payments cluster to aim at.
  auto created = kaasd_->Call("POST", "/api/v1/clusters",
                              R"({"name":"pay","team":"payments","purpose":"personal"})");
  ASSERT_EQ(created.status, 202) << created.raw;
  std::string cluster = created.body["cluster"]["id"];
  std::string op = created.body["operation"]["id"];
  ASSERT_EQ(kaasd_->WaitOperation(op)["state"], "succeeded");

  //                                anon  foreign viewer member t-admin p-admin
  std::map<std::string, std::array<int, kRoles>> expect = {
      {"POST /api/v1/auth/login", {401, 200, 200, 200, 200, 200}},
      {"POST /api/v1/auth/logout", {401, 204, 204, 204, 204, 204}},
      {"GET /api/v1/me", {401, 200, 200, 200, 200, 200}},
      {"POST /api/v1/users", {401, 403, 403, 403, 403, 201}},
      {"GET /api/v1/users", {401, 403, 403, 403, 403, 200}},
      {"PATCH /api/v1/users/{username}", {401, 403, 403, 403, 403, 200}},
      {"PUT /api/v1/users/{username}/password", {401, 403, 403, 403, 403, 204}},
      {"POST /api/v1/tokens", {401, 201, 201, 201, 201, 201}},
      {"GET /api/v1/tokens", {401, 200, 200, 200, 200, 200}},
      {"DELETE /api/v1/tokens/{id}", {401, 204, 204, 204, 204, 204}},
      {"POST /api/v1/teams", {401, 403, 403, 403, 403, 201}},
      {"GET /api/v1/teams", {401, 200, 200, 200, 200, 200}},
      {"GET /api/v1/teams/{team}/quota", {401, 404, 200, 200, 200, 200}},
      {"PUT /api/v1/teams/{team}/quota", {401, 403, 403, 403, 403, 200}},
      {"GET /api/v1/teams/{team}/members", {401, 404, 200, 200, 200, 200}},
      {"PUT /api/v1/teams/{team}/members/{username}", {401, 404, 403, 403, 200, 200}},
      {"DELETE /api/v1/teams/{team}/members/{username}", {401, 404, 403, 403, 204, 204}},
      {"GET /api/v1/versions", {401, 200, 200, 200, 200, 200}},
      {"GET /api/v1/flavors", {401, 200, 200, 200, 200, 200}},
      {"POST /api/v1/clusters", {401, 404, 403, 200, 200, 200}},
      {"GET /api/v1/clusters", {401, 200, 200, 200, 200, 200}},
      {"GET /api/v1/clusters/{id}", {401, 404, 200, 200, 200, 200}},
      {"PATCH /api/v1/clusters/{id}", {401, 404, 403, 200, 200, 200}},
      {"DELETE /api/v1/clusters/{id}", {401, 404, 403, 200, 200, 200}},
      {"GET /api/v1/clusters/{id}/operations", {401, 404, 200, 200, 200, 200}},
      {"GET /api/v1/clusters/{id}/kubeconfig", {401, 404, 200, 200, 200, 200}},
      // Deploy tokens only (deploy_tokens_test.cc has their whole scope).
      {"GET /api/v1/deploy-targets", {401, 403, 403, 403, 403, 403}},
      {"GET /api/v1/clusters/{id}/events", {401, 404, 200, 200, 200, 200}},
      {"POST /api/v1/clusters/{id}/workers", {401, 404, 403, 200, 200, 200}},
      {"POST /api/v1/clusters/{id}/masters", {401, 404, 403, 200, 200, 200}},
      {"POST /api/v1/clusters/{id}/upgrade", {401, 404, 403, 200, 200, 200}},
      // The cluster's only master is never repaired: members get that far, viewers do not.
      {"POST /api/v1/clusters/{id}/nodes/{name}/repair", {401, 404, 403, 409, 409, 409}},
      {"POST /api/v1/operations/{id}/cancel", {401, 404, 403, 409, 409, 409}},
      {"POST /api/v1/operations/{id}/retry", {401, 404, 403, 409, 409, 409}},
      {"GET /api/v1/faults", {401, 403, 403, 403, 403, 404}},
      {"PUT /api/v1/faults", {401, 403, 403, 403, 403, 404}},
      {"GET /api/v1/operations/{id}", {401, 404, 200, 200, 200, 200}},
      {"GET /api/v1/hypervisors", {401, 403, 403, 403, 403, 200}},
      {"GET /api/v1/hosts", {401, 403, 403, 403, 403, 200}},
      {"GET /api/v1/audit", {401, 403, 403, 403, 200, 200}},
      {"POST /api/v1/hypervisors", {401, 403, 403, 403, 403, 201}},
      {"PUT /api/v1/hypervisors/{name}", {401, 403, 403, 403, 403, 200}},
      {"DELETE /api/v1/hypervisors/{name}", {401, 403, 403, 403, 403, 204}},
      {"POST /api/v1/hosts", {401, 403, 403, 403, 403, 201}},
      {"PUT /api/v1/hosts/{name}", {401, 403, 403, 403, 403, 200}},
      {"DELETE /api/v1/hosts/{name}", {401, 403, 403, 403, 403, 204}},
      {"GET /api/v1/inventory/orphans", {401, 403, 403, 403, 403, 200}},
      {"POST /api/v1/teams/{team}/quota-requests", {401, 404, 403, 201, 201, 201}},
      {"GET /api/v1/quota-requests", {401, 200, 200, 200, 200, 200}},
      {"POST /api/v1/quota-requests/{id}/approve", {401, 403, 403, 403, 403, 200}},
      {"POST /api/v1/quota-requests/{id}/reject", {401, 403, 403, 403, 403, 200}},
      {"POST /api/v1/teams/{team}/webhooks", {401, 404, 403, 403, 201, 201}},
      {"GET /api/v1/teams/{team}/webhooks", {401, 404, 403, 403, 200, 200}},
      {"POST /api/v1/webhooks", {401, 403, 403, 403, 403, 201}},
      {"GET /api/v1/webhooks", {401, 403, 403, 403, 403, 200}},
      {"GET /api/v1/webhooks/{id}", {401, 404, 403, 403, 200, 200}},
      {"DELETE /api/v1/webhooks/{id}", {401, 404, 403, 403, 204, 204}},
      {"POST /api/v1/webhooks/{id}/test", {401, 404, 403, 403, 202, 202}},
      {"GET /api/v1/webhooks/{id}/deliveries", {401, 404, 403, 403, 200, 200}},
      {"GET /healthz", {200, 200, 200, 200, 200, 200}},
      {"GET /readyz", {200, 200, 200, 200, 200, 200}},
      {"GET /metrics", {200, 200, 200, 200, 200, 200}},
  };

  int unique = 0;
  std::map<int, std::string> tokens;  // one session per role; logout gets a fresh one
  for (int role = 0; role < kRoles; ++role) tokens[role] = TokenOf(static_cast<Role>(role));
  for (const auto& route : api::ApiServer::Routes()) {
    std::string key = route.method + " " + route.pattern;
    auto it = expect.find(key);
    ASSERT_NE(it, expect.end()) << key << " has no authorization expectations in this test";
    for (int role = 0; role < kRoles; ++role) {
      std::string token =
          route.pattern == "/api/v1/auth/logout" ? TokenOf(static_cast<Role>(role)) : tokens[role];
      std::string path = route.pattern, body, query;
      auto replace = [&](const std::string& param, const std::string& value) {
        auto pos = path.find(param);
        if (pos != std::string::npos) path.replace(pos, param.size(), value);
      };
      replace("{team}", "payments");
      replace("{username}", "carol");
      if (route.pattern.find("/operations/{id}") != std::string::npos) replace("{id}", op);
      if (route.pattern.find("/quota-requests/{id}") != std::string::npos) {
        auto q = kaasd_->Call("POST", "/api/v1/teams/payments/quota-requests",
                              R"({"limits":{"clusters":7},"reason":"more"})", tokens[kMember]);
        replace("{id}", q.body.value("id", "qr-none"));
      }
      if (route.pattern.find("/hypervisors/{name}") != std::string::npos) {
        std::string hv = "hv" + std::to_string(++unique);
        kaasd_->Call(
            "POST", "/api/v1/hypervisors",
            Json{{"name", hv}, {"uri", "test:///default"}, {"vcpus", 8}, {"memory_gib", 8}}.dump(),
            kaasd_->admin_token());
        replace("{name}", hv);
      }
      if (route.pattern.find("/hosts/{name}") != std::string::npos) {
        std::string host = "host" + std::to_string(++unique);
        kaasd_->Call(
            "POST", "/api/v1/hosts",
            Json{{"name", host}, {"address", "127.0.0.1"}, {"vcpus", 8}, {"memory_gib", 8}}.dump(),
            kaasd_->admin_token());
        replace("{name}", host);
      }
      if (route.pattern.find("/tokens/{id}") != std::string::npos) {
        auto t = kaasd_->Call("POST", "/api/v1/tokens", R"({"name":"tmp","ttl_hours":1})",
                              role == kAnonymous ? tokens[kMember] : token);
        replace("{id}", t.body.value("id", "tok-none"));
      }
      // A documentation address (TEST-NET-1): allowed, and nothing ever answers there.
      const std::string hook_body =
          R"({"url":"http://192.0.2.1/hook","format":"json","events":["operation.failed"]})";
      if (route.pattern.find("/webhooks/{id}") != std::string::npos) {
        auto w = kaasd_->Call("POST", "/api/v1/teams/payments/webhooks", hook_body,
                              kaasd_->admin_token());
        replace("{id}", w.body.value("id", "wh-none"));
      }
      replace("{id}", cluster);
      if (route.pattern.find("/nodes/{name}") != std::string::npos) {
        replace("{name}", "master-1");
        query = "?dry_run=true";
      }
      ++unique;
      if (key == "POST /api/v1/auth/login") {
        body = Json{{"username", role == kAnonymous ? "alice" : UserOf(static_cast<Role>(role))},
                    {"password", role == kAnonymous       ? "wrong-password-x"
                                 : role == kPlatformAdmin ? KaasdProcess::kAdminPassword
                                                          : kPassword}}
                   .dump();
      } else if (key == "POST /api/v1/users") {
        body = Json{{"username", "user" + std::to_string(unique)}, {"password", kPassword}}.dump();
      } else if (key == "POST /api/v1/hypervisors") {
        body = Json{
            {"name", "hv" + std::to_string(unique)},
            {"uri", "test:///default"},
            {"vcpus", 8},
            {"memory_gib",
             8}}.dump();
      } else if (key == "PATCH /api/v1/users/{username}") {
        body = R"({"disabled":false})";
      } else if (key == "PUT /api/v1/users/{username}/password") {
        body = Json{{"new_password", kPassword}}.dump();
      } else if (key == "PUT /api/v1/hypervisors/{name}") {
        body = R"({"state":"draining"})";
      } else if (key == "POST /api/v1/hosts") {
        body = Json{
            {"name", "host" + std::to_string(unique)},
            {"address", "127.0.0.1"},
            {"vcpus", 8},
            {"memory_gib",
             8}}.dump();
      } else if (key == "PUT /api/v1/hosts/{name}") {
        body = R"({"state":"maintenance"})";
      } else if (key == "POST /api/v1/teams/{team}/quota-requests") {
        body = R"({"limits":{"vcpus":100},"reason":"load test"})";
      } else if (key.find("/quota-requests/{id}/") != std::string::npos) {
        body = R"({"comment":"ok"})";
      } else if (key == "POST /api/v1/tokens") {
        body = R"({"name":"ci","ttl_hours":1})";
      } else if (key == "POST /api/v1/teams") {
        body = Json{{"name", "team" + std::to_string(unique)}}.dump();
      } else if (key == "PUT /api/v1/teams/{team}/quota") {
        body = R"({"limits":{"clusters":6}})";
      } else if (key == "PUT /api/v1/teams/{team}/members/{username}") {
        body = R"({"role":"viewer"})";
      } else if (key == "POST /api/v1/clusters") {
        body = R"({"name":"probe","team":"payments","purpose":"dev"})";
        query = "?dry_run=true";
      } else if (key == "PATCH /api/v1/clusters/{id}") {
        body = R"({"labels":{"probe":"yes"}})";
      } else if (key == "DELETE /api/v1/clusters/{id}") {
        query = "?dry_run=true";
      } else if (key == "GET /api/v1/clusters/{id}/events") {
        query = "?follow=false";
      } else if (key == "POST /api/v1/clusters/{id}/workers") {
        body = R"({"count":2})";
        query = "?dry_run=true";
      } else if (key == "POST /api/v1/clusters/{id}/masters") {
        body = R"({"count":3})";
        query = "?dry_run=true";
      } else if (key == "POST /api/v1/clusters/{id}/upgrade") {
        body = R"({"kubernetes_version":"1.37.2"})";
        query = "?dry_run=true";
      } else if (key == "POST /api/v1/teams/{team}/webhooks" || key == "POST /api/v1/webhooks") {
        body = hook_body;
      } else if (key == "PUT /api/v1/faults") {
        body = R"({"rules":[]})";
      }
      if (key == "DELETE /api/v1/teams/{team}/members/{username}" &&
          (role == kTeamAdmin || role == kPlatformAdmin)) {
        Member("payments", "carol", "viewer");  // so that there is something to remove
      }
      auto r = kaasd_->Call(route.method, path + query, body, token);
      EXPECT_EQ(r.status, it->second[role]) << key << " as " << kRoleNames[role] << ": " << r.raw;
    }
  }
  // The payments cluster is still there and untouched by all of that.
  auto c = kaasd_->Call("GET", "/api/v1/clusters/" + cluster);
  EXPECT_EQ(c.body["status"], "running");
}

TEST_F(TenancyTest, ForeignObjectsLookExactlyLikeMissingOnes) {
  auto created = kaasd_->Call("POST", "/api/v1/clusters",
                              R"({"name":"pay","team":"payments","purpose":"personal"})");
  ASSERT_EQ(created.status, 202);
  std::string id = created.body["cluster"]["id"];
  std::string mallory = kaasd_->Login("mallory", kPassword);
  auto foreign = kaasd_->Call("GET", "/api/v1/clusters/" + id, "", mallory);
  std::string fake = "cl-" + std::string(id.size() - 3, '0');
  auto missing = kaasd_->Call("GET", "/api/v1/clusters/" + fake, "", mallory);
  EXPECT_EQ(foreign.status, 404);
  EXPECT_EQ(missing.status, 404);
  std::string expected = missing.raw;
  expected.replace(expected.find(fake), fake.size(), id);
  EXPECT_EQ(foreign.raw, expected);
  // Lists only show the caller's teams.
  auto list = kaasd_->Call("GET", "/api/v1/clusters", "", mallory);
  EXPECT_TRUE(list.body["items"].empty());
  auto teams = kaasd_->Call("GET", "/api/v1/teams", "", mallory);
  ASSERT_EQ(teams.body["items"].size(), 1u);
  EXPECT_EQ(teams.body["items"][0]["name"], "search");
  auto by_team = kaasd_->Call("GET", "/api/v1/clusters?team=payments", "", mallory);
  EXPECT_EQ(by_team.status, 404);
  auto me = kaasd_->Call("GET", "/api/v1/me", "", kaasd_->Login("alice", kPassword));
  EXPECT_EQ(me.body["teams"], Json::parse(R"([{"name":"payments","role":"admin"}])"));
}

TEST_F(TenancyTest, UsersNeedStrongPasswordsAndUniqueNames) {
  auto weak = kaasd_->Call("POST", "/api/v1/users", R"({"username":"dave","password":"short"})");
  EXPECT_EQ(weak.status, 400);
  EXPECT_EQ(weak.body["error"]["details"]["field"], "password");
  auto taken = kaasd_->Call("POST", "/api/v1/users",
                            Json{{"username", "alice"}, {"password", kPassword}}.dump());
  EXPECT_EQ(taken.status, 409);
  auto bad_role =
      kaasd_->Call("PUT", "/api/v1/teams/payments/members/carol", R"({"role":"owner"})");
  EXPECT_EQ(bad_role.status, 400);
  EXPECT_EQ(bad_role.body["error"]["details"]["field"], "role");
  auto ghost = kaasd_->Call("PUT", "/api/v1/teams/payments/members/ghost", R"({"role":"member"})");
  EXPECT_EQ(ghost.status, 404);
}

TEST_F(TenancyTest, TokensWorkUntilRevokedAndAreShownOnce) {
  std::string bob = kaasd_->Login("bob", kPassword);
  auto issued = kaasd_->Call("POST", "/api/v1/tokens", R"({"name":"ci","ttl_hours":2})", bob);
  ASSERT_EQ(issued.status, 201) << issued.raw;
  std::string api_token = issued.body["token"];
  std::string id = issued.body["id"];
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", api_token).body["username"], "bob");
  auto list = kaasd_->Call("GET", "/api/v1/tokens", "", bob);
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(list.body["items"][0]["id"], id);
  EXPECT_EQ(list.raw.find(api_token), std::string::npos) << "a token is shown only once";
  // Someone else cannot revoke it; bob can.
  EXPECT_EQ(
      kaasd_->Call("DELETE", "/api/v1/tokens/" + id, "", kaasd_->Login("vic", kPassword)).status,
      404);
  EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/tokens/" + id, "", bob).status, 204);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", api_token).status, 401);
  EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/tokens/" + id, "", bob).status, 404);
  auto bad_ttl = kaasd_->Call("POST", "/api/v1/tokens", R"({"name":"x","ttl_hours":0})", bob);
  EXPECT_EQ(bad_ttl.status, 400);
  EXPECT_EQ(bad_ttl.body["error"]["details"]["field"], "ttl_hours");
  // Logout revokes the session token itself.
  EXPECT_EQ(kaasd_->Call("POST", "/api/v1/auth/logout", "", bob).status, 204);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", bob).status, 401);
  // Tokens are stored as hashes only.
  std::string db = Shell("strings " + (kaasd_->data_dir() / "kaas.db").string() + " " +
                         (kaasd_->data_dir() / "kaas.db-wal").string() + " 2>/dev/null");
  // Positive control: what is stored — the SHA-256 of each token — is visible to this check.
  std::string api_hash = Shell("printf %s '" + api_token + "' | sha256sum | cut -c1-64");
  std::string bob_hash = Shell("printf %s '" + bob + "' | sha256sum | cut -c1-64");
  ASSERT_EQ(api_hash.size(), 65u) << api_hash;  // 64 hex digits and a newline
  EXPECT_NE(db.find(api_hash.substr(0, 64)), std::string::npos) << "the check cannot see the DB";
  EXPECT_NE(db.find(bob_hash.substr(0, 64)), std::string::npos);
  EXPECT_EQ(db.find(api_token), std::string::npos);
  EXPECT_EQ(db.find(bob), std::string::npos);
}

TEST_F(TenancyTest, SessionsExpire) {
  // The same data dir (bob exists) with short sessions: setting up a fresh one under a 3 s
  // admin session could outlast it on a loaded machine.
  ASSERT_EQ(kaasd_->Terminate(), 0);
  kaasd_->SetArgs({"--session-ttl-seconds", "3"});
  ASSERT_TRUE(kaasd_->Start());
  std::string bob = kaasd_->Login("bob", kPassword);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", bob).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  auto expired = kaasd_->Call("GET", "/api/v1/me", "", bob);
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.body["error"]["code"], "unauthenticated");
}

// Failures count per (user, client address): the guesser is slowed down, the owner logging in
// from elsewhere is not (accounts_test.cc has the other address, through a trusted proxy).
TEST_F(TenancyTest, FailedLoginsAreRateLimitedPerUserAndAddressWithoutLockingOutForever) {
  kaasd_->Terminate();
  // A window long enough that five slow (argon2id) failures on a loaded machine all count.
  Start({"--login-rate-window-seconds", "8"});
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(kaasd_
                  ->Call("POST", "/api/v1/auth/login",
                         R"({"username":"bob","password":"not-his-password"})", "")
                  .status,
              401);
  }
  // From this address, even the right password waits now.
  auto limited = kaasd_->Call("POST", "/api/v1/auth/login",
                              Json{{"username", "bob"}, {"password", kPassword}}.dump(), "");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.body["error"]["code"], "rate_limited");
  ASSERT_TRUE(limited.headers.count("Retry-After"));
  EXPECT_GE(std::stoi(limited.headers["Retry-After"]), 1);
  // Another user from the same address is not affected.
  EXPECT_FALSE(kaasd_->Login("alice", kPassword).empty());
  // Once the window has passed, the real bob gets in.
  std::this_thread::sleep_for(std::chrono::milliseconds(8500));
  EXPECT_FALSE(kaasd_->Login("bob", kPassword).empty());
}

TEST_F(TenancyTest, AuditLogRecordsWhoDidWhatWithoutSecrets) {
  kaasd_->Call("POST", "/api/v1/auth/login", R"({"username":"bob","password":"wrong-guess-123"})",
               "");
  std::string bob = kaasd_->Login("bob", kPassword);
  auto created = kaasd_->Call("POST", "/api/v1/clusters",
                              R"({"name":"audited","team":"payments","purpose":"personal"})", bob);
  ASSERT_EQ(created.status, 202);
  std::string id = created.body["cluster"]["id"];
  auto refused = kaasd_->Call("POST", "/api/v1/clusters",
                              R"({"name":"nope","team":"payments","purpose":"personal"})",
                              kaasd_->Login("vic", kPassword));
  EXPECT_EQ(refused.status, 403);
  auto token = kaasd_->Call("POST", "/api/v1/tokens", R"({"name":"ci","ttl_hours":1})", bob);
  std::string secret = token.body["token"];

  auto all = kaasd_->Call("GET", "/api/v1/audit?limit=200");
  ASSERT_EQ(all.status, 200);
  auto find = [&](const std::string& actor, const std::string& action, const std::string& result) {
    for (const auto& e : all.body["items"]) {
      if (e["actor"] == actor && e["action"] == action && e["result"] == result) return e;
    }
    return Json();
  };
  Json failed = find("bob", "POST /api/v1/auth/login", "unauthenticated");
  ASSERT_FALSE(failed.is_null()) << all.raw;
  EXPECT_EQ(failed["status"], 401);
  EXPECT_FALSE(failed["remote_addr"].get<std::string>().empty());
  EXPECT_FALSE(failed["at"].get<std::string>().empty());
  EXPECT_FALSE(find("bob", "POST /api/v1/auth/login", "ok").is_null());
  Json create = find("bob", "POST /api/v1/clusters", "ok");
  ASSERT_FALSE(create.is_null());
  EXPECT_EQ(create["team"], "payments");
  EXPECT_NE(create["object"].get<std::string>().find(id), std::string::npos);
  EXPECT_FALSE(find("vic", "POST /api/v1/clusters", "forbidden").is_null());

  // A team admin sees their team's entries only; a member sees none.
  auto team =
      kaasd_->Call("GET", "/api/v1/audit?team=payments", "", kaasd_->Login("alice", kPassword));
  ASSERT_EQ(team.status, 200);
  for (const auto& e : team.body["items"]) EXPECT_EQ(e["team"], "payments");
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/audit?team=search", "", kaasd_->Login("alice", kPassword))
                .status,
            404);

  // No password or token in the audit log or in kaasd's own log.
  std::ifstream log(kaasd_->data_dir() / "kaasd.log");
  std::string logs((std::istreambuf_iterator<char>(log)), {});
  for (const std::string& s :
       {std::string(kPassword), std::string("wrong-guess-123"), secret, bob}) {
    EXPECT_EQ(all.raw.find(s), std::string::npos) << s;
    EXPECT_EQ(logs.find(s), std::string::npos) << s;
  }
}

TEST_F(TenancyTest, KubeconfigCarriesAShortLivedCertificateForTheCaller) {
  auto created = kaasd_->Call("POST", "/api/v1/clusters",
                              R"({"name":"kube","team":"payments","purpose":"personal"})");
  ASSERT_EQ(created.status, 202);
  std::string id = created.body["cluster"]["id"];
  ASSERT_EQ(kaasd_->WaitOperation(created.body["operation"]["id"])["state"], "succeeded");
  auto r = kaasd_->Call("GET", "/api/v1/clusters/" + id + "/kubeconfig?ttl_hours=2", "",
                        kaasd_->Login("bob", kPassword));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_NE(r.headers["Content-Type"].find("yaml"), std::string::npos);
  auto dir = kaasd_->data_dir();
  std::ofstream(dir / "kubeconfig") << r.raw;
  std::string view = Shell("kubectl config view --kubeconfig " + (dir / "kubeconfig").string() +
                           " -o jsonpath='{.contexts[0].name}' 2>&1");
  EXPECT_EQ(view, "bob@kube");
  // The client certificate: CN = user, O = team, valid for the requested time, signed by the CA.
  std::string extract =
      "python3 -c \"import yaml,base64,sys; k=yaml.safe_load(open('" +
      (dir / "kubeconfig").string() +
      "')); open(sys.argv[1],'wb').write(base64.b64decode(k['clusters'][0]['cluster']"
      "['certificate-authority-data'])); open(sys.argv[2],'wb').write(base64."
      "b64decode(k['users'][0]['user']['client-certificate-data']))\" ";
  Shell(extract + (dir / "ca.pem").string() + " " + (dir / "client.pem").string());
  EXPECT_EQ(Shell("openssl verify -CAfile " + (dir / "ca.pem").string() + " " +
                  (dir / "client.pem").string() + " 2>&1"),
            (dir / "client.pem").string() + ": OK\n");
  std::string subject = Shell("openssl x509 -noout -subject -in " + (dir / "client.pem").string());
  EXPECT_NE(subject.find("CN = bob"), std::string::npos) << subject;
  EXPECT_NE(subject.find("O = payments"), std::string::npos) << subject;
  EXPECT_EQ(Shell("openssl x509 -noout -checkend 3500 -in " + (dir / "client.pem").string() +
                  " >/dev/null && echo valid"),
            "valid\n");
  EXPECT_EQ(Shell("openssl x509 -noout -checkend 7300 -in " + (dir / "client.pem").string() +
                  " >/dev/null || echo expires"),
            "expires\n");
  auto too_long = kaasd_->Call("GET", "/api/v1/clusters/" + id + "/kubeconfig?ttl_hours=10000");
  EXPECT_EQ(too_long.status, 400);
  // Delete destroys the cluster's CA: no more kubeconfigs.
  auto del = kaasd_->Call("DELETE", "/api/v1/clusters/" + id);
  ASSERT_EQ(kaasd_->WaitOperation(del.body["operation"]["id"])["state"], "succeeded");
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters/" + id + "/kubeconfig").status, 409);
  // The master key file is private.
  EXPECT_EQ(Shell("stat -c %a " + (dir / "master.key").string()), "600\n");
}

}  // namespace
}  // namespace kaas::testing
