// Deploy tokens for pipelines (DESIGN.md §6.5) through the real kaasd: who may issue one, what
// it lists (GET /deploy-targets: the team's clusters its selector matches, evaluated at each
// request), the kubeconfigs it may fetch, 404 for the clusters it may not see, 403 on every
// other route of the table, and 401 once revoked, expired, or its issuer is no longer the
// team's admin.

#include <gtest/gtest.h>
#include <soci/soci.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "kaas/api/server.h"
#include "kaas/store/database.h"
#include "kaasd_process.h"

namespace kaas::testing {
namespace {

constexpr const char* kPassword = "a-long-enough-password";

// The base64 a kubeconfig carries (yaml-cpp's, as pki/ writes kubeconfigs with it).
std::string Base64(const std::string& in) {
  return YAML::EncodeBase64(reinterpret_cast<const unsigned char*>(in.data()), in.size());
}

class DeployTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kaasd_ = std::make_unique<KaasdProcess>();
    ASSERT_TRUE(kaasd_->Start()) << "kaasd did not become ready";
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    for (const char* team : {"payments", "search"}) {
      ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", Json{{"name", team}}.dump()).status, 201);
    }
    for (const char* user : {"alice", "bob", "mallory"}) {
      ASSERT_EQ(kaasd_
                    ->Call("POST", "/api/v1/users",
                           Json{{"username", user}, {"password", kPassword}}.dump())
                    .status,
                201);
    }
    Member("payments", "alice", "admin");
    Member("payments", "bob", "member");
    Member("search", "mallory", "admin");
    alice_ = kaasd_->Login("alice", kPassword);
    bob_ = kaasd_->Login("bob", kPassword);
    mallory_ = kaasd_->Login("mallory", kPassword);

    Create("web-prod", "payments", {{"env", "prod"}, {"tier", "web"}});
    Create("db-prod", "payments", {{"env", "prod"}, {"tier", "db"}});
    Create("web-test", "payments", {{"env", "test"}, {"tier", "web"}});
    Create("search-prod", "search", {{"env", "prod"}, {"tier", "web"}});
    for (const auto& [name, op] : ops_) {
      ASSERT_EQ(kaasd_->WaitOperation(op)["state"], "succeeded") << name;
    }
  }

