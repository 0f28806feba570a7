// Quota under concurrency, capacity admission, the physical-host inventory, quota requests and
// orphan reconciliation, through the real kaasd.

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "kaas/store/database.h"
#include "kaas/store/repositories.h"
#include "kaasd_process.h"
#include "status_testing.h"

namespace kaas::testing {
namespace {

constexpr const char* kPassword = "a-long-enough-password";

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }

  void Start(std::vector<std::string> args) {
    kaasd_ = std::make_unique<KaasdProcess>(std::move(args));
    ASSERT_TRUE(kaasd_->Start());
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    for (const char* team : {"payments", "search"}) {
      ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", Json{{"name", team}}.dump()).status, 201);
    }
  }

  void SetQuota(const std::string& team, const Json& limits) {
    auto r =
        kaasd_->Call("PUT", "/api/v1/teams/" + team + "/quota", Json{{"limits", limits}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
  }

  HttpResult Create(const std::string& team, const std::string& name, Json workers,
                    const std::string& purpose = "personal") {
    return kaasd_->Call(
        "POST", "/api/v1/clusters",
        Json{{"name", name}, {"team", team}, {"purpose", purpose}, {"workers", workers}}.dump());
  }

  // Usage reported by the quota API must equal the sum over the team's live nodes and hosts.
  void ExpectUsageMatchesAllocations(const std::string& team) {
    auto quota = kaasd_->Call("GET", "/api/v1/teams/" + team + "/quota");
    auto clusters = kaasd_->Call("GET", "/api/v1/clusters?limit=500&team=" + team);
    int64_t vcpus = 0, memory = 0, hosts = 0, count = 0;
    for (const auto& c : clusters.body["items"]) {
      ++count;
      auto detail = kaasd_->Call("GET", "/api/v1/clusters/" + c["id"].get<std::string>());
      for (const auto& n : detail.body["nodes"]) {
        if (n["kind"] == "vm") {
          vcpus += n["vcpus"].get<int64_t>();
          memory += n["memory_gib"].get<int64_t>();
        } else {
          ++hosts;
        }
      }
    }
    EXPECT_EQ(quota.body["usage"]["clusters"], count) << team;
    EXPECT_EQ(quota.body["usage"]["vcpus"], vcpus) << team;
    EXPECT_EQ(quota.body["usage"]["memory_gib"], memory) << team;
    EXPECT_EQ(quota.body["usage"]["physical_hosts"], hosts) << team;
  }

  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(InventoryTest, FiftyParallelCreatesAgainstALimitOfThreeAcceptExactlyThree) {
  SetQuota("payments", {{"clusters", 3}});
  std::atomic<int> accepted{0}, quota_refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      auto r = Create("payments", "race-" + std::to_string(i), {{"count", 1}});
      if (r.status == 202) {
        accepted++;
      } else if (r.status == 422 && r.body["error"]["code"] == "quota_exceeded") {
        quota_refused++;
      } else {
        other++;
        ADD_FAILURE() << r.status << " " << r.raw;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted, 3);
  EXPECT_EQ(quota_refused, 47);
  EXPECT_EQ(other, 0);
  ExpectUsageMatchesAllocations("payments");
  auto quota = kaasd_->Call("GET", "/api/v1/teams/payments/quota");
  EXPECT_EQ(quota.body["usage"]["clusters"], 3);
}

TEST_F(InventoryTest, ParallelCreatesNeverOvercommitVcpus) {
  SetQuota("payments", {{"clusters", 100}, {"vcpus", 40}, {"memory_gib", 1000}});
  // personal + 1 w.medium = 4 + 4 = 8 vCPU each: exactly 5 fit into 40.
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      if (Create("payments", "v-" + std::to_string(i), {{"count", 1}}).status == 202) accepted++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted, 5);
  ExpectUsageMatchesAllocations("payments");
}

TEST_F(InventoryTest, PhysicalHostsAreExclusiveAndReturnAfterDelete) {
  SetQuota("payments", {{"physical_hosts", 30}});
  SetQuota("search", {{"physical_hosts", 30}});
  auto a = Create("payments", "metal-a", {{"count", 20}, {"kind", "physical"}});
  ASSERT_EQ(a.status, 202) << a.raw;
  ASSERT_EQ(kaasd_->WaitOperation(a.body["operation"]["id"])["state"], "succeeded");
  std::set<std::string> a_hosts;
  auto a_detail =
      kaasd_->Call("GET", "/api/v1/clusters/" + a.body["cluster"]["id"].get<std::string>());
  for (const auto& n : a_detail.body["nodes"]) {
    if (n["kind"] == "physical") a_hosts.insert(n["host"].get<std::string>());
  }
  EXPECT_EQ(a_hosts.size(), 20u);

  // Only 4 of the 24 simulated hosts are left: the other team is refused up front.
  auto b = Create("search", "metal-b", {{"count", 10}, {"kind", "physical"}});
  ASSERT_EQ(b.status, 422) << b.raw;
  EXPECT_EQ(b.body["error"]["code"], "insufficient_capacity");
  EXPECT_EQ(b.body["error"]["details"]["resource"], "physical_hosts");
  EXPECT_EQ(b.body["error"]["details"]["requested"], 10);
  EXPECT_EQ(b.body["error"]["details"]["limit"], 4);

  // An allocated host cannot be deleted or put into maintenance.
  std::string taken = *a_hosts.begin();
  EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/hosts/" + taken).status, 409);
  EXPECT_EQ(kaasd_->Call("PUT", "/api/v1/hosts/" + taken, R"({"state":"maintenance"})").status,
            409);
  ExpectUsageMatchesAllocations("payments");

  auto del =
      kaasd_->Call("DELETE", "/api/v1/clusters/" + a.body["cluster"]["id"].get<std::string>());
  ASSERT_EQ(kaasd_->WaitOperation(del.body["operation"]["id"])["state"], "succeeded");
  auto hosts = kaasd_->Call("GET", "/api/v1/hosts");
  for (const auto& h : hosts.body["items"]) {
    EXPECT_EQ(h["state"], "available") << h.dump();
    EXPECT_EQ(h["cluster_id"], "");
  }
  auto b2 = Create("search", "metal-b", {{"count", 10}, {"kind", "physical"}});
  EXPECT_EQ(b2.status, 202) << b2.raw;
  ExpectUsageMatchesAllocations("search");
  ExpectUsageMatchesAllocations("payments");
}

// A host's SSH host key: registered with it (normalized, the comment dropped) or left for kaas
// to pin at its first contact; a bad key is 400 and changes nothing; PUT replaces it.
TEST_F(InventoryTest, HostKeysAreRegisteredCheckedAndReplaced) {
  const std::string b64 = "AAAAC3NzaC1lZDI1NTE5AAAAIHdvcmtlci0xLWhvc3Qta2V5LTAwMDAwMDAwMDAw";
  nlohmann::json body = {{"name", "bm-keyed"},
                         {"address", "10.9.1.1"},
                         {"vcpus", 8},
                         {"memory_gib", 32},
                         {"host_key", "ssh-ed25519 " + b64 + " root@bm-keyed"}};
  auto r = kaasd_->Call("POST", "/api/v1/hosts", body.dump());
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["host_key"], "ssh-ed25519 " + b64);
  body["name"] = "bm-bad";
  for (const char* bad : {"ssh-ed25519", "ssh-dss AAAAAAAAAAAAAAAAAAAA", "ssh-ed25519 no*base64"}) {
    body["host_key"] = bad;
    auto b = kaasd_->Call("POST", "/api/v1/hosts", body.dump());
    EXPECT_EQ(b.status, 400) << bad;
    EXPECT_EQ(b.body["error"]["details"]["field"], "host_key") << b.raw;
  }
  body.erase("host_key");
  body["name"] = "bm-unkeyed";
  ASSERT_EQ(kaasd_->Call("POST", "/api/v1/hosts", body.dump()).status, 201);
  auto hosts = kaasd_->Call("GET", "/api/v1/hosts").body["items"];
  for (const auto& h : hosts) {
    EXPECT_NE(h["name"], "bm-bad");
    if (h["name"] == "bm-unkeyed") EXPECT_EQ(h["host_key"], "");
  }
  // A reinstalled machine: the operator registers its new key; a bad one changes nothing.
  auto bad = kaasd_->Call("PUT", "/api/v1/hosts/bm-keyed",
                          R"({"state":"maintenance","host_key":"ssh-ed25519 x"})");
  EXPECT_EQ(bad.status, 400) << bad.raw;
  auto p = kaasd_->Call("PUT", "/api/v1/hosts/bm-keyed",
                        nlohmann::json{{"host_key", "ecdsa-sha2-nistp256 " + b64}}.dump());
  ASSERT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(p.body["host_key"], "ecdsa-sha2-nistp256 " + b64);
  EXPECT_EQ(p.body["state"], "available");
  EXPECT_EQ(kaasd_->Call("PUT", "/api/v1/hosts/bm-keyed", "{}").status, 400);
}

TEST_F(InventoryTest, HostAddressesAreHostOrHostPortAndBadOnesChangeNothing) {
  size_t before = kaasd_->Call("GET", "/api/v1/hosts").body["items"].size();
  for (const char* bad : {"10.9.0.1:", "10.9.0.1:ssh", "10.9.0.1:0", "10.9.0.1:70000", ":22",
                          "[::1", "[::1]22", "bm 1",
                          // neither a name nor an address (found by fuzz/host_port_fuzz), and
                          // what Ansible would evaluate as Jinja
                          "p[::1]:22m-1.examp,e", "{{lookup('pipe','id')}}"}) {
    nlohmann::json body = {{"name", "bm-new"}, {"address", bad}, {"vcpus", 8}, {"memory_gib", 32}};
    auto r = kaasd_->Call("POST", "/api/v1/hosts", body.dump());
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.body["error"]["code"], "invalid_argument") << bad;
    EXPECT_EQ(r.body["error"]["details"]["field"], "address") << bad;
  }
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/hosts").body["items"].size(), before);
  for (const char* good : {"10.9.0.1", "10.9.0.2:2222", "bm-3.dc1.example", "[fd00::4]:22"}) {
    std::string name =
        "bm-" + std::to_string(kaasd_->Call("GET", "/api/v1/hosts").body["items"].size());
    nlohmann::json body = {{"name", name}, {"address", good}, {"vcpus", 8}, {"memory_gib", 32}};
    auto r = kaasd_->Call("POST", "/api/v1/hosts", body.dump());
    EXPECT_EQ(r.status, 201) << good << ": " << r.body.dump();
    EXPECT_EQ(r.body["address"], good);
  }
}

