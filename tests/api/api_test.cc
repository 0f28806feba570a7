// Drives the real kaasd binary over HTTP, as a user (or the CLI, or the portal) would.

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { StartWith({}); }

  void StartWith(std::vector<std::string> args) {
    kaasd_ = std::make_unique<KaasdProcess>(std::move(args));
    ASSERT_TRUE(kaasd_->Start()) << "kaasd did not become ready";
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    auto team = kaasd_->Call("POST", "/api/v1/teams", R"({"name":"payments"})");
    ASSERT_EQ(team.status, 201) << team.raw;
  }

  HttpResult CreateCluster(const std::string& name, int workers, const std::string& purpose = "dev",
                           const std::string& query = "") {
    Json body = {{"name", name},
                 {"team", "payments"},
                 {"purpose", purpose},
                 {"workers", {{"count", workers}, {"kind", "vm"}, {"flavor", "w.medium"}}}};
    return kaasd_->Call("POST", "/api/v1/clusters" + query, body.dump());
  }

  int LiveClusters() {
    auto r = kaasd_->Call("GET", "/api/v1/clusters?limit=500");
    return r.status == 200 ? static_cast<int>(r.body["items"].size()) : -1;
  }

  // kaas-owned domains on all simulated hypervisors, name -> hypervisor.
  std::map<std::string, std::string> Domains() {
    std::map<std::string, std::string> out;
    for (const auto& file : SimFiles(kaasd_->data_dir())) {
      std::string hv = file.stem().string();
      for (const auto& [name, running] : SimDomains(file)) out[name] = hv;
    }
    return out;
  }

  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(ApiTest, DevClusterLifecycleLeavesNoDomainBehind) {
  auto created = CreateCluster("billing-dev", 3);
  ASSERT_EQ(created.status, 202) << created.raw;
  std::string id = created.body["cluster"]["id"];
  std::string op = created.body["operation"]["id"];
  EXPECT_EQ(created.body["cluster"]["masters"]["count"], 3);
  EXPECT_EQ(created.body["cluster"]["masters"]["flavor"], "m.small");
  EXPECT_EQ(created.body["operation"]["type"], "create");
  EXPECT_GE(created.body["operation"]["steps"].size(), 6u);

  Json done = kaasd_->WaitOperation(op);
  ASSERT_EQ(done["state"], "succeeded") << done.dump(2);
  EXPECT_EQ(done["progress"], 100);
  for (const auto& step : done["steps"]) {
    EXPECT_EQ(step["state"], "succeeded") << step.dump();
    EXPECT_EQ(step["attempts"], 1) << step.dump();
    EXPECT_FALSE(step["started_at"].get<std::string>().empty());
  }

  auto cluster = kaasd_->Call("GET", "/api/v1/clusters/" + id);
  ASSERT_EQ(cluster.status, 200);
  EXPECT_EQ(cluster.body["status"], "running");
  EXPECT_EQ(cluster.body["team"], "payments");
  std::set<std::string> master_hvs;
  int masters = 0, workers = 0;
  for (const auto& n : cluster.body["nodes"]) {
    EXPECT_EQ(n["state"], "ready");
    if (n["role"] == "master") {
      ++masters;
      master_hvs.insert(n["hypervisor"].get<std::string>());
      EXPECT_EQ(n["vcpus"], 4);
    } else {
      ++workers;
      EXPECT_EQ(n["flavor"], "w.medium");
    }
  }
  EXPECT_EQ(masters, 3);
  EXPECT_EQ(workers, 3);
  EXPECT_EQ(master_hvs.size(), 3u) << "masters must sit on distinct hypervisors";

  // The hypervisors themselves (read with libvirt, not through kaas) hold exactly these nodes,
  // each on the hypervisor kaas reports.
  auto domains = Domains();
  EXPECT_EQ(domains.size(), 6u);
  for (const auto& n : cluster.body["nodes"]) {
    std::string domain = "kaas-" + id + "-" + n["name"].get<std::string>();
    ASSERT_TRUE(domains.count(domain)) << domain;
    EXPECT_EQ(domains[domain], n["hypervisor"]);
  }

  auto quota = kaasd_->Call("GET", "/api/v1/teams/payments/quota");
  ASSERT_EQ(quota.status, 200);
  EXPECT_EQ(quota.body["usage"]["clusters"], 1);
  EXPECT_EQ(quota.body["usage"]["vcpus"], 3 * 4 + 3 * 4);
  EXPECT_EQ(quota.body["usage"]["memory_gib"], 3 * 4 + 3 * 8);

  auto del = kaasd_->Call("DELETE", "/api/v1/clusters/" + id);
  ASSERT_EQ(del.status, 202) << del.raw;
  Json deleted = kaasd_->WaitOperation(del.body["operation"]["id"]);
  ASSERT_EQ(deleted["state"], "succeeded") << deleted.dump(2);
  EXPECT_TRUE(Domains().empty());
  auto after = kaasd_->Call("GET", "/api/v1/clusters/" + id);
  EXPECT_EQ(after.body["status"], "deleted");
  EXPECT_TRUE(after.body["nodes"].empty());
  EXPECT_EQ(LiveClusters(), 0);
  quota = kaasd_->Call("GET", "/api/v1/teams/payments/quota");
  EXPECT_EQ(quota.body["usage"]["vcpus"], 0);
  EXPECT_EQ(quota.body["usage"]["clusters"], 0);

  auto ops = kaasd_->Call("GET", "/api/v1/clusters/" + id + "/operations");
  ASSERT_EQ(ops.status, 200);
  ASSERT_EQ(ops.body["items"].size(), 2u);
  EXPECT_EQ(ops.body["items"][0]["type"], "delete");
  EXPECT_EQ(ops.body["items"][1]["type"], "create");
}