  void Member(const std::string& team, const std::string& user, const std::string& role) {
    auto r = kaasd_->Call("PUT", "/api/v1/teams/" + team + "/members/" + user,
                          Json{{"role", role}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
  }

  void Create(const std::string& name, const std::string& team, const Json& labels) {
    Json body = {{"name", name}, {"team", team}, {"purpose", "personal"}, {"labels", labels}};
    auto r = kaasd_->Call("POST", "/api/v1/clusters", body.dump());
    ASSERT_EQ(r.status, 202) << r.raw;
    ids_[name] = r.body["cluster"]["id"];
    ops_[name] = r.body["operation"]["id"];
  }

  HttpResult Issue(const std::string& selector, const std::string& token,
                   const std::string& team = "payments") {
    Json body = {{"name", "ci-pipeline"},
                 {"ttl_hours", 24},
                 {"team", team},
                 {"role", "deployer"},
                 {"selector", selector}};
    return kaasd_->Call("POST", "/api/v1/tokens", body.dump(), token);
  }

  // The cluster names GET /deploy-targets lists for `token`.
  std::set<std::string> Targets(const std::string& token) {
    auto r = kaasd_->Call("GET", "/api/v1/deploy-targets", "", token);
    EXPECT_EQ(r.status, 200) << r.raw;
    std::set<std::string> names;
    Json items = r.body["items"];
    for (const auto& t : items) names.insert(t["cluster"]["name"].get<std::string>());
    return names;
  }

  std::unique_ptr<KaasdProcess> kaasd_;
  std::string alice_, bob_, mallory_;
  std::map<std::string, std::string> ids_, ops_;
};

using Names = std::set<std::string>;

TEST_F(DeployTokensTest, OnlyTheTeamAdminOrAPlatformAdminIssuesOneAndItIsListedAndAudited) {
  auto issued = Issue("env=prod, tier in (web)", alice_);
  ASSERT_EQ(issued.status, 201) << issued.raw;
  EXPECT_EQ(issued.body["role"], "deployer");
  EXPECT_EQ(issued.body["team"], "payments");
  EXPECT_EQ(issued.body["selector"], "env=prod,tier in (web)");  // the canonical text
  EXPECT_EQ(issued.body["token"].get<std::string>().rfind("kaas_", 0), 0u);
  EXPECT_EQ(Issue("env=prod", kaasd_->admin_token()).status, 201);

  auto member = Issue("env=prod", bob_);
  EXPECT_EQ(member.status, 403) << member.raw;
  auto foreign = Issue("env=prod", mallory_);
  EXPECT_EQ(foreign.status, 404) << foreign.raw;  // payments looks absent to mallory
  EXPECT_EQ(Issue("env=prod", alice_, "nowhere").status, 404);

  // A bad selector names the field and the position; any other role is refused.
  auto bad = Issue("env=prod,", alice_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["details"]["field"], "selector") << bad.raw;
  EXPECT_NE(bad.raw.find("position 10"), std::string::npos) << bad.raw;
  auto role = kaasd_->Call(
      "POST", "/api/v1/tokens",
      R"({"name":"x","ttl_hours":1,"team":"payments","role":"admin","selector":""})", alice_);
  EXPECT_EQ(role.status, 400);
  EXPECT_EQ(role.body["error"]["details"]["field"], "role") << role.raw;
  auto no_role = kaasd_->Call("POST", "/api/v1/tokens",
                              R"({"name":"x","ttl_hours":1,"selector":"env=prod"})", alice_);
  EXPECT_EQ(no_role.status, 400);
  EXPECT_EQ(no_role.body["error"]["details"]["field"], "selector") << no_role.raw;
  auto no_team =
      kaasd_->Call("POST", "/api/v1/tokens",
                   R"({"name":"x","ttl_hours":1,"role":"deployer","selector":""})", alice_);
  EXPECT_EQ(no_team.status, 400);
  EXPECT_EQ(no_team.body["error"]["details"]["field"], "team") << no_team.raw;

  // Listed with its team, role and selector, like every token.
  auto list = kaasd_->Call("GET", "/api/v1/tokens", "", alice_);
  ASSERT_EQ(list.status, 200);
  Json items = list.body["items"];
  bool found = false;
  for (const auto& t : items) {
    if (t["id"] != issued.body["id"]) continue;
    found = true;
    EXPECT_EQ(t["team"], "payments");
    EXPECT_EQ(t["role"], "deployer");
    EXPECT_EQ(t["selector"], "env=prod,tier in (web)");
    EXPECT_FALSE(t.contains("token"));
  }
  EXPECT_TRUE(found) << list.raw;

  // The issue is in the team's audit log, under the team.
  auto audit = kaasd_->Call("GET", "/api/v1/audit?team=payments", "", alice_);
  ASSERT_EQ(audit.status, 200) << audit.raw;
  Json entries = audit.body["items"];
  int issues = 0;
  for (const auto& e : entries) {
    if (e["action"] == "POST /api/v1/tokens" && e["actor"] == "alice" && e["status"] == 201) {
      ++issues;
      EXPECT_NE(e["object"].get<std::string>().find(issued.body["id"].get<std::string>()),
                std::string::npos);
    }
  }
  EXPECT_EQ(issues, 1) << audit.raw;
}

TEST_F(DeployTokensTest, ListsTheMatchingClustersOfItsTeamAndFetchesOnlyTheirKubeconfigs) {
  auto issued = Issue("env=prod", alice_);
  ASSERT_EQ(issued.status, 201) << issued.raw;
  std::string deploy = issued.body["token"];

  auto r = kaasd_->Call("GET", "/api/v1/deploy-targets", "", deploy);
  ASSERT_EQ(r.status, 200) << r.raw;
  Json items = r.body["items"];
  ASSERT_EQ(items.size(), 2u) << r.raw;
  Names names;
  for (const auto& t : items) {
    std::string name = t["cluster"]["name"];
    names.insert(name);
    EXPECT_EQ(t["cluster"]["id"], ids_[name]);
    EXPECT_EQ(t["cluster"]["labels"]["env"], "prod");
    // Server and CA exactly as the cluster's kubeconfig names them.
    auto admin_kc = kaasd_->Call("GET", "/api/v1/clusters/" + ids_[name] + "/kubeconfig");
    ASSERT_EQ(admin_kc.status, 200) << admin_kc.raw;
    std::string server = t["server"], ca = t["certificate_authority"];
    EXPECT_EQ(server.rfind("https://", 0), 0u) << server;
    EXPECT_NE(admin_kc.raw.find("server: \"" + server + "\""), std::string::npos) << admin_kc.raw;
    EXPECT_EQ(ca.rfind("-----BEGIN CERTIFICATE-----", 0), 0u) << ca;
    EXPECT_NE(admin_kc.raw.find(Base64(ca)), std::string::npos) << "CA differs for " << name;

    auto kc = kaasd_->Call("GET", "/api/v1/clusters/" + ids_[name] + "/kubeconfig", "", deploy);
    EXPECT_EQ(kc.status, 200) << kc.raw;
    EXPECT_NE(kc.raw.find("server: \"" + server + "\""), std::string::npos) << kc.raw;
    EXPECT_NE(kc.raw.find("client-certificate-data:"), std::string::npos) << kc.raw;
  }
  EXPECT_EQ(names, (Names{"web-prod", "db-prod"}));

  // Clusters it may not see look missing: another of its team's, and another team's that
  // its selector would match.
  for (const char* other : {"web-test", "search-prod"}) {
    auto kc = kaasd_->Call("GET", "/api/v1/clusters/" + ids_[other] + "/kubeconfig", "", deploy);
    EXPECT_EQ(kc.status, 404) << other << ": " << kc.raw;
    EXPECT_EQ(kc.body["error"]["code"], "not_found");
  }
  auto missing = kaasd_->Call("GET", "/api/v1/clusters/cl-none/kubeconfig", "", deploy);
  EXPECT_EQ(missing.status, 404);

  // A selector naming another team's labels still stays in its own team.
  auto search = Issue("tier=web", mallory_, "search");
  ASSERT_EQ(search.status, 201) << search.raw;
  EXPECT_EQ(Targets(search.body["token"]), (Names{"search-prod"}));

  // Session tokens are not deploy tokens.
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/deploy-targets", "", alice_).status, 403);
}

TEST_F(DeployTokensTest, EveryOtherRouteIs403) {
  auto issued = Issue("env=prod", alice_);
  ASSERT_EQ(issued.status, 201) << issued.raw;
  std::string deploy = issued.body["token"];
  int tried = 0;
  for (const auto& route : api::ApiServer::Routes()) {
    if (route.access == api::Access::kAnyone) continue;
    if (route.deploy_token) continue;
    std::string path = route.pattern;
    auto replace = [&](const std::string& param, const std::string& value) {
      auto pos = path.find(param);
      if (pos != std::string::npos) path.replace(pos, param.size(), value);
    };
    replace("{team}", "payments");
    replace("{username}", "bob");
    replace("{name}", "master-1");
    replace("{id}", route.pattern.find("/operations/{id}") != std::string::npos ? ops_["web-prod"]
                                                                                : ids_["web-prod"]);
    // Bodies that would succeed for the team's admin: the refusal is the token's scope.
    std::string body = "{}";
    if (route.pattern == "/api/v1/clusters" && route.method == "POST") {
      body = R"({"name":"sneaky","team":"payments","purpose":"personal","labels":{"env":"prod"}})";
    } else if (route.pattern == "/api/v1/tokens" && route.method == "POST") {
      body = R"({"name":"again","ttl_hours":1})";
    } else if (route.pattern.ends_with("/workers")) {
      body = R"({"count":2})";
    } else if (route.pattern == "/api/v1/clusters/{id}" && route.method == "PATCH") {
      body = R"({"labels":{"env":"test"}})";
    }
    auto r = kaasd_->Call(route.method, path, route.method == "GET" ? "" : body, deploy);
    EXPECT_EQ(r.status, 403) << route.method << " " << path << ": " << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "forbidden") << route.method << " " << path;
    ++tried;
  }
  EXPECT_GT(tried, 40);
  // The refused changes are audited as the deploy token's, for its issuer.
  auto audit = kaasd_->Call("GET", "/api/v1/audit?team=payments");
  Json entries = audit.body["items"];
  std::string actor = "alice (deploy token " + issued.body["id"].get<std::string>() + ")";
  int refused = 0;
  for (const auto& e : entries) {
    if (e["actor"] == actor && e["status"] == 403) ++refused;
  }
  EXPECT_GE(refused, 1) << audit.raw;
  // Nothing changed: no cluster created, web-prod still there with its labels and 0 workers.
  auto cluster = kaasd_->Call("GET", "/api/v1/clusters/" + ids_["web-prod"]);
  EXPECT_EQ(cluster.body["labels"]["env"], "prod");
  EXPECT_EQ(cluster.body["status"], "running");
  auto list = kaasd_->Call("GET", "/api/v1/clusters?team=payments");
  EXPECT_EQ(list.body["items"].size(), 3u);
  // The deploy token still works after all that.
  EXPECT_EQ(Targets(deploy), (Names{"web-prod", "db-prod"}));
}

TEST_F(DeployTokensTest, TheSelectorIsEvaluatedAtEachRequest) {
  auto issued = Issue("env=prod", alice_);
  ASSERT_EQ(issued.status, 201) << issued.raw;
  std::string deploy = issued.body["token"];
  EXPECT_EQ(Targets(deploy), (Names{"web-prod", "db-prod"}));

  auto away = kaasd_->Call("PATCH", "/api/v1/clusters/" + ids_["db-prod"],
                           R"({"labels":{"env":"staging"}})", bob_);
  ASSERT_EQ(away.status, 200) << away.raw;
  auto in = kaasd_->Call("PATCH", "/api/v1/clusters/" + ids_["web-test"],
                         R"({"labels":{"env":"prod"}})", bob_);
  ASSERT_EQ(in.status, 200) << in.raw;
  EXPECT_EQ(Targets(deploy), (Names{"web-prod", "web-test"}));
  EXPECT_EQ(
      kaasd_->Call("GET", "/api/v1/clusters/" + ids_["db-prod"] + "/kubeconfig", "", deploy).status,
      404);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters/" + ids_["web-test"] + "/kubeconfig", "", deploy)
                .status,
            200);