TEST_F(InventoryTest, EachQuotaResourceIsNamedWhenExceeded) {
  SetQuota("payments", {{"clusters", 1}, {"vcpus", 8}, {"memory_gib", 6}, {"physical_hosts", 0}});
  auto r = Create("payments", "big", {{"count", 2}});
  ASSERT_EQ(r.status, 422);
  std::map<std::string, Json> by_resource;
  for (const auto& e : r.body["error"]["details"]["exceeded"]) by_resource[e["resource"]] = e;
  ASSERT_TRUE(by_resource.count("vcpus"));
  EXPECT_EQ(by_resource["vcpus"]["requested"], 4 + 2 * 4);
  EXPECT_EQ(by_resource["vcpus"]["limit"], 8);
  ASSERT_TRUE(by_resource.count("memory_gib"));
  EXPECT_EQ(by_resource["memory_gib"]["requested"], 4 + 2 * 8);
  auto metal = Create("payments", "metal", {{"count", 1}, {"kind", "physical"}});
  ASSERT_EQ(metal.status, 422);
  EXPECT_EQ(metal.body["error"]["details"]["resource"], "physical_hosts");
  EXPECT_EQ(metal.body["error"]["details"]["limit"], 0);
}

TEST_F(InventoryTest, MastersNeedDistinctHypervisorsAndDrainingOnesTakeNothing) {
  ASSERT_EQ(kaasd_->Call("PUT", "/api/v1/hypervisors/sim-3", R"({"state":"draining"})").status,
            200);
  auto r = Create("payments", "ha", {{"count", 0}}, "dev");
  ASSERT_EQ(r.status, 422) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "insufficient_capacity");
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters").body["items"].size(), 0u);
  ASSERT_EQ(kaasd_->Call("PUT", "/api/v1/hypervisors/sim-3", R"({"state":"active"})").status, 200);
  auto ok = Create("payments", "ha", {{"count", 0}}, "dev");
  ASSERT_EQ(ok.status, 202);
  std::set<std::string> hvs;
  for (const auto& n : ok.body["cluster"]["nodes"]) hvs.insert(n["hypervisor"].get<std::string>());
  EXPECT_EQ(hvs.size(), 3u);
  // A hypervisor with nodes cannot be removed; an empty new one can.
  EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/hypervisors/sim-1").status, 409);
  auto added =
      kaasd_->Call("POST", "/api/v1/hypervisors",
                   R"({"name":"hv-extra","uri":"test:///default","vcpus":64,"memory_gib":256})");
  EXPECT_EQ(added.status, 201) << added.raw;
  EXPECT_EQ(kaasd_
                ->Call("POST", "/api/v1/hypervisors",
                       R"({"name":"hv-extra","uri":"test:///default","vcpus":64,"memory_gib":256})")
                .status,
            409);
  EXPECT_EQ(kaasd_
                ->Call("POST", "/api/v1/hypervisors",
                       R"({"name":"x","uri":"nope","vcpus":1,"memory_gib":1})")
                .body["error"]["details"]["field"],
            "uri");
  EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/hypervisors/hv-extra").status, 204);
}

// libvirt's ext transport (and ssh's command=, unix sockets, other drivers) would make kaasd run
// a program or reach something it does not manage: such a hypervisor is refused and not stored.
TEST_F(InventoryTest, HypervisorUrisAreLimitedToTheSupportedDriversAndTransports) {
  const char* refused[] = {"qemu+ext:///system?command=/bin/sh",
                           "qemu+ssh://hv7/system?command=/bin/sh",
                           "qemu+unix:///system?socket=/tmp/evil.sock",
                           "qemu+tcp://hv7/system",
                           "xen:///system",
                           "test:///default?x=1"};
  int i = 0;
  for (const char* uri : refused) {
    auto r = kaasd_->Call("POST", "/api/v1/hypervisors",
                          Json{{"name", "hv-bad-" + std::to_string(i++)},
                               {"uri", uri},
                               {"vcpus", 8},
                               {"memory_gib", 8}}
                              .dump());
    EXPECT_EQ(r.status, 400) << uri << ": " << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "invalid_argument") << uri;
    EXPECT_EQ(r.body["error"]["details"]["field"], "uri") << uri;
  }
  auto list = kaasd_->Call("GET", "/api/v1/hypervisors");
  ASSERT_EQ(list.status, 200) << list.raw;
  for (const auto& hv : list.body["items"]) {
    EXPECT_EQ(hv["name"].get<std::string>().rfind("hv-bad-", 0), std::string::npos) << hv.dump();
  }
}

