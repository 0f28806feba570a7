// Self-healing against the real kaasd (DESIGN.md §6.3): a node whose machine dies (a "node"
// crash fault powers its simulated domain off) is seen unhealthy and replaced by a repair
// operation; a 5-master cluster keeps etcd's quorum and its masters apart; auto_repair off and
// the storm guard leave the decision to a person; a kill -9 in the middle of a repair converges.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

using std::chrono::milliseconds;

class HealthTest : public ::testing::Test {
 protected:
  void StartKaasd(std::vector<std::string> extra = {}) {
    // kaasd's default datacenter: 6 simulated hypervisors (a prod cluster and a spare).
    std::vector<std::string> args = {"--fault-injection", "true", "--health-interval-s", "1",
                                     "--repair-grace-s",  "1",    "--sim-hypervisors",   "6"};
    args.insert(args.end(), extra.begin(), extra.end());
    if (!kaasd_) kaasd_ = std::make_unique<KaasdProcess>(args);
    kaasd_->SetArgs(args);
    ASSERT_TRUE(kaasd_->Start());
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
  }
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartKaasd());
    ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
  }

  // A running cluster of `purpose` with `workers` VM workers; its id.
  std::string Create(const std::string& name, const std::string& purpose, int workers) {
    auto r = kaasd_->Call("POST", "/api/v1/clusters",
                          Json{{"name", name},
                               {"team", "payments"},
                               {"purpose", purpose},
                               {"workers", {{"count", workers}}}}
                              .dump());
    EXPECT_EQ(r.status, 202) << r.raw;
    if (r.status != 202) return "";
    EXPECT_EQ(kaasd_->WaitOperation(r.body["operation"]["id"])["state"], "succeeded");
    return r.body["cluster"]["id"];
  }

  // The node's machine dies (the health monitor's next sweep powers its domain off).
  void Crash(const std::string& cluster_id, const std::vector<std::string>& nodes) {
    Json rules = Json::array();
    for (const auto& n : nodes) {
      rules.push_back({{"on", "node"}, {"match", cluster_id + "/" + n}, {"action", "crash"}});
    }
    auto r = kaasd_->Call("PUT", "/api/v1/faults", Json{{"rules", rules}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
  }

  Json Cluster(const std::string& id) { return kaasd_->Call("GET", "/api/v1/clusters/" + id).body; }
  static Json NodeOf(const Json& cluster, const std::string& name) {
    for (const auto& n : cluster["nodes"]) {
      if (n["name"] == name) return n;
    }
    return Json();
  }

  // Polls until `pred(cluster)` holds; the last cluster body either way.
  template <typename Pred>
  Json WaitCluster(const std::string& id, Pred pred, int timeout_ms = 30000) {
    Json c;
    auto deadline = std::chrono::steady_clock::now() + milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      c = Cluster(id);
      if (pred(c)) return c;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return c;
  }

  // The cluster's operations of type repair, newest first.
  std::vector<Json> Repairs(const std::string& id) {
    std::vector<Json> out;
    auto r = kaasd_->Call("GET", "/api/v1/clusters/" + id + "/operations");
    for (const auto& op : r.body["items"]) {
      if (op["type"] == "repair") out.push_back(op);
    }
    return out;
  }
  Json WaitRepair(const std::string& id, int timeout_ms = 30000) {
    auto deadline = std::chrono::steady_clock::now() + milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      auto repairs = Repairs(id);
      if (!repairs.empty()) return repairs.front();
      std::this_thread::sleep_for(milliseconds(100));
    }
    return Json();
  }

  // Every domain of the cluster on the simulated hypervisors: name -> running.
  std::map<std::string, bool> Domains(const std::string& cluster_id) {
    std::map<std::string, bool> out;
    for (const auto& f : std::filesystem::directory_iterator(kaasd_->data_dir() / "sim")) {
      if (f.path().extension() != ".xml") continue;
      for (const auto& [name, running] : SimDomains(f.path())) {
        if (name.find(cluster_id) != std::string::npos) out[name] = running;
      }
    }
    return out;
  }

  // The kinds of data.event of the cluster's `node` events.
  std::vector<std::string> NodeEvents(const std::string& id) {
    std::vector<std::string> out;
    auto r = kaasd_->Call("GET", "/api/v1/clusters/" + id + "/events?follow=false");
    std::string kind;
    for (const auto& line : Split(r.raw)) {
      if (line.rfind("event: ", 0) == 0) kind = line.substr(7);
      if (line.rfind("data: ", 0) != 0 || kind != "node") continue;
      auto e = Json::parse(line.substr(6), nullptr, false);
      if (e.is_object()) out.push_back(e.value("event", "") + " " + e.value("node", ""));
    }
    return out;
  }
  static std::vector<std::string> Split(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i) {
      if (i == s.size() || s[i] == '\n') {
        out.push_back(s.substr(start, i - start));
        start = i + 1;
      }
    }
    return out;
  }

  // The end of kaasd's log, for failure messages.
  std::string LogTail() {
    std::ifstream in(kaasd_->data_dir() / "kaasd.log");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string all = ss.str();
    return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
  }

  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(HealthTest, DeadWorkerIsSeenUnhealthyThenReplacedByARepairOperation) {
  std::string id = Create("heal-worker", "dev", 2);
  ASSERT_FALSE(id.empty());
  auto healthy = WaitCluster(id, [](const Json& c) {
    for (const auto& n : c["nodes"]) {
      if (n["health"] != "healthy") return false;
    }
    return true;
  });
  ASSERT_EQ(NodeOf(healthy, "worker-1")["health"], "healthy") << healthy.dump(2);
  EXPECT_TRUE(NodeOf(healthy, "worker-1")["unhealthy_since"].is_null());
  EXPECT_EQ(healthy["auto_repair"], true);

  ASSERT_NO_FATAL_FAILURE(Crash(id, {"worker-1"}));
  auto seen =
      WaitCluster(id, [](const Json& c) { return NodeOf(c, "worker-1")["health"] == "unhealthy"; });
  Json w1 = NodeOf(seen, "worker-1");
  ASSERT_EQ(w1["health"], "unhealthy") << seen.dump(2);
  EXPECT_NE(w1["health_reason"].get<std::string>().find("not running"), std::string::npos) << w1;
  EXPECT_TRUE(w1["unhealthy_since"].is_string()) << w1;

  Json repair = WaitRepair(id);
  ASSERT_TRUE(repair.is_object()) << "no repair operation was started\n" << LogTail();
  EXPECT_EQ(repair["requested_by"], "kaas-health-monitor");
  Json done = kaasd_->WaitOperation(repair["id"]);
  ASSERT_EQ(done["state"], "succeeded") << done.dump(2);
  std::vector<std::string> steps;
  for (const auto& s : done["steps"]) steps.push_back(s["name"]);
  EXPECT_EQ(steps, (std::vector<std::string>{"provision worker-3", "join workers", "drain worker-1",
                                             "remove worker-1", "verify cluster"}));

  Json after = Cluster(id);
  EXPECT_TRUE(NodeOf(after, "worker-1").is_null()) << after.dump(2);
  EXPECT_EQ(NodeOf(after, "worker-3")["state"], "ready") << after.dump(2);
  EXPECT_EQ(after["workers"]["count"], 2);
  EXPECT_EQ(after["status"], "running");
  // In libvirt: the dead machine is gone, the new one runs, nothing else changed.
  auto domains = Domains(id);
  EXPECT_EQ(domains.size(), 5u);
  for (const auto& [name, running] : domains) {
    EXPECT_TRUE(running) << name;
    EXPECT_EQ(name.find("worker-1"), std::string::npos) << name;
  }
  auto events = NodeEvents(id);
  EXPECT_NE(std::find(events.begin(), events.end(), "node.unhealthy worker-1"), events.end());
  EXPECT_NE(std::find(events.begin(), events.end(), "node.repaired worker-1"), events.end());
  // What an on-call engineer's Prometheus sees.
  auto metrics = kaasd_->Call("GET", "/metrics").raw;
  EXPECT_NE(metrics.find("kaas_repairs_started_total{role=\"worker\"} 1"), std::string::npos)
      << metrics.substr(0, 2000);
  EXPECT_NE(metrics.find("kaas_health_sweep_duration_seconds_count"), std::string::npos);
  auto swept =
      WaitCluster(id, [](const Json& c) { return NodeOf(c, "worker-3")["health"] == "healthy"; });
  EXPECT_EQ(NodeOf(swept, "worker-3")["health"], "healthy") << "the new worker was never swept";
}

