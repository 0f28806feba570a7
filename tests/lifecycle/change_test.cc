// Changes to a running cluster (masters, workers, resizes, upgrades), and the crash matrix of every
// change at every step boundary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kaas/lifecycle/cluster_service.h"
#include "kaas/lifecycle/engine.h"
#include "kaas/lifecycle/faults.h"
#include "kaas/lifecycle/steps.h"
#include "kaas/pki/certificates.h"
#include "kaas/pki/secret_box.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/provisioner/hypervisor.h"
#include "kaas/provisioner/libvirt_fleet.h"
#include "kaas/provisioner/simulated_bootstrapper.h"
#include "kaas/quota/quota.h"
#include "kaas/store/database.h"
#include "kaas/store/repositories.h"
#include "kaas/templates/renderer.h"
#include "lifecycle_fakes.h"
#include "status_testing.h"

namespace kaas::lifecycle {
namespace {

using namespace test_support;  // NOLINT: the suites' shared fakes and checks

TEST(ClusterChangeTest, ScaleMastersOneThreeFiveThreeOne) {
  Env env(TestName());
  AddHypervisors(env, {"sim-4", "sim-5"});
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 2));
  ASSERT_FALSE(id.empty());
  ExpectConsistentCluster(env, id);
  ASSERT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1}));

  struct Step {
    int64_t count;
    std::set<std::string> masters;
  };
  for (const Step& s : std::vector<Step>{{3, Numbered("master-", {1, 2, 3})},
                                         {5, Numbered("master-", {1, 2, 3, 4, 5})},
                                         {3, Numbered("master-", {1, 2, 3})},
                                         {1, Numbered("master-", {1})}}) {
    SCOPED_TRACE("to " + std::to_string(s.count) + " masters");
    int64_t before = env.FindCluster(id)->master_count;
    auto changed = env.service().ScaleMasters(id, s.count, "alice", false);
    ASSERT_TRUE(changed.ok()) << changed.status().ToString();
    EXPECT_EQ(changed->operation.type, "scale_masters");
    EXPECT_EQ(changed->cluster.status, "updating");
    EXPECT_EQ(changed->operation.params, "{\"masters\":\"" + std::to_string(s.count) + "\"}");
    store::Operation op = env.WaitForOperation(changed->operation.id);
    ExpectAllSucceededOnce(op);
    // One member per step: as many learner adds / removals as masters added / removed.
    int64_t learners = 0, removals = 0;
    for (const auto& st : op.steps) {
      learners += st.kind == "etcd_add_learner";
      removals += st.kind == "etcd_remove";
    }
    EXPECT_EQ(learners, std::max<int64_t>(s.count - before, 0));
    EXPECT_EQ(removals, std::max<int64_t>(before - s.count, 0));
    ExpectConsistentCluster(env, id);
    auto nodes = env.LiveNodes(id);
    EXPECT_EQ(RoleNames(nodes, "master"), s.masters);
    EXPECT_EQ(RoleNames(nodes, "worker"), Numbered("worker-", {1, 2}));
    EXPECT_EQ(env.FindCluster(id)->master_count, s.count);
    EXPECT_EQ(env.FindCluster(id)->status_reason, "");
  }
  // Every member joined as a learner and was promoted once; every removed one left etcd once.
  auto jobs = JobTargets(env);
  for (const char* m : {"master-2", "master-3", "master-4", "master-5"}) {
    EXPECT_EQ((jobs[{"join-master.yml", m}]), 1) << m;
    EXPECT_EQ((jobs[{"promote-master.yml", m}]), 1) << m;
    EXPECT_EQ((jobs[{"remove-master.yml", m}]), 1) << m;
  }
  EXPECT_EQ((jobs[{"remove-master.yml", "master-1"}]), 0) << "the last member never leaves";
  for (const auto& [domain, n] : env.fleet().Defines()) EXPECT_EQ(n, 1) << domain;
}

