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
  r.kubernetes_version = "1.29.12";
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
  r.kubernetes_version = "1.29.12";
  ClusterDraft d = MustDraft(r);
  EXPECT_EQ(d.cluster.kubernetes_version, "1.29.12");
  EXPECT_EQ(d.cluster.worker_flavor, kDefaultWorkerFlavor);
  for (const auto& n : d.nodes) {
    EXPECT_EQ(n.kubernetes_version, "1.29.12");
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

}  // namespace
}  // namespace kaas::lifecycle