TEST_F(HealthTest, DeadMasterOfAFiveMasterClusterIsReplacedWithQuorumKeptAndMastersApart) {
  std::string id = Create("heal-master", "prod", 1);
  ASSERT_FALSE(id.empty());
  Json before = Cluster(id);
  std::string dead_hv = NodeOf(before, "master-2")["hypervisor"];
  ASSERT_NO_FATAL_FAILURE(Crash(id, {"master-2"}));
  Json repair = WaitRepair(id);
  ASSERT_TRUE(repair.is_object()) << "no repair operation was started\n" << LogTail();
  Json done = kaasd_->WaitOperation(repair["id"]);
  ASSERT_EQ(done["state"], "succeeded") << done.dump(2);
  // The dead member leaves etcd before anything else: the other four keep the quorum, and a
  // health gate could not pass with it listed. Then the new one joins as a learner.
  std::vector<std::string> steps;
  for (const auto& s : done["steps"]) steps.push_back(s["name"]);
  ASSERT_GE(steps.size(), 5u);
  EXPECT_EQ(steps[0], "remove master-2 from etcd (its machine is down)");
  EXPECT_EQ(steps[1], "destroy master-2");
  EXPECT_EQ(steps[2], "provision master-6");
  EXPECT_NE(std::find(steps.begin(), steps.end(), "add master-6 to etcd as learner"), steps.end());
  EXPECT_NE(std::find(steps.begin(), steps.end(), "promote master-6 to voter"), steps.end());

  Json after = Cluster(id);
  std::set<std::string> hypervisors;
  int masters = 0;
  for (const auto& n : after["nodes"]) {
    if (n["role"] != "master") continue;
    ++masters;
    EXPECT_EQ(n["state"], "ready") << n;
    hypervisors.insert(n["hypervisor"].get<std::string>());
  }
  EXPECT_EQ(masters, 5);
  EXPECT_EQ(hypervisors.size(), 5u) << "masters share a hypervisor: " << after.dump(2);
  EXPECT_TRUE(NodeOf(after, "master-2").is_null());
  EXPECT_NE(NodeOf(after, "master-6")["hypervisor"], dead_hv)
      << "the replacement went back to the dead master's hypervisor, although a spare was free";
}