TEST(ClusterChangeTest, ScaleMastersRefusesEvenOrUnchangedCountsAndDryRunChangesNothing) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 0));
  ASSERT_FALSE(id.empty());
  for (int64_t count : {0, 2, 4, 6, -1}) {
    auto r = env.service().ScaleMasters(id, count, "alice", false);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << count;
    EXPECT_EQ(r.status().field(), "count") << count;
  }
  auto same = env.service().ScaleMasters(id, 1, "alice", false);
  EXPECT_EQ(same.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(same.status().field(), "count");
  EXPECT_EQ(env.service().ScaleMasters("cl-nope", 3, "alice", false).status().code(),
            Code::kNotFound);

  auto dry = env.service().ScaleMasters(id, 3, "alice", /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_EQ(Kinds(dry->operation),
            (std::vector<std::string>{"provision_nodes", "health_gate", "etcd_add_learner",
                                      "etcd_promote", "health_gate", "etcd_add_learner",
                                      "etcd_promote", "verify"}));
  EXPECT_EQ(RoleNames(dry->nodes, "master"), Numbered("master-", {1, 2, 3}));
  std::set<std::string> hvs;
  for (const auto& n : dry->nodes) hvs.insert(n.hypervisor);
  EXPECT_EQ(hvs.size(), 3u) << "the planned masters are placed apart";
  EXPECT_EQ(env.LiveNodes(id).size(), 1u);
  EXPECT_EQ(OperationsOf(env, id).size(), 1u);
  EXPECT_EQ(env.FindCluster(id)->status, "running");
  ExpectConsistentCluster(env, id);
}

TEST(ClusterChangeTest, FiveMastersNeedFiveHypervisorsUnlessColocationIsAllowed) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("dev", 0));
  ASSERT_FALSE(id.empty());
  auto refused = env.service().ScaleMasters(id, 5, "alice", false);
  EXPECT_EQ(refused.status().code(), Code::kInsufficientCapacity);
  EXPECT_EQ(env.LiveNodes(id).size(), 3u);
  auto allowed = env.service().ScaleMasters(id, 5, "alice", false, /*allow_colocated=*/true);
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  ExpectAllSucceededOnce(env.WaitForOperation(allowed->operation.id));
  EXPECT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1, 2, 3, 4, 5}));
}