TEST_F(InventoryTest, QuotaRequestsAreAppliedOnApprovalOnly) {
  for (const char* user : {"bob", "vic"}) {
    ASSERT_EQ(kaasd_
                  ->Call("POST", "/api/v1/users",
                         Json{{"username", user}, {"password", kPassword}}.dump())
                  .status,
              201);
  }
  kaasd_->Call("PUT", "/api/v1/teams/payments/members/bob", R"({"role":"member"})");
  kaasd_->Call("PUT", "/api/v1/teams/payments/members/vic", R"({"role":"viewer"})");
  std::string bob = kaasd_->Login("bob", kPassword);
  auto req = kaasd_->Call("POST", "/api/v1/teams/payments/quota-requests",
                          R"({"limits":{"vcpus":128,"clusters":8},"reason":"black friday"})", bob);
  ASSERT_EQ(req.status, 201) << req.raw;
  EXPECT_EQ(req.body["state"], "pending");
  std::string id = req.body["id"];
  // Viewers cannot file requests; members cannot approve them.
  EXPECT_EQ(kaasd_
                ->Call("POST", "/api/v1/teams/payments/quota-requests",
                       R"({"limits":{"vcpus":1},"reason":"x"})", kaasd_->Login("vic", kPassword))
                .status,
            403);
  EXPECT_EQ(kaasd_->Call("POST", "/api/v1/quota-requests/" + id + "/approve", "{}", bob).status,
            403);
  auto pending = kaasd_->Call("GET", "/api/v1/quota-requests?state=pending", "", bob);
  ASSERT_EQ(pending.body["items"].size(), 1u);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/teams/payments/quota").body["limits"]["vcpus"], 64);

  auto approved = kaasd_->Call("POST", "/api/v1/quota-requests/" + id + "/approve",
                               R"({"comment":"ok for the sale"})");
  ASSERT_EQ(approved.status, 200) << approved.raw;
  EXPECT_EQ(approved.body["state"], "approved");
  EXPECT_EQ(approved.body["decided_by"], "admin");
  auto quota = kaasd_->Call("GET", "/api/v1/teams/payments/quota", "", bob);
  EXPECT_EQ(quota.body["limits"]["vcpus"], 128);
  EXPECT_EQ(quota.body["limits"]["clusters"], 8);
  EXPECT_EQ(quota.body["limits"]["memory_gib"], 256);
  EXPECT_EQ(kaasd_->Call("POST", "/api/v1/quota-requests/" + id + "/reject", "{}").status, 409);

  auto second = kaasd_->Call("POST", "/api/v1/teams/payments/quota-requests",
                             R"({"limits":{"vcpus":999},"reason":"greedy"})", bob);
  auto rejected = kaasd_->Call(
      "POST", "/api/v1/quota-requests/" + second.body["id"].get<std::string>() + "/reject",
      R"({"comment":"no"})");
  EXPECT_EQ(rejected.body["state"], "rejected");
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/teams/payments/quota").body["limits"]["vcpus"], 128);
  // Bad requests.
  auto bad = kaasd_->Call("POST", "/api/v1/teams/payments/quota-requests",
                          R"({"limits":{"vcpus":-5},"reason":"x"})", bob);
  EXPECT_EQ(bad.body["error"]["details"]["field"], "limits.vcpus");
  // Each step is in the audit log.
  auto audit = kaasd_->Call("GET", "/api/v1/audit?team=payments");
  int found = 0;
  for (const auto& e : audit.body["items"]) {
    std::string action = e["action"];
    found += action.find("quota-requests") != std::string::npos && e["result"] == "ok";
  }
  EXPECT_GE(found, 4);
}

