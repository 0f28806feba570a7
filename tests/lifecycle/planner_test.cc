#include "kaas/lifecycle/planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kaas/lifecycle/catalog.h"

namespace kaas::lifecycle {
namespace {

CreateClusterRequest ValidRequest() {
  CreateClusterRequest r;
  r.name = "billing-dev";
  r.team = "payments";
  r.purpose = "dev";
  r.worker_count = 3;
  r.worker_kind = "vm";
  r.worker_flavor = "w.medium";
  return r;
}

ClusterDraft MustDraft(const CreateClusterRequest& r) {
  auto d = Draft(r, "tm-1", "alice", 1000);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? std::move(d).value() : ClusterDraft{};
}

std::vector<store::Node*> Pointers(std::vector<store::Node>& nodes) {
  std::vector<store::Node*> out;
  for (auto& n : nodes) out.push_back(&n);
  return out;
}

// ---------------------------------------------------------------- Validate

TEST(ClusterPlannerTest, ValidRequestPasses) {
  EXPECT_TRUE(Validate(ValidRequest()).ok());
  CreateClusterRequest r = ValidRequest();
  r.name = std::string(40, 'a');  // exactly the limit
  EXPECT_TRUE(Validate(r).ok());
  r.name = "a";
  EXPECT_TRUE(Validate(r).ok());
  r.name = "team-7-cluster";
  r.kubernetes_version = "1.35.4";
  r.worker_count = 0;
  r.worker_flavor = "";
  EXPECT_TRUE(Validate(r).ok());
}

TEST(ClusterPlannerTest, EachInvalidFieldIsNamed) {
  struct Case {
    std::string what;
    std::function<void(CreateClusterRequest&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"empty name", [](auto& r) { r.name = ""; }, "name"},
      {"41-char name", [](auto& r) { r.name = std::string(41, 'a'); }, "name"},
      {"uppercase", [](auto& r) { r.name = "Billing"; }, "name"},
      {"leading dash", [](auto& r) { r.name = "-billing"; }, "name"},
      {"trailing dash", [](auto& r) { r.name = "billing-"; }, "name"},
      {"underscore", [](auto& r) { r.name = "billing_dev"; }, "name"},
      {"dot", [](auto& r) { r.name = "billing.dev"; }, "name"},
      {"no team", [](auto& r) { r.team = ""; }, "team"},
      {"unknown purpose", [](auto& r) { r.purpose = "staging"; }, "purpose"},
      {"even masters", [](auto& r) { r.master_count = 2; }, "masters.count"},
      {"unsupported version", [](auto& r) { r.kubernetes_version = "1.27.0"; },
       "kubernetes_version"},
      {"garbage version", [](auto& r) { r.kubernetes_version = "latest"; }, "kubernetes_version"},
      {"bad worker kind", [](auto& r) { r.worker_kind = "container"; }, "workers.kind"},
      {"bad flavor", [](auto& r) { r.worker_flavor = "w.huge"; }, "workers.flavor"},
      {"501 workers", [](auto& r) { r.worker_count = 501; }, "workers.count"},
      {"negative workers", [](auto& r) { r.worker_count = -1; }, "workers.count"},
  };
  for (const auto& c : cases) {
    CreateClusterRequest r = ValidRequest();
    c.mutate(r);
    Status st = Validate(r);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << c.what;
    EXPECT_EQ(st.field(), c.field) << c.what;
    EXPECT_FALSE(st.message().empty()) << c.what;
    // Draft refuses the same request the same way: nothing is planned from a bad request.
    auto d = Draft(r, "tm-1", "alice", 1);
    EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << c.what;
    EXPECT_EQ(d.status().field(), c.field) << c.what;
  }
}

// ---------------------------------------------------------------- Draft

TEST(ClusterPlannerTest, ThreeMastersWhenPurposeIsDev) {
  ClusterDraft d = MustDraft(ValidRequest());
  EXPECT_EQ(d.cluster.master_count, 3);
  ASSERT_EQ(d.nodes.size(), 6u);
  std::vector<std::string> names;
  for (const auto& n : d.nodes) names.push_back(n.name);
  EXPECT_EQ(names, (std::vector<std::string>{"master-1", "master-2", "master-3", "worker-1",
                                             "worker-2", "worker-3"}));
}

TEST(ClusterPlannerTest, DraftDescribesTheClusterAsRequested) {
  ClusterDraft d = MustDraft(ValidRequest());
  const store::Cluster& c = d.cluster;
  EXPECT_FALSE(c.id.empty());
  EXPECT_EQ(c.team_id, "tm-1");
  EXPECT_EQ(c.name, "billing-dev");
  EXPECT_EQ(c.purpose, "dev");
  EXPECT_EQ(c.status, "provisioning");
  EXPECT_EQ(c.kubernetes_version, DefaultVersion());
  EXPECT_EQ(c.master_flavor, "m.small");
  EXPECT_EQ(c.master_kind, "vm");
  EXPECT_EQ(c.worker_count, 3);
  EXPECT_EQ(c.worker_kind, "vm");
  EXPECT_EQ(c.worker_flavor, "w.medium");
  EXPECT_EQ(c.created_by, "alice");
  EXPECT_EQ(c.created_at, 1000);

  std::set<std::string> ids;
  for (const auto& n : d.nodes) {
    ids.insert(n.id);
    EXPECT_EQ(n.cluster_id, c.id) << n.name;
    EXPECT_EQ(n.state, "reserved") << n.name;
    EXPECT_EQ(n.kind, "vm") << n.name;
    EXPECT_EQ(n.kubernetes_version, DefaultVersion()) << n.name;
    EXPECT_TRUE(n.hypervisor.empty()) << n.name << ": placement is not the draft's job";
    if (n.role == "master") {
      EXPECT_EQ(n.flavor, "m.small") << n.name;
      EXPECT_EQ(n.vcpus, 4) << n.name;
      EXPECT_EQ(n.memory_gib, 4) << n.name;
    } else {
      EXPECT_EQ(n.role, "worker") << n.name;
      EXPECT_EQ(n.flavor, "w.medium") << n.name;
      EXPECT_EQ(n.vcpus, 4) << n.name;
      EXPECT_EQ(n.memory_gib, 8) << n.name;
    }
  }
  EXPECT_EQ(ids.size(), d.nodes.size()) << "node ids must be unique";
}

TEST(ClusterPlannerTest, DraftUsesDefaultWorkerFlavorAndRequestedVersion) {
  CreateClusterRequest r = ValidRequest();
  r.worker_flavor = "";
  r.kubernetes_version = "1.35.4";
  ClusterDraft d = MustDraft(r);
  EXPECT_EQ(d.cluster.kubernetes_version, "1.35.4");
  EXPECT_EQ(d.cluster.worker_flavor, kDefaultWorkerFlavor);
  for (const auto& n : d.nodes) {
    EXPECT_EQ(n.kubernetes_version, "1.35.4");
    if (n.role == "worker") EXPECT_EQ(n.flavor, kDefaultWorkerFlavor);
  }
}

TEST(ClusterPlannerTest, MastersFollowTheSizingPolicyOfTheWorkerCount) {
  CreateClusterRequest r = ValidRequest();
  r.purpose = "prod";
  r.worker_count = 101;
  ClusterDraft d = MustDraft(r);
  EXPECT_EQ(d.cluster.master_count, 5);
  EXPECT_EQ(d.cluster.master_flavor, "m.large");
  EXPECT_EQ(d.cluster.master_kind, "physical");
  ASSERT_EQ(d.nodes.size(), 106u);
  EXPECT_EQ(d.nodes[4].name, "master-5");
  EXPECT_EQ(d.nodes[4].kind, "physical");
  EXPECT_EQ(d.nodes[105].name, "worker-101");
  EXPECT_EQ(d.nodes[105].kind, "vm");
}

TEST(ClusterPlannerTest, OneMasterWhenPurposeIsPersonalAndExplicitCountWins) {
  CreateClusterRequest r = ValidRequest();
  r.purpose = "personal";
  r.worker_count = 0;
  ClusterDraft d = MustDraft(r);
  ASSERT_EQ(d.nodes.size(), 1u);
  EXPECT_EQ(d.nodes[0].name, "master-1");

  r.master_count = 5;
  d = MustDraft(r);
  EXPECT_EQ(d.cluster.master_count, 5);
  EXPECT_EQ(d.nodes.size(), 5u);
}

TEST(ClusterPlannerTest, PhysicalWorkersHaveNoFlavorUntilAHostIsAllocated) {
  CreateClusterRequest r = ValidRequest();
  r.worker_kind = "physical";
  r.worker_count = 2;
  ClusterDraft d = MustDraft(r);
  EXPECT_EQ(d.cluster.worker_kind, "physical");
  EXPECT_EQ(d.cluster.worker_flavor, "");
  int physical = 0;
  for (const auto& n : d.nodes) {
    if (n.role != "worker") continue;
    ++physical;
    EXPECT_EQ(n.kind, "physical");
    EXPECT_EQ(n.flavor, "");
    EXPECT_EQ(n.vcpus, 0);
  }
  EXPECT_EQ(physical, 2);
}

// ---------------------------------------------------------------- PlaceVms

TEST(ClusterPlannerTest, ThreeMastersLandOnThreeDistinctHypervisors) {
  ClusterDraft d = MustDraft(ValidRequest());
  std::vector<HypervisorRoom> rooms = {
      {"sim-1", 128, 512}, {"sim-2", 128, 512}, {"sim-3", 128, 512}};
  ASSERT_TRUE(PlaceVms(rooms, Pointers(d.nodes)).ok());
  std::set<std::string> master_hosts;
  for (const auto& n : d.nodes) {
    EXPECT_FALSE(n.hypervisor.empty()) << n.name;
    if (n.role == "master") master_hosts.insert(n.hypervisor);
  }
  EXPECT_EQ(master_hosts.size(), 3u);
}

TEST(ClusterPlannerTest, MastersPreferTheHypervisorsWithMostRoom) {
  CreateClusterRequest r = ValidRequest();
  r.worker_count = 0;
  ClusterDraft d = MustDraft(r);
  std::vector<HypervisorRoom> rooms = {
      {"busy", 8, 512}, {"sim-1", 100, 512}, {"sim-2", 64, 512}, {"sim-3", 90, 512}};
  ASSERT_TRUE(PlaceVms(rooms, Pointers(d.nodes)).ok());
  std::set<std::string> used;
  for (const auto& n : d.nodes) used.insert(n.hypervisor);
  EXPECT_EQ(used, (std::set<std::string>{"sim-1", "sim-2", "sim-3"}));
}

TEST(ClusterPlannerTest, ThreeMastersWithOnlyTwoHypervisorsIsInsufficientCapacity) {
  CreateClusterRequest r = ValidRequest();
  r.worker_count = 0;
  ClusterDraft d = MustDraft(r);
  // Plenty of room, but only two places: the masters cannot be kept apart.
  std::vector<HypervisorRoom> rooms = {{"sim-1", 128, 512}, {"sim-2", 128, 512}};
  Status st = PlaceVms(rooms, Pointers(d.nodes));
  EXPECT_EQ(st.code(), Code::kInsufficientCapacity);
  EXPECT_NE(st.message().find("master-3"), std::string::npos) << st.message();
  ASSERT_EQ(st.shortfalls().size(), 1u);
  EXPECT_EQ(st.shortfalls()[0].resource, "hypervisors");
  EXPECT_EQ(st.shortfalls()[0].requested, 3);
}

TEST(ClusterPlannerTest, ColocatedMastersWhenAllowedStillSpreadAsFarAsPossible) {
  CreateClusterRequest r = ValidRequest();
  r.purpose = "prod";
  r.worker_count = 0;
  ClusterDraft d = MustDraft(r);  // 5 masters
  std::vector<HypervisorRoom> rooms = {{"sim-1", 128, 512}, {"sim-2", 128, 512}};
  ASSERT_EQ(PlaceVms(rooms, Pointers(d.nodes)).code(), Code::kInsufficientCapacity);
  for (auto& n : d.nodes) n.hypervisor.clear();
  Status st = PlaceVms(rooms, Pointers(d.nodes), /*allow_colocated_masters=*/true);
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::map<std::string, int> masters_on;
  for (const auto& n : d.nodes) masters_on[n.hypervisor]++;
  EXPECT_EQ(masters_on, (std::map<std::string, int>{{"sim-1", 3}, {"sim-2", 2}}));
}

TEST(ClusterPlannerTest, ColocatedMastersStillNeedRoom) {
  CreateClusterRequest r = ValidRequest();
  r.worker_count = 0;
  ClusterDraft d = MustDraft(r);  // 3 × 4 vCPU masters
  std::vector<HypervisorRoom> rooms = {{"sim-1", 8, 512}};
  Status st = PlaceVms(rooms, Pointers(d.nodes), /*allow_colocated_masters=*/true);
  EXPECT_EQ(st.code(), Code::kInsufficientCapacity);
}

TEST(ClusterPlannerTest, MasterSkipsAHypervisorWithoutEnoughMemory) {
  CreateClusterRequest r = ValidRequest();
  r.purpose = "personal";
  r.worker_count = 0;
  ClusterDraft d = MustDraft(r);
  std::vector<HypervisorRoom> rooms = {{"cpu-rich", 128, 2}, {"sim-2", 8, 64}};
  ASSERT_TRUE(PlaceVms(rooms, Pointers(d.nodes)).ok());
  EXPECT_EQ(d.nodes[0].hypervisor, "sim-2");
}

TEST(ClusterPlannerTest, WorkersAreSpreadAcrossHypervisors) {
  CreateClusterRequest r = ValidRequest();
  r.worker_count = 9;
  ClusterDraft d = MustDraft(r);
  std::vector<HypervisorRoom> rooms = {
      {"sim-1", 128, 512}, {"sim-2", 128, 512}, {"sim-3", 128, 512}};
  ASSERT_TRUE(PlaceVms(rooms, Pointers(d.nodes)).ok());
  std::map<std::string, int> workers_on;
  for (const auto& n : d.nodes) {
    if (n.role == "worker") workers_on[n.hypervisor]++;
  }
  EXPECT_EQ(workers_on, (std::map<std::string, int>{{"sim-1", 3}, {"sim-2", 3}, {"sim-3", 3}}));
}

TEST(ClusterPlannerTest, ExhaustedCapacityIsInsufficientCapacity) {
  ClusterDraft d = MustDraft(ValidRequest());  // 3 × (4 vCPU) masters + 3 × (4 vCPU) workers
  // Room for the masters and two workers in total: the third worker does not fit.
  std::vector<HypervisorRoom> rooms = {{"sim-1", 8, 512}, {"sim-2", 8, 512}, {"sim-3", 4, 512}};
  Status st = PlaceVms(rooms, Pointers(d.nodes));
  EXPECT_EQ(st.code(), Code::kInsufficientCapacity);
  EXPECT_NE(st.message().find("worker-3"), std::string::npos) << st.message();
  ASSERT_EQ(st.shortfalls().size(), 1u);
  EXPECT_EQ(st.shortfalls()[0].resource, "vcpus");
  EXPECT_EQ(st.shortfalls()[0].requested, 4);
}

TEST(ClusterPlannerTest, WorkerGoesWhereItFitsWhenTheHypervisorWithMostCpuLacksMemory) {
  CreateClusterRequest r = ValidRequest();
  r.purpose = "personal";
  r.worker_count = 1;
  ClusterDraft d = MustDraft(r);  // master 4 vCPU/4 GiB, worker 4 vCPU/8 GiB
  std::vector<HypervisorRoom> rooms = {{"cpu-rich", 100, 6}, {"sim-2", 50, 500}};
  Status st = PlaceVms(rooms, Pointers(d.nodes));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(d.nodes[1].name, "worker-1");
  EXPECT_EQ(d.nodes[1].hypervisor, "sim-2");
}

TEST(ClusterPlannerTest, ShortfallNamesMemoryWhenMemoryIsWhatIsMissing) {
  CreateClusterRequest r = ValidRequest();
  r.purpose = "personal";
  r.worker_count = 1;
  ClusterDraft d = MustDraft(r);
  std::vector<HypervisorRoom> rooms = {{"sim-1", 100, 6}, {"sim-2", 100, 6}};
  Status st = PlaceVms(rooms, Pointers(d.nodes));
  EXPECT_EQ(st.code(), Code::kInsufficientCapacity);
  ASSERT_EQ(st.shortfalls().size(), 1u);
  EXPECT_EQ(st.shortfalls()[0].resource, "memory_gib");
  EXPECT_EQ(st.shortfalls()[0].requested, 8);
}

TEST(ClusterPlannerTest, NoHypervisorsIsInsufficientCapacity) {
  ClusterDraft d = MustDraft(ValidRequest());
  EXPECT_EQ(PlaceVms({}, Pointers(d.nodes)).code(), Code::kInsufficientCapacity);
}

// ---------------------------------------------------------------- PlanCreate / PlanDelete

struct PlannedStep {
  std::string kind;
  std::string target;
  std::string name;
  bool operator==(const PlannedStep&) const = default;
};

std::ostream& operator<<(std::ostream& os, const PlannedStep& s) {
  return os << "{" << s.kind << ", " << s.target << ", " << s.name << "}";
}

std::vector<PlannedStep> Summarize(const std::vector<store::Step>& steps) {
  std::vector<PlannedStep> out;
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].index, static_cast<int64_t>(i)) << steps[i].name;
    EXPECT_EQ(steps[i].state, "pending") << steps[i].name;
    EXPECT_EQ(steps[i].attempts, 0) << steps[i].name;
    out.push_back({steps[i].kind, steps[i].target, steps[i].name});
  }
  return out;
}