TEST(ClusterChangeTest, ScaleWorkersAcrossFiftyResizesMastersFirstAndBackAfterRemovingWorkers) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("dev", 3));
  ASSERT_FALSE(id.empty());

  auto up = env.service().ScaleWorkers(id, 51, "alice", false);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  store::Operation op = env.WaitForOperation(up->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_EQ(std::count_if(op.steps.begin(), op.steps.end(),
                          [](const store::Step& s) { return s.kind == "resize_node"; }),
            3);
  EXPECT_LT(LastIndexOf(op, "resize_node"), FirstIndexOf(op, "provision_nodes"))
      << "masters grow before the workers come";
  for (size_t i = 0; i < op.steps.size(); ++i) {
    if (op.steps[i].kind == "resize_node") {
      EXPECT_EQ(op.steps[i - 1].kind, "health_gate") << op.steps[i].name;
    }
  }
  ExpectConsistentCluster(env, id);
  auto c = env.FindCluster(id);
  EXPECT_EQ(c->master_flavor, "m.medium");
  EXPECT_EQ(c->worker_count, 51);
  for (const auto& n : env.LiveNodes(id)) {
    if (n.role != "master") continue;
    EXPECT_EQ(n.vcpus, 8) << n.name;
    EXPECT_EQ(n.memory_gib, 8) << n.name;
    EXPECT_EQ(env.fleet().Domain(DomainName(id, n.name))->vcpus, 8) << n.name;
    EXPECT_EQ(env.fleet().Resizes()[DomainName(id, n.name)], 1) << n.name;
  }
  EXPECT_EQ(RoleNames(env.LiveNodes(id), "worker"), NumberedRange("worker-", 1, 51));

  // Back to 50: the worker goes first (drained, then removed), then the masters shrink.
  auto down = env.service().ScaleWorkers(id, 50, "alice", false);
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  op = env.WaitForOperation(down->operation.id);
  ExpectAllSucceededOnce(op);
  ASSERT_LT(FirstIndexOf(op, "drain_nodes"), op.steps.size());
  EXPECT_EQ(op.steps[FirstIndexOf(op, "drain_nodes")].target, "worker-51");
  EXPECT_LT(FirstIndexOf(op, "drain_nodes"), FirstIndexOf(op, "destroy_nodes"));
  EXPECT_LT(FirstIndexOf(op, "destroy_nodes"), FirstIndexOf(op, "resize_node"))
      << "masters shrink after the workers left";
  ExpectConsistentCluster(env, id);
  c = env.FindCluster(id);
  EXPECT_EQ(c->master_flavor, "m.small");
  EXPECT_EQ(c->worker_count, 50);
  EXPECT_EQ(RoleNames(env.LiveNodes(id), "worker"), NumberedRange("worker-", 1, 50));
  for (const auto& n : env.LiveNodes(id)) {
    if (n.role != "master") continue;
    auto d = env.fleet().Domain(DomainName(id, n.name));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->vcpus, 4) << n.name;
    EXPECT_EQ(d->memory_gib, 4) << n.name;
    EXPECT_EQ(env.fleet().Resizes()[DomainName(id, n.name)], 2) << n.name;
  }
  EXPECT_EQ(env.bootstrapper().Runs("drain-node.yml"),
            (std::vector<std::pair<std::string, std::vector<std::string>>>{
                {"drain-node.yml", {"worker-51"}}}));

  // Within a band nothing happens to the masters.
  auto small = env.service().ScaleWorkers(id, 48, "alice", false);
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  op = env.WaitForOperation(small->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_EQ(Kinds(op), (std::vector<std::string>{"drain_nodes", "destroy_nodes", "verify"}));
  EXPECT_EQ(op.steps[0].target, "worker-50,worker-49");
  ExpectConsistentCluster(env, id);
  EXPECT_EQ(RoleNames(env.LiveNodes(id), "worker"), NumberedRange("worker-", 1, 48));
}

TEST(ClusterChangeTest, ScaleWorkersRefusesBadOrUnchangedCounts) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 2));
  ASSERT_FALSE(id.empty());
  for (int64_t count : {-1, 501, 2}) {
    auto r = env.service().ScaleWorkers(id, count, "alice", false);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << count;
    EXPECT_EQ(r.status().field(), "count") << count;
  }
  EXPECT_EQ(OperationsOf(env, id).size(), 1u);
}