TEST_F(HealthTest, AutoRepairOffLeavesTheNodeUnhealthyWithAReasonUntilAPersonRepairsIt) {
  std::string id = Create("manual", "dev", 1);
  ASSERT_FALSE(id.empty());
  // A patch with one bad field changes nothing, not even its good one.
  auto bad = kaasd_->Call("PATCH", "/api/v1/clusters/" + id,
                          R"({"auto_repair":false,"labels":{"env":"not valid!"}})");
  EXPECT_EQ(bad.status, 400) << bad.raw;
  EXPECT_EQ(Cluster(id)["auto_repair"], true);
  auto off = kaasd_->Call("PATCH", "/api/v1/clusters/" + id, R"({"auto_repair":false})");
  ASSERT_EQ(off.status, 200) << off.raw;
  EXPECT_EQ(off.body["auto_repair"], false);
  EXPECT_EQ(kaasd_->Call("PATCH", "/api/v1/clusters/" + id, R"({"auto_repair":"no"})").status, 400);

  ASSERT_NO_FATAL_FAILURE(Crash(id, {"worker-1"}));
  auto seen =
      WaitCluster(id, [](const Json& c) { return NodeOf(c, "worker-1")["health"] == "unhealthy"; });
  ASSERT_EQ(NodeOf(seen, "worker-1")["health"], "unhealthy") << seen.dump(2);
  EXPECT_FALSE(NodeOf(seen, "worker-1")["health_reason"].get<std::string>().empty());
  // Several sweeps and grace periods later, still nothing repaired it.
  std::this_thread::sleep_for(milliseconds(4000));
  EXPECT_TRUE(Repairs(id).empty());
  EXPECT_EQ(NodeOf(Cluster(id), "worker-1")["health"], "unhealthy");

  // A person does: the plan first, then the repair.
  auto plan =
      kaasd_->Call("POST", "/api/v1/clusters/" + id + "/nodes/worker-1/repair?dry_run=true", "");
  ASSERT_EQ(plan.status, 200) << plan.raw;
  EXPECT_EQ(plan.body["operation"]["type"], "repair");
  EXPECT_TRUE(Repairs(id).empty()) << "a dry run started an operation";
  EXPECT_EQ(kaasd_->Call("POST", "/api/v1/clusters/" + id + "/nodes/worker-9/repair", "").status,
            404);
  auto started = kaasd_->Call("POST", "/api/v1/clusters/" + id + "/nodes/worker-1/repair", "");
  ASSERT_EQ(started.status, 202) << started.raw;
  EXPECT_EQ(started.body["operation"]["requested_by"], "admin");
  EXPECT_EQ(kaasd_->WaitOperation(started.body["operation"]["id"])["state"], "succeeded");
  EXPECT_TRUE(NodeOf(Cluster(id), "worker-1").is_null());
}