TEST_F(ApiTest, DryRunShowsThePlanAndPersistsNothing) {
  // Over the default quota a dry run answers exactly like the real request would.
  auto refused = CreateCluster("preview", 60, "prod", "?dry_run=true");
  EXPECT_EQ(refused.status, 422) << refused.raw;
  EXPECT_EQ(refused.body["error"]["code"], "quota_exceeded");
  ASSERT_EQ(kaasd_
                ->Call("PUT", "/api/v1/teams/payments/quota",
                       R"({"limits":{"vcpus":400,"memory_gib":1000}})")
                .status,
            200);
  // Five masters need five hypervisors; the simulated datacenter has three. kaas refuses
  // rather than co-locating masters silently...
  auto apart = CreateCluster("preview", 60, "prod", "?dry_run=true");
  EXPECT_EQ(apart.status, 422) << apart.raw;
  EXPECT_EQ(apart.body["error"]["code"], "insufficient_capacity");
  EXPECT_EQ(apart.body["error"]["details"]["resource"], "hypervisors");
  // ...unless the request allows it explicitly.
  Json body = {{"name", "preview"},
               {"team", "payments"},
               {"purpose", "prod"},
               {"allow_colocated_masters", true},
               {"workers", {{"count", 60}}}};
  auto r = kaasd_->Call("POST", "/api/v1/clusters?dry_run=true", body.dump());
  ASSERT_EQ(r.status, 200) << r.raw;
  std::map<std::string, int> per_hv;
  for (const auto& n : r.body["cluster"]["nodes"]) {
    if (n["role"] == "master") per_hv[n["hypervisor"].get<std::string>()]++;
  }
  EXPECT_EQ(per_hv.size(), 3u) << "masters still spread as far as the hypervisors allow";
  EXPECT_EQ(r.body["dry_run"], true);
  EXPECT_EQ(r.body["cluster"]["masters"]["count"], 5);
  EXPECT_EQ(r.body["cluster"]["masters"]["flavor"], "m.medium");
  EXPECT_EQ(r.body["cluster"]["nodes"].size(), 65u);
  std::vector<std::string> steps;
  for (const auto& s : r.body["operation"]["steps"]) steps.push_back(s["name"]);
  std::vector<std::string> expected = {"reserve quota and placement",
                                       "issue PKI",
                                       "provision masters",
                                       "bootstrap master-1",
                                       "join master-2",
                                       "join master-3",
                                       "join master-4",
                                       "join master-5",
                                       "provision workers",
                                       "join workers",
                                       "verify cluster"};
  EXPECT_EQ(steps, expected);
  EXPECT_EQ(LiveClusters(), 0);
  EXPECT_TRUE(Domains().empty());
}