TEST(ClusterChangeTest, ScaleWorkersAcrossHundredMovesMastersToPhysicalHostsOneAtATime) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("dev", 3, "w.small"));
  ASSERT_FALSE(id.empty());

  // Physical masters need physical hosts in the team's quota (the default allows none).
  SetQuotaAndHosts(env, {5, 1000, 4000, 0}, 3);
  auto refused = env.service().ScaleWorkers(id, 101, "alice", false);
  ASSERT_EQ(refused.status().code(), Code::kQuotaExceeded) << refused.status().ToString();
  ASSERT_EQ(refused.status().shortfalls().size(), 1u);
  EXPECT_EQ(refused.status().shortfalls()[0].resource, "physical_hosts");
  EXPECT_EQ(refused.status().shortfalls()[0].requested, 3);
  EXPECT_EQ(env.LiveNodes(id).size(), 6u) << "a refused change reserves nothing";
  ExpectConsistentCluster(env, id);

  SetQuotaAndHosts(env, {5, 1000, 4000, 3}, 3);
  auto up = env.service().ScaleWorkers(id, 101, "alice", false);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  store::Operation op = env.WaitForOperation(up->operation.id);
  ExpectAllSucceededOnce(op);
  // Each old master leaves etcd only after its physical replacement was promoted.
  std::vector<std::string> membership;
  for (const auto& s : op.steps) {
    if (s.kind == "etcd_promote" || s.kind == "etcd_remove") membership.push_back(s.name);
  }
  EXPECT_EQ(membership,
            (std::vector<std::string>{"promote master-4 to voter", "remove master-1 from etcd",
                                      "promote master-5 to voter", "remove master-2 from etcd",
                                      "promote master-6 to voter", "remove master-3 from etcd"}));
  EXPECT_LT(LastIndexOf(op, "destroy_nodes"), FirstIndexOf(op, "provision_nodes"))
      << "masters move before the workers come";

  ExpectConsistentCluster(env, id);
  auto c = env.FindCluster(id);
  EXPECT_EQ(c->master_flavor, "m.large");
  EXPECT_EQ(c->master_kind, "physical");
  EXPECT_EQ(c->worker_count, 101);
  auto nodes = env.LiveNodes(id);
  EXPECT_EQ(RoleNames(nodes, "master"), Numbered("master-", {4, 5, 6}));
  std::set<std::string> hosts;
  for (const auto& n : nodes) {
    if (n.role == "master") hosts.insert(n.host);
  }
  EXPECT_EQ(hosts, (std::set<std::string>{"host-1", "host-2", "host-3"}));
  for (const char* old : {"master-1", "master-2", "master-3"}) {
    EXPECT_FALSE(env.fleet().Domain(DomainName(id, old)).has_value()) << old << " still exists";
  }
  EXPECT_EQ(env.fleet().Domains().size(), 101u) << "only the workers are VMs now";
  quota::Usage used = env.Usage();
  EXPECT_EQ(used.physical_hosts, 3);
  EXPECT_EQ(used.vcpus, 101 * 2);
  EXPECT_EQ(used.memory_gib, 101 * 4);
}