TEST_F(HealthTest, TheOnlyMasterIsNotRepairedAndAStormOfDeadWorkersIsAnIncident) {
  std::string solo = Create("solo", "personal", 0);
  ASSERT_FALSE(solo.empty());
  auto refused = kaasd_->Call("POST", "/api/v1/clusters/" + solo + "/nodes/master-1/repair", "");
  EXPECT_EQ(refused.status, 409) << refused.raw;
  EXPECT_NE(refused.raw.find("only master"), std::string::npos) << refused.raw;

  std::string id = Create("storm", "dev", 4);
  ASSERT_FALSE(id.empty());
  ASSERT_NO_FATAL_FAILURE(Crash(id, {"worker-1", "worker-2"}));
  auto incident = WaitCluster(id, [](const Json& c) {
    return c["status_reason"].get<std::string>().find("automatic repair paused") !=
           std::string::npos;
  });
  EXPECT_NE(incident["status_reason"].get<std::string>().find("2 of 4 workers are down"),
            std::string::npos)
      << incident.dump(2);
  std::this_thread::sleep_for(milliseconds(3000));
  EXPECT_TRUE(Repairs(id).empty()) << "half the workers were replaced automatically";
}

TEST_F(HealthTest, KillNineInTheMiddleOfARepairConverges) {
  std::string id = Create("crashy-heal", "dev", 2);
  ASSERT_FALSE(id.empty());
  // Slow simulated calls from now on, so that the repair is still running at the kill.
  kaasd_->Terminate();
  ASSERT_NO_FATAL_FAILURE(StartKaasd({"--sim-delay-ms", "400"}));
  ASSERT_NO_FATAL_FAILURE(Crash(id, {"worker-2"}));
  Json repair = WaitRepair(id);
  ASSERT_TRUE(repair.is_object()) << "no repair operation was started\n" << LogTail();
  for (int i = 0; i < 200; ++i) {
    auto op = kaasd_->Call("GET", "/api/v1/operations/" + repair["id"].get<std::string>()).body;
    size_t n = 0;
    for (const auto& s : op["steps"]) n += s["state"] == "succeeded";
    if (n >= 1) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(kaasd_->Kill());
  ASSERT_NO_FATAL_FAILURE(StartKaasd());
  Json done = kaasd_->WaitOperation(repair["id"], 60000);
  ASSERT_EQ(done["state"], "succeeded") << done.dump(2);
  Json after = Cluster(id);
  EXPECT_TRUE(NodeOf(after, "worker-2").is_null()) << after.dump(2);
  EXPECT_EQ(NodeOf(after, "worker-3")["state"], "ready");
  auto domains = Domains(id);
  EXPECT_EQ(domains.size(), 5u);  // 3 masters, worker-1, worker-3: nothing doubled or orphaned
  for (const auto& [name, running] : domains) EXPECT_TRUE(running) << name;
  EXPECT_TRUE(Repairs(id).size() == 1) << "a second repair was started";
}

}  // namespace
}  // namespace kaas::testing
