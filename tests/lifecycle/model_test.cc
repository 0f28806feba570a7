#include "kaas/lifecycle/model.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "kaas/lifecycle/steps.h"

namespace kaas::lifecycle {
namespace {

// Every value's text round-trips, texts are distinct, and nothing else parses.
template <typename E>
void ExpectRoundTrip(const std::vector<std::string>& texts) {
  ASSERT_EQ(EnumNames<E>::kNames.size(), texts.size());
  std::set<std::string> seen;
  for (size_t i = 0; i < texts.size(); ++i) {
    const E value = static_cast<E>(i);
    EXPECT_EQ(ToString(value), texts[i]);
    EXPECT_EQ(Parse<E>(texts[i]), value) << texts[i];
    EXPECT_TRUE(seen.insert(texts[i]).second) << texts[i] << " twice";
  }
  EXPECT_EQ(Parse<E>(""), std::nullopt);
  EXPECT_EQ(Parse<E>("Master"), std::nullopt) << "case matters";
}

// The texts are the REST contract (openapi.yaml) and the stored rows: they never change.
TEST(ModelTest, EveryValueHasItsStoredAndShownText) {
  ExpectRoundTrip<OperationType>({"create", "delete", "scale_workers", "scale_masters",
                                  "resize_masters", "upgrade", "repair"});
  ExpectRoundTrip<OperationState>({"pending", "running", "succeeded", "failed", "cancelled"});
  ExpectRoundTrip<StepState>({"pending", "running", "succeeded", "failed", "cancelled"});
  ExpectRoundTrip<StepKind>({"reserve", "issue_pki", "provision_nodes", "provision_node",
                             "bootstrap_first_master", "join_master", "join_workers", "health_gate",
                             "etcd_add_learner", "etcd_promote", "etcd_remove", "drain_nodes",
                             "resize_node", "upgrade_nodes", "verify", "destroy_nodes",
                             "release_cluster"});
  ExpectRoundTrip<NodeRole>({"master", "worker"});
  ExpectRoundTrip<NodeKind>({"vm", "physical"});
  ExpectRoundTrip<NodeState>(
      {"reserved", "provisioned", "learner", "ready", "draining", "removing", "deleted"});
  ExpectRoundTrip<ClusterStatus>(
      {"provisioning", "running", "updating", "deleting", "deleted", "error"});
}

TEST(ModelTest, RowsReadAsTypesAndUnknownTextsMatchNothing) {
  store::Node n;
  n.role = "master";
  n.kind = "vm";
  n.state = "learner";
  EXPECT_EQ(RoleOf(n), NodeRole::kMaster);
  EXPECT_EQ(KindOf(n), NodeKind::kVm);
  EXPECT_EQ(StateOf(n), NodeState::kLearner);
  n.state = "sleeping";
  EXPECT_FALSE(StateOf(n).has_value());
  EXPECT_NE(StateOf(n), NodeState::kReady);
}

TEST(ModelTest, OnlyEtcdMembershipStepsAreMembershipChanges) {
  std::set<StepKind> membership;
  for (size_t i = 0; i < EnumNames<StepKind>::kNames.size(); ++i) {
    if (IsEtcdMembershipChange(static_cast<StepKind>(i)))
      membership.insert(static_cast<StepKind>(i));
  }
  EXPECT_EQ(membership, (std::set<StepKind>{StepKind::kEtcdAddLearner, StepKind::kEtcdPromote,
                                            StepKind::kEtcdRemove}));
}

TEST(ModelTest, TheStepTableHasOneHandlerForEveryStepKind) {
  const auto& table = ClusterSteps::Table();
  EXPECT_EQ(table.size(), EnumNames<StepKind>::kNames.size());
  for (size_t i = 0; i < EnumNames<StepKind>::kNames.size(); ++i) {
    auto it = table.find(static_cast<StepKind>(i));
    ASSERT_NE(it, table.end()) << EnumNames<StepKind>::kNames[i];
    EXPECT_TRUE(it->second != nullptr) << EnumNames<StepKind>::kNames[i];
  }
}

TEST(ModelTest, ProgressCountsSucceededSteps) {
  store::Operation op;
  op.state = "running";
  EXPECT_EQ(Progress(op), 0);
  op.state = "succeeded";
  EXPECT_EQ(Progress(op), 100);
  op.steps.resize(4);
  for (auto& s : op.steps) s.state = "pending";
  op.steps[0].state = "succeeded";
  EXPECT_EQ(Progress(op), 25);
}

}  // namespace
}  // namespace kaas::lifecycle