std::vector<store::Step> PlanFor(int64_t masters, int64_t workers) {
  CreateClusterRequest r = ValidRequest();
  r.master_count = masters;
  r.worker_count = workers;
  ClusterDraft d = MustDraft(r);
  return PlanCreate(d.cluster, d.nodes);
}

TEST(ClusterPlannerTest, CreatePlanForOneMasterWithoutWorkers) {
  EXPECT_EQ(Summarize(PlanFor(1, 0)),
            (std::vector<PlannedStep>{
                {"reserve", "", "reserve quota and placement"},
                {"issue_pki", "", "issue PKI"},
                {"provision_nodes", "master", "provision masters"},
                {"bootstrap_first_master", "master-1", "bootstrap master-1"},
                {"verify", "", "verify cluster"},
            }));
}

TEST(ClusterPlannerTest, CreatePlanForOneMasterWithWorkers) {
  EXPECT_EQ(Summarize(PlanFor(1, 2)),
            (std::vector<PlannedStep>{
                {"reserve", "", "reserve quota and placement"},
                {"issue_pki", "", "issue PKI"},
                {"provision_nodes", "master", "provision masters"},
                {"bootstrap_first_master", "master-1", "bootstrap master-1"},
                {"provision_nodes", "worker", "provision workers"},
                {"join_workers", "worker", "join workers"},
                {"verify", "", "verify cluster"},
            }));
}