TEST_F(ApiTest, QuotaExceededNamesEachResourceAndChangesNothing) {
  auto r = CreateCluster("too-big", 40);
  ASSERT_EQ(r.status, 422) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "quota_exceeded");
  const Json& d = r.body["error"]["details"];
  std::set<std::string> resources;
  for (const auto& e : d["exceeded"]) resources.insert(e["resource"].get<std::string>());
  EXPECT_TRUE(resources.count("vcpus"));
  EXPECT_TRUE(resources.count("memory_gib"));
  EXPECT_EQ(d["resource"], "vcpus");
  EXPECT_EQ(d["requested"], 3 * 4 + 40 * 4);
  EXPECT_EQ(d["used"], 0);
  EXPECT_EQ(d["limit"], 64);
  EXPECT_EQ(LiveClusters(), 0);

  // The admin raises the limit; the same request is admitted.
  auto put = kaasd_->Call("PUT", "/api/v1/teams/payments/quota",
                          R"({"limits":{"vcpus":200,"memory_gib":400}})");
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(put.body["limits"]["vcpus"], 200);
  EXPECT_EQ(put.body["limits"]["clusters"], 5);
  EXPECT_EQ(CreateCluster("too-big", 40).status, 202);

  // Cluster-count limit.
  ASSERT_EQ(
      kaasd_->Call("PUT", "/api/v1/teams/payments/quota", R"({"limits":{"clusters":1}})").status,
      200);
  auto second = CreateCluster("second", 0, "personal");
  EXPECT_EQ(second.status, 422);
  EXPECT_EQ(second.body["error"]["details"]["resource"], "clusters");
}

struct BadRequest {
  std::string name;
  std::string method;
  std::string path;
  std::string body;
  int status;
  std::string code;
  std::string field;
};