TEST(ClusterChangeTest, ResizeMastersRollsOneAtATimeAndRefusesWhatThePolicyForbids) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(env.service().ResizeMasters(id, "m.huge", "alice", false).status().field(), "flavor");
  auto same = env.service().ResizeMasters(id, "m.small", "alice", false);
  EXPECT_EQ(same.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(same.status().field(), "flavor");

  auto resized = env.service().ResizeMasters(id, "m.medium", "alice", false);
  ASSERT_TRUE(resized.ok()) << resized.status().ToString();
  ASSERT_EQ(resized->operation.steps.size(), 3u);
  EXPECT_EQ(resized->operation.steps[1].name,
            "resize master-1 (single master: API briefly unavailable)");
  store::Operation op = env.WaitForOperation(resized->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_NE(op.steps[1].message.find("8 vCPU"), std::string::npos) << op.steps[1].message;
  ExpectConsistentCluster(env, id);
  EXPECT_EQ(env.FindCluster(id)->master_flavor, "m.medium");
  EXPECT_EQ(env.fleet().Domain(DomainName(id, "master-1"))->memory_gib, 8);
  EXPECT_EQ(env.Usage().vcpus, 8 + 4);

  // With 51 workers the policy needs m.medium at least.
  auto grown = env.service().ScaleWorkers(id, 51, "alice", false);
  ASSERT_TRUE(grown.ok()) << grown.status().ToString();
  ExpectAllSucceededOnce(env.WaitForOperation(grown->operation.id));
  auto below = env.service().ResizeMasters(id, "m.small", "alice", false);
  EXPECT_EQ(below.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(below.status().field(), "flavor");
}

TEST(ClusterChangeTest, UpgradeTakesAPatchThenTheNextMinorAndEveryNodeReportsItsVersion) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("dev", 5, "w.small", "1.36.1"));
  ASSERT_FALSE(id.empty());

  auto patch = env.service().Upgrade(id, "1.36.3", 2, "alice", false);
  ASSERT_TRUE(patch.ok()) << patch.status().ToString();
  EXPECT_EQ(patch->operation.type, "upgrade");
  store::Operation op = env.WaitForOperation(patch->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_EQ(env.FindCluster(id)->kubernetes_version, "1.36.3");
  for (const auto& n : env.LiveNodes(id)) EXPECT_EQ(n.kubernetes_version, "1.36.3") << n.name;
  ExpectConsistentCluster(env, id);
  // Masters one at a time (each behind a health gate), then workers two at a time.
  std::vector<std::vector<std::string>> batches;
  std::vector<std::string> widths;
  for (const auto& j : env.bootstrapper().Jobs()) {
    if (j.playbook != "upgrade-node.yml") continue;
    batches.push_back(j.targets);
    EXPECT_EQ(j.kubernetes_version, "1.36.3");
    widths.push_back(j.extra_vars.at("max_unavailable"));
  }
  EXPECT_EQ(batches, (std::vector<std::vector<std::string>>{{"master-1"},
                                                            {"master-2"},
                                                            {"master-3"},
                                                            {"worker-1", "worker-2"},
                                                            {"worker-3", "worker-4"},
                                                            {"worker-5"}}));
  EXPECT_EQ(widths, (std::vector<std::string>{"1", "1", "1", "2", "2", "1"}));
  EXPECT_EQ(Kinds(op),
            (std::vector<std::string>{
                "health_gate", "upgrade_nodes", "health_gate", "upgrade_nodes", "health_gate",
                "upgrade_nodes", "upgrade_nodes", "upgrade_nodes", "upgrade_nodes", "verify"}));

  auto minor = env.service().Upgrade(id, "1.37.2", 1, "alice", false);
  ASSERT_TRUE(minor.ok()) << minor.status().ToString();
  op = env.WaitForOperation(minor->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_EQ(std::count_if(op.steps.begin(), op.steps.end(),
                          [](const store::Step& s) { return s.kind == "upgrade_nodes"; }),
            8)
      << "one step per master and per worker";
  EXPECT_EQ(env.FindCluster(id)->kubernetes_version, "1.37.2");
  for (const auto& n : env.LiveNodes(id)) EXPECT_EQ(n.kubernetes_version, "1.37.2") << n.name;
  ExpectConsistentCluster(env, id);
}

TEST(ClusterChangeTest, UpgradeRefusesSkipsDowngradesSameAndUnsupportedVersions) {
  Env env(TestName());
  env.StartEngine();
  CreateClusterRequest old_r = Request("personal", 1, "w.small", "1.35.4");
  old_r.name = "old";
  CreateClusterRequest cur_r = Request("personal", 1, "w.small", "1.36.3");
  cur_r.name = "cur";
  const std::string old_id = CreateRunning(env, old_r);
  const std::string cur_id = CreateRunning(env, cur_r);
  ASSERT_FALSE(old_id.empty());
  ASSERT_FALSE(cur_id.empty());
  struct Case {
    std::string cluster, version, what;
  };
  for (const auto& c : std::vector<Case>{
           {old_id, "1.37.2", "skips a minor"},
           {cur_id, "1.35.4", "downgrades a minor"},
           {cur_id, "1.36.1", "downgrades a patch"},
           {cur_id, "1.36.3", "is the same version"},
           {cur_id, "1.31.0", "is not a supported version"},
           {cur_id, "1.38.0", "is not a supported version"},
           {cur_id, "latest", "is not a version"},
           {cur_id, "", "is empty"},
       }) {
    SCOPED_TRACE(c.version + " " + c.what);
    auto r = env.service().Upgrade(c.cluster, c.version, 1, "alice", false);
    EXPECT_EQ(r.status().code(), Code::kInvalidUpgrade) << r.status().ToString();
    EXPECT_EQ(r.status().field(), "kubernetes_version");
    EXPECT_NE(r.status().message().find(c.version), std::string::npos) << r.status().message();
    auto dry = env.service().Upgrade(c.cluster, c.version, 1, "alice", /*dry_run=*/true);
    EXPECT_EQ(dry.status().code(), Code::kInvalidUpgrade);
  }
  auto bad_width = env.service().Upgrade(cur_id, "1.37.2", 0, "alice", false);
  EXPECT_EQ(bad_width.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad_width.status().field(), "max_unavailable");
  for (const auto& id : {old_id, cur_id}) {
    EXPECT_EQ(OperationsOf(env, id).size(), 1u) << "a refused upgrade persists nothing";
    EXPECT_EQ(env.FindCluster(id)->status, "running");
  }
  // The old cluster may go one minor up.
  auto next = env.service().Upgrade(old_id, "1.36.1", 1, "alice", false);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  ExpectAllSucceededOnce(env.WaitForOperation(next->operation.id));
  EXPECT_EQ(env.FindCluster(old_id)->kubernetes_version, "1.36.1");
}

TEST(ClusterChangeTest, ASecondChangeWhileOneIsActiveIsRefused) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  env.StartEngine(Env::CrashBefore(1));  // the scale stays active
  auto first = env.service().ScaleWorkers(id, 2, "alice", false);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  env.WaitIdle();
  EXPECT_EQ(env.service().ScaleWorkers(id, 3, "alice", false).status().code(),
            Code::kOperationInProgress);
  EXPECT_EQ(env.service().ScaleMasters(id, 3, "alice", false).status().code(),
            Code::kOperationInProgress);
  EXPECT_EQ(env.service().Upgrade(id, "1.37.2", 1, "alice", false).status().code(),
            Code::kOperationInProgress);
  env.StartEngine();
  ExpectAllSucceededOnce(env.WaitForOperation(first->operation.id));
  ExpectConsistentCluster(env, id);
}

// ------------------------------------------------------------------ crash matrix of changes

struct ChangeCrashCase {
  std::string what;
  CreateClusterRequest create;
  std::vector<std::string> extra_hypervisors;
  std::function<Result<Admitted>(ClusterService&, const std::string&)> change;
  size_t steps;
  std::function<void(Env&, const std::string&)> expect;
};

// For every step boundary k of the change: a kaasd that dies right before step k, then a
// restarted one that resumes. The change converges, nothing is done twice, and the cluster
// rests exactly as planned.
void RunChangeCrashMatrix(const ChangeCrashCase& c) {
  for (size_t k = 0; k < c.steps; ++k) {
    SCOPED_TRACE(c.what + ": crash before step " + std::to_string(k));
    Env env(TestName() + "-" + std::to_string(k));
    AddHypervisors(env, c.extra_hypervisors);
    env.StartEngine();
    const std::string id = CreateRunning(env, c.create);
    ASSERT_FALSE(id.empty());
    const auto defines_before = env.fleet().Defines();

    env.StartEngine(Env::CrashBefore(static_cast<int64_t>(k)));
    auto changed = c.change(env.service(), id);
    ASSERT_TRUE(changed.ok()) << changed.status().ToString();
    ASSERT_EQ(changed->operation.steps.size(), c.steps);
    env.WaitIdle();
    auto abandoned = env.FindOperation(changed->operation.id);
    ASSERT_TRUE(abandoned.has_value());
    EXPECT_EQ(abandoned->state, "running");
    for (size_t i = 0; i < c.steps; ++i) {
      EXPECT_EQ(abandoned->steps[i].state, i < k ? "succeeded" : "pending") << "step " << i;
    }
    EXPECT_EQ(env.FindCluster(id)->status, "updating");

    env.StartEngine();
    store::Operation op = env.WaitForOperation(changed->operation.id);
    ExpectAllSucceededOnce(op);
    ExpectConsistentCluster(env, id);
    for (const auto& [domain, n] : env.fleet().Defines()) EXPECT_EQ(n, 1) << domain;
    for (const auto& [domain, n] : env.fleet().Ensures()) EXPECT_EQ(n, 1) << domain;
    for (const auto& [job, n] : JobTargets(env)) {
      EXPECT_EQ(n, 1) << job.first << " ran twice on " << job.second;
    }
    c.expect(env, id);
  }
}

TEST(ChangeCrashTest, ScaleMastersOneToThree) {
  RunChangeCrashMatrix(
      {"1 -> 3",
       Request("personal", 1),
       {},
       [](ClusterService& s, const std::string& id) {
         return s.ScaleMasters(id, 3, "alice", false);
       },
       8,
       [](Env& env, const std::string& id) {
         EXPECT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1, 2, 3}));
         EXPECT_EQ(RoleNames(env.LiveNodes(id), "worker"), Numbered("worker-", {1}));
       }});
}