TEST(ClusterPlannerTest, CreatePlanJoinsMastersOneAtATime) {
  EXPECT_EQ(Summarize(PlanFor(3, 0)),
            (std::vector<PlannedStep>{
                {"reserve", "", "reserve quota and placement"},
                {"issue_pki", "", "issue PKI"},
                {"provision_nodes", "master", "provision masters"},
                {"bootstrap_first_master", "master-1", "bootstrap master-1"},
                {"join_master", "master-2", "join master-2"},
                {"join_master", "master-3", "join master-3"},
                {"verify", "", "verify cluster"},
            }));
}

TEST(ClusterPlannerTest, CreatePlanForThreeMastersWithWorkers) {
  EXPECT_EQ(Summarize(PlanFor(3, 3)),
            (std::vector<PlannedStep>{
                {"reserve", "", "reserve quota and placement"},
                {"issue_pki", "", "issue PKI"},
                {"provision_nodes", "master", "provision masters"},
                {"bootstrap_first_master", "master-1", "bootstrap master-1"},
                {"join_master", "master-2", "join master-2"},
                {"join_master", "master-3", "join master-3"},
                {"provision_nodes", "worker", "provision workers"},
                {"join_workers", "worker", "join workers"},
                {"verify", "", "verify cluster"},
            }));
}