// A domain defined behind kaas's back (here: written into the simulated hypervisor while kaasd
// was down, as a rogue tool would on a real one) is reported, and reaped when configured.
TEST_F(InventoryTest, OrphanDomainsAreFoundAndReaped) {
  auto c = Create("payments", "real", {{"count", 0}});
  ASSERT_EQ(kaasd_->WaitOperation(c.body["operation"]["id"])["state"], "succeeded");
  ASSERT_EQ(kaasd_->Terminate(), 0);
  auto sim = kaasd_->data_dir() / "sim" / "sim-2.xml";
  std::ifstream in(sim);
  std::string xml((std::istreambuf_iterator<char>(in)), {});
  in.close();
  std::string rogue =
      "<domain type='test'><name>kaas-cl-ghost-master-1</name>"
      "<uuid>11111111-2222-3333-4444-555555555555</uuid><metadata>"
      "<kaas:owner xmlns:kaas=\"https://kaas.dev/xmlns/owner/1\"><cluster>cl-ghost</cluster>"
      "<node>master-1</node><role>master</role></kaas:owner></metadata>"
      "<memory unit='GiB'>4</memory><vcpu>4</vcpu><os><type>hvm</type></os>"
      "<test:runstate>1</test:runstate></domain>\n"
      "<domain type='test'><name>someone-elses-vm</name>"
      "<uuid>11111111-2222-3333-4444-666666666666</uuid>"
      "<memory unit='GiB'>1</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\n";
  xml.insert(xml.rfind("</node>"), rogue);
  std::ofstream(sim) << xml;

  kaasd_->SetArgs({});
  ASSERT_TRUE(kaasd_->Start());
  kaasd_->LoginAdmin();
  auto orphans = kaasd_->Call("GET", "/api/v1/inventory/orphans");
  ASSERT_EQ(orphans.status, 200) << orphans.raw;
  ASSERT_EQ(orphans.body["domains"].size(), 1u) << orphans.raw;
  EXPECT_EQ(orphans.body["domains"][0]["domain"], "kaas-cl-ghost-master-1");
  EXPECT_EQ(orphans.body["domains"][0]["hypervisor"], "sim-2");
  EXPECT_EQ(orphans.body["domains"][0]["cluster_id"], "cl-ghost");
  EXPECT_TRUE(orphans.body["hosts"].empty());

  // With reaping on, the periodic pass destroys it — and leaves the foreign VM and kaas's own
  // cluster alone.
  ASSERT_EQ(kaasd_->Terminate(), 0);
  kaasd_->SetArgs({"--reap-orphans", "true", "--reconcile-interval-seconds", "1"});
  ASSERT_TRUE(kaasd_->Start());
  kaasd_->LoginAdmin();
  std::set<std::string> names;
  for (int i = 0; i < 50; ++i) {
    names.clear();
    for (const auto& [name, running] : SimDomains(sim)) names.insert(name);
    if (!names.count("kaas-cl-ghost-master-1")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(names.count("kaas-cl-ghost-master-1"));
  EXPECT_TRUE(names.count("someone-elses-vm"));
  EXPECT_TRUE(kaasd_->Call("GET", "/api/v1/inventory/orphans").body["domains"].empty());
  auto cluster =
      kaasd_->Call("GET", "/api/v1/clusters/" + c.body["cluster"]["id"].get<std::string>());
  EXPECT_EQ(cluster.body["status"], "running");
  EXPECT_EQ(cluster.body["nodes"].size(), 1u);
}

// A host allocated to a cluster that has no node on it (here: written into the database while
// kaasd was down) is reported; reaping never returns it to the pool unwiped: it goes to
// maintenance, and the next cluster cannot get it.
TEST_F(InventoryTest, OrphanHostsAreFoundAndGoToMaintenanceNotToTheNextTeam) {
  auto hosts = kaasd_->Call("GET", "/api/v1/hosts");
  ASSERT_EQ(hosts.status, 200);
  ASSERT_FALSE(hosts.body["items"].empty());
  std::string host = hosts.body["items"][0]["name"];
  ASSERT_EQ(kaasd_->Terminate(), 0);
  {
    auto db = store::Database::Open("sqlite://" + (kaasd_->data_dir() / "kaas.db").string(), 1);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_OK((*db)->Write([&](store::Tx& tx) {
      store::hosts::SetState(tx, host, "allocated", "cl-ghost");
      return Status::Ok();
    }));
  }
  kaasd_->SetArgs({});
  ASSERT_TRUE(kaasd_->Start());
  kaasd_->LoginAdmin();
  auto orphans = kaasd_->Call("GET", "/api/v1/inventory/orphans");
  ASSERT_EQ(orphans.status, 200) << orphans.raw;
  ASSERT_EQ(orphans.body["hosts"].size(), 1u) << orphans.raw;
  EXPECT_EQ(orphans.body["hosts"][0]["host"], host);
  EXPECT_EQ(orphans.body["hosts"][0]["cluster_id"], "cl-ghost");
  EXPECT_TRUE(orphans.body["domains"].empty());

  ASSERT_EQ(kaasd_->Terminate(), 0);
  kaasd_->SetArgs({"--reap-orphans", "true", "--reconcile-interval-seconds", "1"});
  ASSERT_TRUE(kaasd_->Start());
  kaasd_->LoginAdmin();
  std::string state;
  for (int i = 0; i < 100 && state != "maintenance"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto listed = kaasd_->Call("GET", "/api/v1/hosts");
    for (const auto& h : listed.body["items"]) {
      if (h["name"] == host) state = h["state"].get<std::string>();
    }
  }
  ASSERT_EQ(state, "maintenance") << "a reaped orphan host must not go back to the pool unwiped: "
                                  << kaasd_->Call("GET", "/api/v1/hosts").raw;
  EXPECT_TRUE(kaasd_->Call("GET", "/api/v1/inventory/orphans").body["hosts"].empty());
}

}  // namespace
}  // namespace kaas::testing