TEST(ChangeCrashTest, ScaleMastersThreeToFive) {
  RunChangeCrashMatrix(
      {"3 -> 5",
       Request("dev", 1),
       {"sim-4", "sim-5"},
       [](ClusterService& s, const std::string& id) {
         return s.ScaleMasters(id, 5, "alice", false);
       },
       8,
       [](Env& env, const std::string& id) {
         EXPECT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1, 2, 3, 4, 5}));
       }});
}

TEST(ChangeCrashTest, ScaleMastersFiveToThree) {
  RunChangeCrashMatrix(
      {"5 -> 3",
       Request("prod", 1),
       {"sim-4", "sim-5"},
       [](ClusterService& s, const std::string& id) {
         return s.ScaleMasters(id, 3, "alice", false);
       },
       7,
       [](Env& env, const std::string& id) {
         EXPECT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1, 2, 3}));
         auto jobs = JobTargets(env);
         EXPECT_EQ((jobs[{"remove-master.yml", "master-5"}]), 1);
         EXPECT_EQ((jobs[{"remove-master.yml", "master-4"}]), 1);
       }});
}

TEST(ChangeCrashTest, ResizeMasters) {
  RunChangeCrashMatrix({"m.small -> m.medium",
                        Request("dev", 2),
                        {},
                        [](ClusterService& s, const std::string& id) {
                          return s.ResizeMasters(id, "m.medium", "alice", false);
                        },
                        7,
                        [](Env& env, const std::string& id) {
                          EXPECT_EQ(env.FindCluster(id)->master_flavor, "m.medium");
                          for (const auto& n : env.LiveNodes(id)) {
                            if (n.role != "master") continue;
                            EXPECT_EQ(n.vcpus, 8) << n.name;
                            EXPECT_EQ(env.fleet().Resizes()[DomainName(id, n.name)], 1) << n.name;
                          }
                          EXPECT_EQ(env.fleet().Resizes().size(), 3u)
                              << "only the masters were resized";
                        }});
}

