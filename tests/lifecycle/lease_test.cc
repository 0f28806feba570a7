// Operation leases in the engine (DESIGN.md §6.2), on SQLite in one process: a takeover is
// played by claiming the lease for another replica name in the middle of a step, as a replica
// whose lease expired would see it. The multi-process cases (kill -9, SIGSTOP, PostgreSQL) are
// tests/api/replicas_test.cc.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "kaas/common/metrics.h"
#include "kaas/lifecycle/engine.h"
#include "kaas/store/repositories.h"
#include "lifecycle_fakes.h"
#include "status_testing.h"

namespace kaas::lifecycle {
namespace {

using namespace test_support;  // NOLINT: the suites' shared fakes and checks

// The value of an unlabelled counter in a registry's exposition.
double CounterValue(const metrics::Registry& registry, const std::string& name) {
  const std::string text = registry.Render();
  size_t p = text.find("\n" + name + " ");
  return p == std::string::npos ? -1 : std::stod(text.substr(p + name.size() + 2));
}

int64_t CountEvents(Env& env, const std::string& cluster_id) {
  size_t n = 0;
  EXPECT_OK(env.db().Read([&](store::Tx& tx) {
    n = store::events::ListForCluster(tx, cluster_id, "", 100000).size();
    return Status::Ok();
  }));
  return static_cast<int64_t>(n);
}

TEST(EngineLeaseTest, AStepWhoseLeaseWasTakenOverRecordsNothingAndTheNewHolderFinishes) {
  Env env(TestName());
  metrics::Registry registry;
  std::string cluster_id;
  std::atomic<bool> admitted{false};
  std::atomic<int64_t> events_at_takeover{-1};
  // At "issue PKI", another replica claims the operation (its lease looks expired from there);
  // then the real step runs: its write of the sealed keys must be refused.
  InterceptedSteps steps(env.steps(), "issue_pki", [&](int call) -> std::optional<StepResult> {
    if (call != 1) return std::nullopt;
    while (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_OK(env.db().Write([&](store::Tx& tx) {
      const int64_t far = Env::Clock().NowMs() + 3'600'000;
      auto taken = store::leases::ClaimFree(tx, "other-replica", far, far + 60'000, 10, far);
      EXPECT_EQ(taken.size(), 1u);
      return Status::Ok();
    }));
    events_at_takeover = CountEvents(env, cluster_id);
    return std::nullopt;
  });
  EngineOptions options = Env::FastOptions();
  options.metrics = &registry;
  options.replica_id = "this-replica";
  env.StartEngine(options, &steps);
  EXPECT_EQ(env.engine().replica_id(), "this-replica");
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  cluster_id = created->cluster.id;
  admitted = true;
  const std::string op_id = created->operation.id;

  for (int i = 0; i < 2000 && (steps.calls() == 0 || env.engine().InFlight() > 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(steps.calls(), 1);
  ASSERT_EQ(env.engine().InFlight(), 0u) << "the replica kept running an operation it lost";
  auto op = env.FindOperation(op_id);
  ASSERT_TRUE(op.has_value());
  EXPECT_EQ(op->state, "running");
  EXPECT_EQ(op->owner, "other-replica");
  EXPECT_EQ(op->epoch, 2);
  // The step's own write was fenced (no sealed keys), its end was not recorded, and no event was
  // written after the takeover.
  const store::Step& pki = op->steps[1];
  EXPECT_EQ(pki.kind, "issue_pki");
  EXPECT_EQ(pki.state, "running");
  ASSERT_OK(env.db().Read([&](store::Tx& tx) {
    EXPECT_FALSE(store::secrets::Get(tx, cluster_id).has_value());
    return Status::Ok();
  }));
  EXPECT_EQ(CountEvents(env, cluster_id), events_at_takeover.load());
  EXPECT_GE(CounterValue(registry, "kaas_fenced_writes_total"), 1);
  EXPECT_EQ(CounterValue(registry, "kaas_leases_lost_total"), 1);

  // The new holder (a restart under its name; SQLite claims every active operation at start)
  // resumes at the step and finishes; the operation keeps no lease.
  EngineOptions other = Env::FastOptions();
  other.replica_id = "other-replica";
  env.StartEngine(other);
  store::Operation done = env.WaitForOperation(op_id);
  EXPECT_EQ(done.state, "succeeded") << done.error;
  EXPECT_EQ(done.owner, "");
  EXPECT_EQ(done.epoch, 3);
  ASSERT_OK(env.db().Read([&](store::Tx& tx) {
    EXPECT_TRUE(store::secrets::Get(tx, cluster_id).has_value());
    return Status::Ok();
  }));
  ExpectHealthyDevCluster(env, cluster_id);
}

// An operation that ended holds no lease (a retry is claimed afresh by whichever replica).
TEST(EngineLeaseTest, LeaseIsReleasedWhenTheOperationEnds) {
  Env env(TestName());
  env.StartEngine();
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation done = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(done.state, "succeeded") << done.error;
  EXPECT_EQ(done.owner, "");
  EXPECT_EQ(done.epoch, 1);
}

}  // namespace
}  // namespace kaas::lifecycle
