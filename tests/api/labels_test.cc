// Cluster labels and label selectors through the real kaasd: set at create, edited with
// PATCH /clusters/{id} (a JSON merge patch), validated, audited, and GET /clusters?selector=
// with Kubernetes' grammar inside the caller's teams. The grammar itself is table-tested in
// tests/common/labels_test.cc.

#include <gtest/gtest.h>

#include <set>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

constexpr const char* kPassword = "a-long-enough-password";

class LabelsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kaasd_ = std::make_unique<KaasdProcess>();
    ASSERT_TRUE(kaasd_->Start()) << "kaasd did not become ready";
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    for (const char* team : {"payments", "search"}) {
      ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", Json{{"name", team}}.dump()).status, 201);
    }
  }

  HttpResult Create(const std::string& name, const Json& labels,
                    const std::string& team = "payments", const std::string& token = "use-admin") {
    Json body = {{"name", name}, {"team", team}, {"purpose", "personal"}, {"labels", labels}};
    return kaasd_->Call("POST", "/api/v1/clusters", body.dump(), token);
  }

  // The names of the clusters `selector` lists (URL-encoded here), sorted.
  std::set<std::string> Select(const std::string& selector,
                               const std::string& token = "use-admin") {
    auto r = kaasd_->Call("GET", "/api/v1/clusters?selector=" + Encode(selector), "", token);
    EXPECT_EQ(r.status, 200) << selector << ": " << r.raw;
    std::set<std::string> names;
    for (const auto& c : r.body["items"]) names.insert(c["name"].get<std::string>());
    return names;
  }

  static std::string Encode(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
      if (isalnum(c) || c == '-' || c == '_' || c == '.') {
        out += static_cast<char>(c);
      } else {
        char buf[4];
        snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
    return out;
  }

  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(LabelsApiTest, SelectorsFilterTheListWithKubernetesMeaning) {
  ASSERT_EQ(Create("web-prod-a", {{"env", "prod"}, {"region", "a"}, {"tier", "web"}}).status, 202);
  ASSERT_EQ(Create("db-prod-b", {{"env", "prod"}, {"region", "b"}, {"tier", "db"}}).status, 202);
  ASSERT_EQ(Create("old-test", {{"env", "test"}, {"legacy", ""}}).status, 202);
  ASSERT_EQ(Create("bare", Json::object()).status, 202);

  using Names = std::set<std::string>;
  EXPECT_EQ(Select("env=prod"), (Names{"web-prod-a", "db-prod-b"}));
  EXPECT_EQ(Select("env==prod"), (Names{"web-prod-a", "db-prod-b"}));
  EXPECT_EQ(Select("tier!=db"), (Names{"web-prod-a", "old-test", "bare"}));
  EXPECT_EQ(Select("region in (a,c)"), (Names{"web-prod-a"}));
  EXPECT_EQ(Select("region notin (a)"), (Names{"db-prod-b", "old-test", "bare"}));
  EXPECT_EQ(Select("legacy"), (Names{"old-test"}));
  EXPECT_EQ(Select("!legacy"), (Names{"web-prod-a", "db-prod-b", "bare"}));
  EXPECT_EQ(Select("env=prod,tier!=db,region in (a,b),!legacy"), (Names{"web-prod-a"}));
  EXPECT_EQ(Select(""), (Names{"web-prod-a", "db-prod-b", "old-test", "bare"}));

  // The labels are in every view of the cluster.
  auto list = kaasd_->Call("GET", "/api/v1/clusters?selector=legacy");
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(list.body["items"][0]["labels"], (Json{{"env", "test"}, {"legacy", ""}}));
  std::string id = list.body["items"][0]["id"];
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters/" + id).body["labels"]["env"], "test");

  // Pages are full pages of matching clusters: the selector is applied before the limit.
  auto page = kaasd_->Call("GET", "/api/v1/clusters?limit=1&selector=" + Encode("!legacy"));
  ASSERT_EQ(page.body["items"].size(), 1u);
  auto rest = kaasd_->Call("GET", "/api/v1/clusters?limit=5&selector=" + Encode("!legacy") +
                                      "&cursor=" + page.body["next_cursor"].get<std::string>());
  EXPECT_EQ(rest.body["items"].size(), 2u);
  EXPECT_EQ(rest.body["next_cursor"], "");
}

TEST_F(LabelsApiTest, ABadSelectorIs400WithThePositionOfTheError) {
  struct Case {
    const char* selector;
    const char* position;
  };
  for (const Case& c : {Case{"env=prod,", "position 10:"}, Case{"region in (a", "position 13:"},
                        Case{"env>1", "position 4:"}, Case{"-env", "position 1:"},
                        Case{"env=pr*d", "position 5:"}}) {
    auto r = kaasd_->Call("GET", "/api/v1/clusters?selector=" + Encode(c.selector));
    EXPECT_EQ(r.status, 400) << c.selector;
    EXPECT_EQ(r.body["error"]["code"], "invalid_argument") << r.raw;
    EXPECT_EQ(r.body["error"]["details"]["field"], "selector") << r.raw;
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find(c.position), std::string::npos)
        << c.selector << ": " << r.raw;
  }
}