TEST(ClusterPlannerTest, CreatePlanForFiveMasters) {
  std::vector<PlannedStep> without = {
      {"reserve", "", "reserve quota and placement"},
      {"issue_pki", "", "issue PKI"},
      {"provision_nodes", "master", "provision masters"},
      {"bootstrap_first_master", "master-1", "bootstrap master-1"},
      {"join_master", "master-2", "join master-2"},
      {"join_master", "master-3", "join master-3"},
      {"join_master", "master-4", "join master-4"},
      {"join_master", "master-5", "join master-5"},
      {"verify", "", "verify cluster"},
  };
  EXPECT_EQ(Summarize(PlanFor(5, 0)), without);
  std::vector<PlannedStep> with = without;
  with.insert(with.end() - 1, {{"provision_nodes", "worker", "provision workers"},
                               {"join_workers", "worker", "join workers"}});
  EXPECT_EQ(Summarize(PlanFor(5, 10)), with);
}

TEST(ClusterPlannerTest, CreatePlanIsCancelSafeOnlyAtOddMemberCounts) {
  for (int64_t masters : {1, 3, 5}) {
    SCOPED_TRACE(std::to_string(masters) + " masters");
    int64_t members = 0;
    for (const auto& s : PlanFor(masters, 2)) {
      if (s.kind == "bootstrap_first_master" || s.kind == "join_master") ++members;
      // Before the first master exists nothing is at stake; after it, a cancel stops only
      // where etcd has an odd number of members.
      EXPECT_EQ(s.cancel_safe, members == 0 || members % 2 == 1) << s.name;
    }
    EXPECT_EQ(members, masters);
  }
}