TEST_F(ApiTest, BadInputGetsItsStatusAndChangesNothing) {
  auto ok = CreateCluster("taken", 0, "personal");
  ASSERT_EQ(ok.status, 202);
  std::string existing = ok.body["cluster"]["id"];
  kaasd_->WaitOperation(ok.body["operation"]["id"]);
  auto body = [](Json patch) {
    Json b = {{"name", "c1"}, {"team", "payments"}, {"purpose", "dev"}};
    b.merge_patch(patch);
    return b.dump();
  };
  std::vector<BadRequest> cases = {
      {"malformed json", "POST", "/api/v1/clusters", "{\"name\":", 400, "invalid_argument", "body"},
      {"not an object", "POST", "/api/v1/clusters", "[1,2]", 400, "invalid_argument", "body"},
      {"missing name", "POST", "/api/v1/clusters", R"({"team":"payments","purpose":"dev"})", 400,
       "invalid_argument", "name"},
      {"name wrong type", "POST", "/api/v1/clusters", body({{"name", 7}}), 400, "invalid_argument",
       "name"},
      {"name not a dns label", "POST", "/api/v1/clusters", body({{"name", "Billing_Dev"}}), 400,
       "invalid_argument", "name"},
      {"name too long", "POST", "/api/v1/clusters", body({{"name", std::string(41, 'a')}}), 400,
       "invalid_argument", "name"},
      {"unknown purpose", "POST", "/api/v1/clusters", body({{"purpose", "staging"}}), 400,
       "invalid_argument", "purpose"},
      {"two masters", "POST", "/api/v1/clusters", body({{"masters", {{"count", 2}}}}), 400,
       "invalid_argument", "masters.count"},
      {"four masters", "POST", "/api/v1/clusters", body({{"masters", {{"count", 4}}}}), 400,
       "invalid_argument", "masters.count"},
      {"zero masters", "POST", "/api/v1/clusters", body({{"masters", {{"count", 0}}}}), 400,
       "invalid_argument", "masters.count"},
      {"workers count as string", "POST", "/api/v1/clusters", body({{"workers", {{"count", "3"}}}}),
       400, "invalid_argument", "workers.count"},
      {"negative workers", "POST", "/api/v1/clusters", body({{"workers", {{"count", -1}}}}), 400,
       "invalid_argument", "workers.count"},
      {"501 workers", "POST", "/api/v1/clusters", body({{"workers", {{"count", 501}}}}), 400,
       "invalid_argument", "workers.count"},
      {"bad worker kind", "POST", "/api/v1/clusters", body({{"workers", {{"kind", "container"}}}}),
       400, "invalid_argument", "workers.kind"},
      {"bad worker flavor", "POST", "/api/v1/clusters", body({{"workers", {{"flavor", "w.huge"}}}}),
       400, "invalid_argument", "workers.flavor"},
      {"unknown field", "POST", "/api/v1/clusters", body({{"worker", {{"count", 3}}}}), 400,
       "invalid_argument", "worker"},
      {"unsupported version", "POST", "/api/v1/clusters", body({{"kubernetes_version", "1.20.0"}}),
       400, "invalid_argument", "kubernetes_version"},
      {"bad dry_run", "POST", "/api/v1/clusters?dry_run=maybe", body({}), 400, "invalid_argument",
       "dry_run"},
      {"unknown team", "POST", "/api/v1/clusters", body({{"team", "nobody"}}), 404, "not_found",
       ""},
      {"duplicate name", "POST", "/api/v1/clusters", body({{"name", "taken"}}), 409, "conflict",
       ""},
      {"unknown cluster", "GET", "/api/v1/clusters/cl-doesnotexist", "", 404, "not_found", ""},
      {"delete unknown cluster", "DELETE", "/api/v1/clusters/cl-doesnotexist", "", 404, "not_found",
       ""},
      {"unknown operation", "GET", "/api/v1/operations/op-nope", "", 404, "not_found", ""},
      {"unknown team quota", "GET", "/api/v1/teams/nobody/quota", "", 404, "not_found", ""},
      {"negative quota", "PUT", "/api/v1/teams/payments/quota", R"({"limits":{"vcpus":-1}})", 400,
       "invalid_argument", "limits.vcpus"},
      {"quota wrong type", "PUT", "/api/v1/teams/payments/quota", R"({"limits":{"vcpus":"lots"}})",
       400, "invalid_argument", "limits.vcpus"},
      {"duplicate team", "POST", "/api/v1/teams", R"({"name":"payments"})", 409, "conflict", ""},
      {"bad team name", "POST", "/api/v1/teams", R"({"name":"Pay Ments"})", 400, "invalid_argument",
       "name"},
      {"bad limit", "GET", "/api/v1/clusters?limit=0", "", 400, "invalid_argument", "limit"},
      {"unknown route", "GET", "/api/v1/nothing-here", "", 404, "not_found", ""},
  };
  for (const auto& c : cases) {
    auto r = kaasd_->Call(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.raw;
    EXPECT_EQ(r.body["error"]["code"], c.code) << c.name << ": " << r.raw;
    EXPECT_FALSE(r.body["error"]["message"].get<std::string>().empty()) << c.name;
    if (!c.field.empty()) {
      EXPECT_EQ(r.body["error"]["details"]["field"], c.field) << c.name << ": " << r.raw;
    }
  }
  // Over 1 MiB: 413 with the JSON error shape.
  auto big = kaasd_->Call("POST", "/api/v1/clusters", std::string(2 << 20, ' '));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.body["error"]["code"], "payload_too_large");

  // Nothing of the above changed anything.
  EXPECT_EQ(LiveClusters(), 1);
  EXPECT_EQ(Domains().size(), 1u);
  auto quota = kaasd_->Call("GET", "/api/v1/teams/payments/quota");
  EXPECT_EQ(quota.body["limits"]["vcpus"], 64);
  EXPECT_EQ(quota.body["usage"]["clusters"], 1);
  auto still = kaasd_->Call("GET", "/api/v1/clusters/" + existing);
  EXPECT_EQ(still.body["status"], "running");
}