TEST_F(LabelsApiTest, InvalidLabelsAre400NamingTheFieldAndCreateNothing) {
  struct Case {
    Json labels;
    const char* field;
  };
  const Case cases[] = {
      {{{"env", "not ok"}}, "labels.env"},
      {{{"env", std::string(64, 'v')}}, "labels.env"},
      {{{"-env", "x"}}, "labels"},
      {{{"a/b/c", "x"}}, "labels"},
      {{{"Example.com/x", "x"}}, "labels"},
      {{{"env", 3}}, "labels.env"},
      {{{"env", nullptr}}, "labels.env"},  // null removes in a PATCH, means nothing at create
      {Json::array(), "labels"},
  };
  for (const auto& c : cases) {
    auto r = Create("bad", c.labels);
    EXPECT_EQ(r.status, 400) << c.labels.dump();
    EXPECT_EQ(r.body["error"]["details"]["field"], c.field) << c.labels.dump() << " " << r.raw;
  }
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters").body["items"].size(), 0u);
  // A prefixed key and an empty value are fine.
  auto ok = Create("good", {{"app.example.com/owner", "ana"}, {"canary", ""}});
  ASSERT_EQ(ok.status, 202) << ok.raw;
  EXPECT_EQ(ok.body["cluster"]["labels"]["app.example.com/owner"], "ana");
}

TEST_F(LabelsApiTest, PatchMergesLabelsIsAuditedAndNeedsAMember) {
  for (const char* user : {"bob", "vic", "mallory"}) {
    ASSERT_EQ(kaasd_
                  ->Call("POST", "/api/v1/users",
                         Json{{"username", user}, {"password", kPassword}}.dump())
                  .status,
              201);
  }
  auto member = [&](const char* team, const char* user, const char* role) {
    ASSERT_EQ(kaasd_
                  ->Call("PUT", std::string("/api/v1/teams/") + team + "/members/" + user,
                         Json{{"role", role}}.dump())
                  .status,
              200);
  };
  member("payments", "bob", "member");
  member("payments", "vic", "viewer");
  member("search", "mallory", "member");
  std::string bob = kaasd_->Login("bob", kPassword);
  std::string vic = kaasd_->Login("vic", kPassword);
  std::string mallory = kaasd_->Login("mallory", kPassword);

  auto created = Create("shop", {{"env", "dev"}, {"tier", "web"}}, "payments", bob);
  ASSERT_EQ(created.status, 202) << created.raw;
  std::string id = created.body["cluster"]["id"];
  std::string path = "/api/v1/clusters/" + id;

  // Set one, remove one (null), keep the rest.
  auto patched =
      kaasd_->Call("PATCH", path, R"({"labels":{"env":"prod","tier":null,"team":"shop"}})", bob);
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body["labels"], (Json{{"env", "prod"}, {"team", "shop"}}));
  EXPECT_EQ(kaasd_->Call("GET", path).body["labels"], (Json{{"env", "prod"}, {"team", "shop"}}));
  // Removing a label that is not there is fine; an empty patch changes nothing.
  EXPECT_EQ(kaasd_->Call("PATCH", path, R"({"labels":{"nope":null}})", bob).status, 200);
  EXPECT_EQ(kaasd_->Call("PATCH", path, R"({})", bob).body["labels"].size(), 2u);

  // Validation names the field and changes nothing.
  auto bad = kaasd_->Call("PATCH", path, R"({"labels":{"env":"p r o d"}})", bob);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["details"]["field"], "labels.env") << bad.raw;
  auto unknown = kaasd_->Call("PATCH", path, R"({"name":"other"})", bob);
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.body["error"]["details"]["field"], "name") << unknown.raw;
  EXPECT_EQ(kaasd_->Call("GET", path).body["labels"]["env"], "prod");

  // A viewer may not, another team cannot see the cluster, nor find it with a selector.
  EXPECT_EQ(kaasd_->Call("PATCH", path, R"({"labels":{"env":"x"}})", vic).status, 403);
  EXPECT_EQ(kaasd_->Call("PATCH", path, R"({"labels":{"env":"x"}})", mallory).status, 404);
  EXPECT_EQ(Select("env=prod", vic), (std::set<std::string>{"shop"}));
  EXPECT_TRUE(Select("env=prod", mallory).empty());
  EXPECT_TRUE(Select("team=shop", mallory).empty());

  // Audited like every change, with the cluster as the object.
  auto audit = kaasd_->Call("GET", "/api/v1/audit?limit=200");
  int patches = 0;
  for (const auto& e : audit.body["items"]) {
    if (e["action"] != "PATCH /api/v1/clusters/{id}") continue;
    ++patches;
    if (e["actor"] == "bob" && e["result"] == "ok") {
      EXPECT_EQ(e["team"], "payments");
      EXPECT_NE(e["object"].get<std::string>().find(id), std::string::npos) << e.dump();
    }
  }
  EXPECT_EQ(patches, 7) << audit.raw;  // 3 ok, 2 bad requests, the viewer's 403, mallory's 404

  // Labels changed while the create operation ran (they are not the cluster's shape); a
  // deleted cluster keeps its labels but takes no edits.
  ASSERT_EQ(kaasd_->WaitOperation(created.body["operation"]["id"])["state"], "succeeded");
  auto del = kaasd_->Call("DELETE", path, "", bob);
  ASSERT_EQ(del.status, 202) << del.raw;
  ASSERT_EQ(kaasd_->WaitOperation(del.body["operation"]["id"])["state"], "succeeded");
  EXPECT_EQ(kaasd_->Call("PATCH", path, R"({"labels":{"env":"x"}})", bob).status, 409);
}

}  // namespace
}  // namespace kaas::testing