TEST(ClusterPlannerTest, EveryCreatePlanIssuesThePkiOnceBeforeAnyNodeExists) {
  for (int64_t masters : {1, 3, 5}) {
    for (int64_t workers : {0, 1, 10}) {
      SCOPED_TRACE(std::to_string(masters) + " masters, " + std::to_string(workers) + " workers");
      std::vector<store::Step> plan = PlanFor(masters, workers);
      ASSERT_GE(plan.size(), 3u);
      EXPECT_EQ(plan[0].kind, "reserve");
      EXPECT_EQ(plan[1].kind, "issue_pki");
      EXPECT_EQ(plan[1].target, "");
      EXPECT_EQ(plan[2].kind, "provision_nodes");
      EXPECT_EQ(std::count_if(plan.begin(), plan.end(),
                              [](const store::Step& s) { return s.kind == "issue_pki"; }),
                1);
    }
  }
}

TEST(ClusterPlannerTest, DeletePlanNeverIssuesPki) {
  ClusterDraft d = MustDraft(ValidRequest());
  for (const auto& s : PlanDelete(d.cluster, d.nodes)) EXPECT_NE(s.kind, "issue_pki") << s.name;
}

TEST(ClusterPlannerTest, DeletePlanRemovesWorkersBeforeMasters) {
  ClusterDraft d = MustDraft(ValidRequest());
  EXPECT_EQ(Summarize(PlanDelete(d.cluster, d.nodes)),
            (std::vector<PlannedStep>{
                {"destroy_nodes", "worker", "remove workers"},
                {"destroy_nodes", "master", "remove masters"},
                {"release_cluster", "", "release cluster"},
            }));
}

TEST(ClusterPlannerTest, DeletePlanWithoutWorkersSkipsTheWorkerStep) {
  CreateClusterRequest r = ValidRequest();
  r.worker_count = 0;
  ClusterDraft d = MustDraft(r);
  EXPECT_EQ(Summarize(PlanDelete(d.cluster, d.nodes)),
            (std::vector<PlannedStep>{
                {"destroy_nodes", "master", "remove masters"},
                {"release_cluster", "", "release cluster"},
            }));
}

// ---------------------------------------------------------------- PlanChange

struct ChangeStep {
  std::string kind;
  std::string target;
  std::string name;
  bool cancel_safe = true;
  bool operator==(const ChangeStep&) const = default;
};

std::ostream& operator<<(std::ostream& os, const ChangeStep& s) {
  return os << "{" << s.kind << ", " << s.target << ", " << s.name << ", "
            << (s.cancel_safe ? "safe" : "unsafe") << "}";
}

std::vector<ChangeStep> SummarizeChange(const std::vector<store::Step>& steps) {
  std::vector<ChangeStep> out;
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].index, static_cast<int64_t>(i)) << steps[i].name;
    EXPECT_EQ(steps[i].state, "pending") << steps[i].name;
    EXPECT_EQ(steps[i].attempts, 0) << steps[i].name;
    out.push_back({steps[i].kind, steps[i].target, steps[i].name, steps[i].cancel_safe});
  }
  return out;
}