TEST_F(ApiTest, EveryApiRouteButLoginNeedsAValidToken) {
  for (const char* path :
       {"/api/v1/me", "/api/v1/teams", "/api/v1/clusters", "/api/v1/versions", "/api/v1/flavors",
        "/api/v1/teams/payments/quota", "/api/v1/hypervisors"}) {
    auto anonymous = kaasd_->Call("GET", path, "", "");
    EXPECT_EQ(anonymous.status, 401) << path;
    EXPECT_EQ(anonymous.body["error"]["code"], "unauthenticated") << path;
    auto forged = kaasd_->Call("GET", path, "", "kaas_forged");
    EXPECT_EQ(forged.status, 401) << path;
  }
  auto bad = kaasd_->Call("POST", "/api/v1/auth/login",
                          R"({"username":"admin","password":"wrong-password"})", "");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.body["error"]["code"], "unauthenticated");
  auto unknown = kaasd_->Call("POST", "/api/v1/auth/login",
                              R"({"username":"ghost","password":"wrong-password"})", "");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.body["error"]["message"], bad.body["error"]["message"]);
  auto me = kaasd_->Call("GET", "/api/v1/me");
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.body["username"], "admin");
  EXPECT_EQ(me.body["is_admin"], true);
}

TEST_F(ApiTest, DeleteWhileCreatingIsOperationInProgress) {
  kaasd_->Terminate();
  StartWith({"--sim-delay-ms", "300"});
  auto created = CreateCluster("slow", 1, "personal");
  ASSERT_EQ(created.status, 202);
  auto del = kaasd_->Call("DELETE",
                          "/api/v1/clusters/" + created.body["cluster"]["id"].get<std::string>());
  EXPECT_EQ(del.status, 409);
  EXPECT_EQ(del.body["error"]["code"], "operation_in_progress");
  auto cluster =
      kaasd_->Call("GET", "/api/v1/clusters/" + created.body["cluster"]["id"].get<std::string>());
  EXPECT_EQ(cluster.body["status"], "provisioning");
  EXPECT_EQ(cluster.body["active_operation"], created.body["operation"]["id"]);
  EXPECT_EQ(kaasd_->WaitOperation(created.body["operation"]["id"])["state"], "succeeded");
}