  // A deleted cluster stops being a target.
  auto del = kaasd_->Call("DELETE", "/api/v1/clusters/" + ids_["web-prod"]);
  ASSERT_EQ(del.status, 202) << del.raw;
  ASSERT_EQ(kaasd_->WaitOperation(del.body["operation"]["id"])["state"], "succeeded");
  EXPECT_EQ(Targets(deploy), (Names{"web-test"}));
}

TEST_F(DeployTokensTest, ARevokedOrExpiredTokenIs401) {
  auto revoked = Issue("env=prod", alice_);
  auto expired = Issue("env=prod", alice_);
  ASSERT_EQ(revoked.status, 201);
  ASSERT_EQ(expired.status, 201);
  EXPECT_EQ(Targets(revoked.body["token"]).size(), 2u);
  EXPECT_EQ(Targets(expired.body["token"]).size(), 2u);

  std::string revoked_id = revoked.body["id"];
  ASSERT_EQ(kaasd_->Call("DELETE", "/api/v1/tokens/" + revoked_id, "", alice_).status, 204);
  auto r = kaasd_->Call("GET", "/api/v1/deploy-targets", "", revoked.body["token"]);
  EXPECT_EQ(r.status, 401) << r.raw;
  EXPECT_EQ(kaasd_
                ->Call("GET", "/api/v1/clusters/" + ids_["web-prod"] + "/kubeconfig", "",
                       revoked.body["token"])
                .status,
            401);

  // The shortest TTL is an hour: move this token's expiry into the past in kaasd's database,
  // as the passing of time would.
  {
    auto db = store::Database::Open("sqlite://" + (kaasd_->data_dir() / "kaas.db").string(), 1);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    std::string id = expired.body["id"];
    Status st = (*db)->Write([&](store::Tx& tx) {
      tx.sql() << "UPDATE tokens SET expires_at = 1 WHERE id = :id", soci::use(id);
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  auto e = kaasd_->Call("GET", "/api/v1/deploy-targets", "", expired.body["token"]);
  EXPECT_EQ(e.status, 401) << e.raw;
  EXPECT_EQ(e.body["error"]["code"], "unauthenticated");
}

TEST_F(DeployTokensTest, ItWorksOnlyWhileItsIssuerIsTheTeamsAdmin) {
  auto issued = Issue("env=prod", alice_);
  ASSERT_EQ(issued.status, 201) << issued.raw;
  std::string deploy = issued.body["token"];
  EXPECT_EQ(Targets(deploy).size(), 2u);
  Member("payments", "alice", "member");
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/deploy-targets", "", deploy).status, 401);
  Member("payments", "alice", "admin");
  EXPECT_EQ(Targets(deploy).size(), 2u);
  ASSERT_EQ(kaasd_->Call("DELETE", "/api/v1/teams/payments/members/alice").status, 204);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/deploy-targets", "", deploy).status, 401);
  // A platform admin's deploy token does not depend on a team role.
  auto admins = Issue("env=prod", kaasd_->admin_token());
  ASSERT_EQ(admins.status, 201) << admins.raw;
  EXPECT_EQ(Targets(admins.body["token"]).size(), 2u);
}

}  // namespace
}  // namespace kaas::testing