std::vector<std::string> Numbered(const std::string& prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// The etcd rules every change plan keeps, whatever it does: a health gate right before every
// learner add and every member removal; a promotion right after its learner was added; one
// voter more or less per step, never none; the member removed from etcd before its machine is
// destroyed; a step is cancel-safe exactly when the voters it leaves are odd; drained workers
// before destroyed ones; "verify cluster" last. Returns the voters the plan ends with.
int64_t ExpectEtcdSafe(const ChangeSpec& spec, const std::vector<store::Step>& steps) {
  int64_t voters = spec.voters;
  std::set<std::string> removed_from_etcd, drained;
  EXPECT_FALSE(steps.empty());
  if (steps.empty()) return voters;
  for (size_t i = 0; i < steps.size(); ++i) {
    const store::Step& s = steps[i];
    SCOPED_TRACE("step " + std::to_string(i) + " " + s.name);
    const store::Step* prev = i > 0 ? &steps[i - 1] : nullptr;
    if (s.kind == "etcd_add_learner" || s.kind == "etcd_remove") {
      EXPECT_TRUE(prev && prev->kind == "health_gate") << "membership change without a gate";
      if (prev) EXPECT_EQ(prev->name, "health gate (" + std::to_string(voters) + " etcd voters)");
    }
    if (s.kind == "etcd_promote") {
      EXPECT_TRUE(prev && prev->kind == "etcd_add_learner" && prev->target == s.target)
          << "promoted a member that was not just added as a learner";
      ++voters;
    }
    if (s.kind == "etcd_remove") {
      --voters;
      removed_from_etcd.insert(s.target);
    }
    if (s.kind == "destroy_nodes" && s.target.rfind("master-", 0) == 0) {
      EXPECT_TRUE(removed_from_etcd.count(s.target))
          << s.target << " destroyed while still an etcd member";
    }
    if (s.kind == "drain_nodes") drained.insert(s.target);
    if (s.kind == "destroy_nodes" && s.target.rfind("worker-", 0) == 0) {
      EXPECT_TRUE(drained.count(s.target)) << s.target << " destroyed without a drain";
    }
    EXPECT_GE(voters, 1) << "etcd lost its last voter";
    EXPECT_EQ(s.cancel_safe, voters % 2 == 1) << voters << " voters after the step";
    if (i + 1 < steps.size()) EXPECT_NE(s.kind, "verify") << "verify before the end";
  }
  EXPECT_EQ(steps.back().kind, "verify");
  EXPECT_EQ(steps.back().name, "verify cluster");
  EXPECT_TRUE(steps.back().cancel_safe);
  return voters;
}

struct ChangeCase {
  std::string what;
  ChangeSpec spec;
  std::vector<ChangeStep> steps;
  int64_t voters_after;
};

ChangeStep Gate(int voters, bool safe) {
  return {"health_gate", "", "health gate (" + std::to_string(voters) + " etcd voters)", safe};
}
ChangeStep Learner(const std::string& m, bool safe) {
  return {"etcd_add_learner", m, "add " + m + " to etcd as learner", safe};
}
ChangeStep Promote(const std::string& m, bool safe) {
  return {"etcd_promote", m, "promote " + m + " to voter", safe};
}
ChangeStep EtcdRemove(const std::string& m, bool safe) {
  return {"etcd_remove", m, "remove " + m + " from etcd", safe};
}
ChangeStep Destroy(const std::string& m, bool safe) {
  return {"destroy_nodes", m, "destroy " + m, safe};
}
ChangeStep Resize(const std::string& m, const std::string& note = "") {
  return {"resize_node", m, "resize " + m + note, true};
}
const ChangeStep kVerify = {"verify", "", "verify cluster", true};

std::vector<ChangeCase> MasterCases() {
  std::vector<ChangeCase> cases;
  {
    ChangeSpec s;
    s.voters = 1;
    s.add_masters = {"master-2", "master-3"};
    cases.push_back({"masters 1 -> 3",
                     s,
                     {
                         {"provision_nodes", "master", "provision master-2, master-3", true},
                         Gate(1, true),
                         Learner("master-2", true),
                         Promote("master-2", false),
                         Gate(2, false),
                         Learner("master-3", false),
                         Promote("master-3", true),
                         kVerify,
                     },
                     3});
  }
  {
    ChangeSpec s;
    s.voters = 3;
    s.add_masters = {"master-4", "master-5"};
    cases.push_back({"masters 3 -> 5",
                     s,
                     {
                         {"provision_nodes", "master", "provision master-4, master-5", true},
                         Gate(3, true),
                         Learner("master-4", true),
                         Promote("master-4", false),
                         Gate(4, false),
                         Learner("master-5", false),
                         Promote("master-5", true),
                         kVerify,
                     },
                     5});
  }
  {
    ChangeSpec s;
    s.voters = 5;
    s.remove_masters = {"master-5", "master-4"};
    cases.push_back({"masters 5 -> 3",
                     s,
                     {
                         Gate(5, true),
                         EtcdRemove("master-5", false),
                         Destroy("master-5", false),
                         Gate(4, false),
                         EtcdRemove("master-4", true),
                         Destroy("master-4", true),
                         kVerify,
                     },
                     3});
  }
  {
    ChangeSpec s;
    s.voters = 3;
    s.remove_masters = {"master-3", "master-2"};
    cases.push_back({"masters 3 -> 1",
                     s,
                     {
                         Gate(3, true),
                         EtcdRemove("master-3", false),
                         Destroy("master-3", false),
                         Gate(2, false),
                         EtcdRemove("master-2", true),
                         Destroy("master-2", true),
                         kVerify,
                     },
                     1});
  }
  {
    ChangeSpec s;
    s.voters = 5;
    s.remove_masters = {"master-5", "master-4", "master-3", "master-2"};
    cases.push_back({"masters 5 -> 1",
                     s,
                     {
                         Gate(5, true),
                         EtcdRemove("master-5", false),
                         Destroy("master-5", false),
                         Gate(4, false),
                         EtcdRemove("master-4", true),
                         Destroy("master-4", true),
                         Gate(3, true),
                         EtcdRemove("master-3", false),
                         Destroy("master-3", false),
                         Gate(2, false),
                         EtcdRemove("master-2", true),
                         Destroy("master-2", true),
                         kVerify,
                     },
                     1});
  }
  {
    ChangeSpec s;
    s.voters = 1;
    s.add_masters = {"master-2", "master-3", "master-4", "master-5"};
    std::vector<ChangeStep> steps = {
        {"provision_nodes", "master", "provision master-2, master-3, master-4, master-5", true}};
    for (int m = 2; m <= 5; ++m) {
      std::string name = "master-" + std::to_string(m);
      bool odd_before = (m - 1) % 2 == 1;
      steps.push_back(Gate(m - 1, odd_before));
      steps.push_back(Learner(name, odd_before));
      steps.push_back(Promote(name, m % 2 == 1));
    }
    steps.push_back(kVerify);
    cases.push_back({"masters 1 -> 5", s, steps, 5});
  }
  {
    // A VM master replaced by a physical one: the new member joins before the old one leaves.
    ChangeSpec s;
    s.voters = 1;
    s.replace_masters = {{"master-1", "master-2"}};
    s.single_master_downtime = true;
    cases.push_back({"replace the single master",
                     s,
                     {
                         {"provision_node", "master-2", "provision master-2", true},
                         Gate(1, true),
                         Learner("master-2", true),
                         Promote("master-2", false),
                         Gate(2, false),
                         EtcdRemove("master-1", true),
                         Destroy("master-1", true),
                         kVerify,
                     },
                     1});
  }
  {
    ChangeSpec s;
    s.voters = 3;
    s.replace_masters = {
        {"master-1", "master-4"}, {"master-2", "master-5"}, {"master-3", "master-6"}};
    std::vector<ChangeStep> steps;
    for (const auto& [old_name, new_name] : s.replace_masters) {
      steps.push_back({"provision_node", new_name, "provision " + new_name, true});
      steps.push_back(Gate(3, true));
      steps.push_back(Learner(new_name, true));
      steps.push_back(Promote(new_name, false));
      steps.push_back(Gate(4, false));
      steps.push_back(EtcdRemove(old_name, true));
      steps.push_back(Destroy(old_name, true));
    }
    steps.push_back(kVerify);
    cases.push_back({"replace three masters, one pair at a time", s, steps, 3});
  }
  {
    ChangeSpec s;
    s.voters = 3;
    s.resize_masters = {"master-1", "master-2", "master-3"};
    cases.push_back({"resize three masters",
                     s,
                     {
                         Gate(3, true),
                         Resize("master-1"),
                         Gate(3, true),
                         Resize("master-2"),
                         Gate(3, true),
                         Resize("master-3"),
                         kVerify,
                     },
                     3});
  }
  {
    ChangeSpec s;
    s.voters = 1;
    s.resize_masters = {"master-1"};
    s.single_master_downtime = true;
    cases.push_back({"resize the single master",
                     s,
                     {
                         Gate(1, true),
                         Resize("master-1", " (single master: API briefly unavailable)"),
                         kVerify,
                     },
                     1});
  }
  return cases;
}

std::vector<ChangeCase> WorkerCases() {
  std::vector<ChangeCase> cases;
  {
    ChangeSpec s;
    s.voters = 3;
    s.add_workers = {"worker-4", "worker-5"};
    cases.push_back({"workers 3 -> 5",
                     s,
                     {
                         {"provision_nodes", "worker", "provision worker-4, worker-5", true},
                         {"join_workers", "worker", "join workers", true},
                         kVerify,
                     },
                     3});
  }
  {
    ChangeSpec s;
    s.voters = 3;
    s.remove_workers = {"worker-5", "worker-4"};
    s.masters_first = false;
    cases.push_back({"workers 5 -> 3",
                     s,
                     {
                         {"drain_nodes", "worker-5,worker-4", "drain worker-5, worker-4", true},
                         {"destroy_nodes", "worker-5,worker-4", "remove worker-5, worker-4", true},
                         kVerify,
                     },
                     3});
  }
  {
    // Crossing 50: the masters grow first (one at a time), then the workers come.
    ChangeSpec s;
    s.voters = 3;
    s.resize_masters = {"master-1", "master-2", "master-3"};
    s.add_workers = Numbered("worker-", 4, 51);
    cases.push_back(
        {"workers 3 -> 51 (masters to m.medium first)",
         s,
         {
             Gate(3, true),
             Resize("master-1"),
             Gate(3, true),
             Resize("master-2"),
             Gate(3, true),
             Resize("master-3"),
             {"provision_nodes", "worker", "provision worker-4 … worker-51 (48 nodes)", true},
             {"join_workers", "worker", "join workers", true},
             kVerify,
         },
         3});
  }
  {
    // Back under 51: the workers go first (drained), then the masters shrink.
    ChangeSpec s;
    s.voters = 3;
    s.remove_workers = {"worker-51"};
    s.resize_masters = {"master-1", "master-2", "master-3"};
    s.masters_first = false;
    cases.push_back({"workers 51 -> 50 (masters back to m.small after)",
                     s,
                     {
                         {"drain_nodes", "worker-51", "drain worker-51", true},
                         {"destroy_nodes", "worker-51", "remove worker-51", true},
                         Gate(3, true),
                         Resize("master-1"),
                         Gate(3, true),
                         Resize("master-2"),
                         Gate(3, true),
                         Resize("master-3"),
                         kVerify,
                     },
                     3});
  }
  {
    // Crossing 100: the masters move to physical hosts, one member at a time, first.
    ChangeSpec s;
    s.voters = 1;
    s.replace_masters = {{"master-1", "master-2"}};
    s.single_master_downtime = true;
    s.add_workers = {"worker-101"};
    cases.push_back({"workers 100 -> 101 with one master (to a physical host first)",
                     s,
                     {
                         {"provision_node", "master-2", "provision master-2", true},
                         Gate(1, true),
                         Learner("master-2", true),
                         Promote("master-2", false),
                         Gate(2, false),
                         EtcdRemove("master-1", true),
                         Destroy("master-1", true),
                         {"provision_nodes", "worker", "provision worker-101", true},
                         {"join_workers", "worker", "join workers", true},
                         kVerify,
                     },
                     1});
  }
  {
    ChangeSpec s;
    s.voters = 5;
    s.remove_workers = Numbered("worker-", 3, 60);
    std::reverse(s.remove_workers.begin(), s.remove_workers.end());
    s.masters_first = false;
    std::string all;
    for (const auto& w : s.remove_workers) all += (all.empty() ? "" : ",") + w;
    cases.push_back({"workers 60 -> 2 (a big batch keeps a readable name)",
                     s,
                     {
                         {"drain_nodes", all, "drain worker-60 … worker-3 (58 nodes)", true},
                         {"destroy_nodes", all, "remove worker-60 … worker-3 (58 nodes)", true},
                         kVerify,
                     },
                     5});
  }
  return cases;
}

ChangeStep Upgrade(const std::string& target, const std::string& label, const std::string& to) {
  return {"upgrade_nodes", target, "upgrade " + label + " to " + to, true};
}

std::vector<ChangeCase> UpgradeCases() {
  std::vector<ChangeCase> cases;
  auto spec = [](int masters, int workers, int64_t max_unavailable, const std::string& to) {
    ChangeSpec s;
    s.voters = masters;
    s.upgrade_to = to;
    s.upgrade_masters = Numbered("master-", 1, masters);
    s.upgrade_workers = Numbered("worker-", 1, workers);
    s.max_unavailable = max_unavailable;
    return s;
  };
  cases.push_back({"patch upgrade, 3 masters, 5 workers, 2 at a time",
                   spec(3, 5, 2, "1.36.3"),
                   {
                       Gate(3, true),
                       Upgrade("master-1", "master-1", "1.36.3"),
                       Gate(3, true),
                       Upgrade("master-2", "master-2", "1.36.3"),
                       Gate(3, true),
                       Upgrade("master-3", "master-3", "1.36.3"),
                       Upgrade("worker-1,worker-2", "worker-1, worker-2", "1.36.3"),
                       Upgrade("worker-3,worker-4", "worker-3, worker-4", "1.36.3"),
                       Upgrade("worker-5", "worker-5", "1.36.3"),
                       kVerify,
                   },
                   3});
  cases.push_back({"minor upgrade, 1 master, 3 workers, one at a time",
                   spec(1, 3, 1, "1.37.2"),
                   {
                       Gate(1, true),
                       Upgrade("master-1", "master-1", "1.37.2"),
                       Upgrade("worker-1", "worker-1", "1.37.2"),
                       Upgrade("worker-2", "worker-2", "1.37.2"),
                       Upgrade("worker-3", "worker-3", "1.37.2"),
                       kVerify,
                   },
                   1});
  cases.push_back(
      {"max_unavailable above the worker count is one batch",
       spec(3, 3, 10, "1.37.2"),
       {
           Gate(3, true),
           Upgrade("master-1", "master-1", "1.37.2"),
           Gate(3, true),
           Upgrade("master-2", "master-2", "1.37.2"),
           Gate(3, true),
           Upgrade("master-3", "master-3", "1.37.2"),
           Upgrade("worker-1,worker-2,worker-3", "worker-1, worker-2, worker-3", "1.37.2"),
           kVerify,
       },
       3});
  cases.push_back({"max_unavailable below 1 counts as 1",
                   spec(1, 2, 0, "1.37.2"),
                   {
                       Gate(1, true),
                       Upgrade("master-1", "master-1", "1.37.2"),
                       Upgrade("worker-1", "worker-1", "1.37.2"),
                       Upgrade("worker-2", "worker-2", "1.37.2"),
                       kVerify,
                   },
                   1});
  cases.push_back({"masters only", spec(5, 0, 1, "1.37.2"), {}, 5});
  for (int m = 1; m <= 5; ++m) {
    cases.back().steps.push_back(Gate(5, true));
    cases.back().steps.push_back(
        Upgrade("master-" + std::to_string(m), "master-" + std::to_string(m), "1.37.2"));
  }
  cases.back().steps.push_back(kVerify);
  {
    // A batch of 6 workers: the name stays short, the target names every node.
    ChangeSpec s = spec(3, 6, 6, "1.37.2");
    s.upgrade_masters.clear();
    cases.push_back({"six workers in one batch",
                     s,
                     {
                         Upgrade("worker-1,worker-2,worker-3,worker-4,worker-5,worker-6",
                                 "worker-1 … worker-6 (6 nodes)", "1.37.2"),
                         kVerify,
                     },
                     3});
  }
  return cases;
}

void ExpectPlans(const std::vector<ChangeCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    std::vector<store::Step> plan = PlanChange(c.spec);
    EXPECT_EQ(SummarizeChange(plan), c.steps);
    EXPECT_EQ(ExpectEtcdSafe(c.spec, plan), c.voters_after);
  }
}