TEST_F(ApiTest, ListPagesWithCursor) {
  for (const char* name : {"a", "b", "c"})
    ASSERT_EQ(CreateCluster(name, 0, "personal").status, 202);
  auto first = kaasd_->Call("GET", "/api/v1/clusters?limit=2");
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(first.body["items"].size(), 2u);
  std::string cursor = first.body["next_cursor"];
  ASSERT_FALSE(cursor.empty());
  auto second = kaasd_->Call("GET", "/api/v1/clusters?limit=2&cursor=" + cursor);
  ASSERT_EQ(second.body["items"].size(), 1u);
  EXPECT_EQ(second.body["next_cursor"], "");
  std::set<std::string> names;
  for (const auto& c : first.body["items"]) names.insert(c["name"].get<std::string>());
  for (const auto& c : second.body["items"]) names.insert(c["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"a", "b", "c"}));
  auto by_team = kaasd_->Call("GET", "/api/v1/clusters?team=payments");
  EXPECT_EQ(by_team.body["items"].size(), 3u);
}

TEST_F(ApiTest, CatalogsHealthAndMetrics) {
  auto versions = kaasd_->Call("GET", "/api/v1/versions");
  ASSERT_EQ(versions.status, 200);
  int defaults = 0;
  std::set<std::string> minors;
  for (const auto& v : versions.body["items"]) {
    defaults += v["default"].get<bool>();
    std::string ver = v["version"];
    minors.insert(ver.substr(0, ver.rfind('.')));
  }
  EXPECT_EQ(defaults, 1);
  EXPECT_GE(minors.size(), 3u);
  auto flavors = kaasd_->Call("GET", "/api/v1/flavors");
  ASSERT_EQ(flavors.status, 200);
  EXPECT_EQ(flavors.body["masters"].size(), 3u);
  EXPECT_EQ(flavors.body["masters"][2]["name"], "m.large");
  EXPECT_EQ(flavors.body["masters"][2]["kind"], "physical");
  EXPECT_EQ(flavors.body["default_worker_flavor"], "w.medium");
  EXPECT_EQ(flavors.body["sizing"].size(), 3u);

  auto health = kaasd_->Call("GET", "/healthz", "", "");
  EXPECT_EQ(health.status, 200);
  auto ready = kaasd_->Call("GET", "/readyz", "", "");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body["checks"]["database"], "ok");
  EXPECT_EQ(ready.body["checks"]["migrations"], "ok");
  EXPECT_EQ(ready.body["checks"]["engine"], "ok");

  ASSERT_EQ(CreateCluster("m", 0, "personal").status, 202);
  auto metrics = kaasd_->Call("GET", "/metrics", "", "");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(
      metrics.raw.find(
          "kaas_http_requests_total{method=\"POST\",route=\"/api/v1/clusters\",status=\"202\"} 1"),
      std::string::npos)
      << metrics.raw;
  EXPECT_NE(metrics.raw.find("kaas_operations{type=\"create\""), std::string::npos);

  auto hvs = kaasd_->Call("GET", "/api/v1/hypervisors");
  ASSERT_EQ(hvs.status, 200);
  EXPECT_EQ(hvs.body["items"].size(), 3u);
  EXPECT_EQ(hvs.body["items"][0]["vcpus"], 128);
  auto hosts = kaasd_->Call("GET", "/api/v1/hosts");
  ASSERT_EQ(hosts.status, 200);
  EXPECT_EQ(hosts.body["items"].size(), 24u);
}

TEST_F(ApiTest, SigtermExitsCleanlyAndTheOperationResumes) {
  kaasd_->Terminate();
  StartWith({"--sim-delay-ms", "400"});
  auto created = CreateCluster("resumed", 2);
  ASSERT_EQ(created.status, 202);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(kaasd_->Terminate(), 0);
  // The SIGTERM landed mid-operation: kaasd checkpointed a running operation with some steps
  // done, not all.
  OperationAtRest at_rest =
      ReadOperationAtRest(kaasd_->data_dir(), created.body["operation"]["id"]);
  ASSERT_EQ(at_rest.state, "running");
  EXPECT_GE(at_rest.SucceededSteps(), 1u);
  EXPECT_LT(at_rest.SucceededSteps(), at_rest.step_states.size());
  kaasd_->SetArgs({});
  ASSERT_TRUE(kaasd_->Start());
  kaasd_->LoginAdmin();
  Json done = kaasd_->WaitOperation(created.body["operation"]["id"]);
  EXPECT_EQ(done["state"], "succeeded") << done.dump(2);
  EXPECT_EQ(Domains().size(), 5u);
}

}  // namespace
}  // namespace kaas::testing