TEST(ChangeCrashTest, Upgrade) {
  RunChangeCrashMatrix({"1.36.3 -> 1.37.2",
                        Request("dev", 3, "w.small", "1.36.3"),
                        {},
                        [](ClusterService& s, const std::string& id) {
                          return s.Upgrade(id, "1.37.2", 2, "alice", false);
                        },
                        9,
                        [](Env& env, const std::string& id) {
                          EXPECT_EQ(env.FindCluster(id)->kubernetes_version, "1.37.2");
                          for (const auto& n : env.LiveNodes(id)) {
                            EXPECT_EQ(n.kubernetes_version, "1.37.2") << n.name;
                          }
                          EXPECT_EQ(env.bootstrapper().Runs("upgrade-node.yml").size(), 5u);
                        }});
}

TEST(ChangeCrashTest, ScaleWorkersAcrossFifty) {
  RunChangeCrashMatrix({"workers 50 -> 51",
                        Request("dev", 50, "w.small"),
                        {},
                        [](ClusterService& s, const std::string& id) {
                          return s.ScaleWorkers(id, 51, "alice", false);
                        },
                        9,
                        [](Env& env, const std::string& id) {
                          EXPECT_EQ(env.FindCluster(id)->master_flavor, "m.medium");
                          EXPECT_EQ(RoleNames(env.LiveNodes(id), "worker"),
                                    NumberedRange("worker-", 1, 51));
                        }});
}

}  // namespace
}  // namespace kaas::lifecycle