TEST(ChangePlannerTest, MasterScalingChangesOneEtcdMemberAtATime) { ExpectPlans(MasterCases()); }

TEST(ChangePlannerTest, WorkerScalingDrainsBeforeDestroyingAndResizesMastersAtBoundaries) {
  ExpectPlans(WorkerCases());
}

TEST(ChangePlannerTest, UpgradesMastersOneAtATimeThenWorkersInBatches) {
  ExpectPlans(UpgradeCases());
}

TEST(ChangePlannerTest, EveryMembershipChangeIsItsOwnStep) {
  for (const auto& c : MasterCases()) {
    SCOPED_TRACE(c.what);
    std::vector<store::Step> plan = PlanChange(c.spec);
    std::map<std::string, int> learners, promotions, removals;
    for (const auto& s : plan) {
      if (s.kind == "etcd_add_learner") learners[s.target]++;
      if (s.kind == "etcd_promote") promotions[s.target]++;
      if (s.kind == "etcd_remove") removals[s.target]++;
      if (s.kind.rfind("etcd_", 0) == 0) {
        EXPECT_EQ(s.target.find(','), std::string::npos) << "one member per step: " << s.name;
      }
    }
    std::map<std::string, int> added, gone;
    for (const auto& m : c.spec.add_masters) added[m]++;
    for (const auto& m : c.spec.remove_masters) gone[m]++;
    for (const auto& [old_name, new_name] : c.spec.replace_masters) {
      added[new_name]++;
      gone[old_name]++;
    }
    EXPECT_EQ(learners, added);
    EXPECT_EQ(promotions, added);
    EXPECT_EQ(removals, gone);
  }
}

TEST(ChangePlannerTest, AnEmptyChangeOnlyVerifies) {
  ChangeSpec s;
  s.voters = 3;
  EXPECT_EQ(SummarizeChange(PlanChange(s)), (std::vector<ChangeStep>{kVerify}));
}

}  // namespace
}  // namespace kaas::lifecycle
