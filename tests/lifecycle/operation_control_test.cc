// Controlling operations: cancel and retry, fault injection, the event stream, steps that wait and
// steps that throw.
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

// ------------------------------------------------------------------ cancel and retry

// Cancels the job's cluster's active operation from inside the first bootstrap job that
// matches, i.e. while that step is running.
void CancelDuring(Env& env, const std::string& playbook, const std::string& target) {
  auto fired = std::make_shared<std::atomic<bool>>(false);
  env.bootstrapper().OnRun([&env, playbook, target, fired](const provisioner::BootstrapJob& job) {
    if (job.playbook != playbook ||
        std::find(job.targets.begin(), job.targets.end(), target) == job.targets.end() ||
        fired->exchange(true)) {
      return;
    }
    std::optional<store::Operation> active;
    EXPECT_OK(env.db().Read([&](store::Tx& tx) {
      active = store::operations::FindActiveForCluster(tx, job.cluster_id);
      return Status::Ok();
    }));
    ASSERT_TRUE(active.has_value());
    auto cancelled = env.service().Cancel(active->id);
    ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
    EXPECT_TRUE(cancelled->cancel_requested);
  });
}

int ReadyMasters(Env& env, const std::string& cluster_id) {
  int n = 0;
  for (const auto& node : env.LiveNodes(cluster_id)) {
    n += node.role == "master" && node.state == "ready";
  }
  return n;
}

TEST(CancelRetryTest, CancelDuringANonCancelSafeStepRunsOnToAnOddVoterCount) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());

  // Record the voters at every step boundary of the change.
  auto voters_seen = std::make_shared<std::vector<int>>();
  auto mu = std::make_shared<std::mutex>();
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<test_support::BeforeStepHooks>(
      [&env, id, voters_seen, mu](const std::string&, int64_t) {
        int v = ReadyMasters(env, id);
        std::lock_guard lock(*mu);
        voters_seen->push_back(v);
        return true;
      });
  env.StartEngine(o);
  // The cancel arrives while master-2 is being promoted (1 -> 2 voters, not cancel-safe).
  CancelDuring(env, "promote-master.yml", "master-2");
  auto scaled = env.service().ScaleMasters(id, 3, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  store::Operation op = env.WaitForOperation(scaled->operation.id);
  env.WaitIdle();
  EXPECT_EQ(op.state, "cancelled");
  EXPECT_NE(op.error.find("cancelled before step 'verify cluster'"), std::string::npos) << op.error;
  ASSERT_EQ(op.steps.size(), 8u);
  for (size_t i = 0; i + 1 < op.steps.size(); ++i) {
    EXPECT_EQ(op.steps[i].state, "succeeded") << op.steps[i].name;
  }
  EXPECT_EQ(op.steps[6].name, "promote master-3 to voter");
  EXPECT_EQ(op.steps[7].state, "cancelled");
  EXPECT_TRUE(env.bootstrapper().Cancelled().empty())
      << "a step that would leave an even member count was interrupted";
  EXPECT_EQ(ReadyMasters(env, id), 3) << "the cancel stopped at an even member count";
  auto c = env.FindCluster(id);
  EXPECT_EQ(c->status, "running");
  EXPECT_NE(c->status_reason.find("cancelled"), std::string::npos) << c->status_reason;
  EXPECT_EQ(c->master_count, 3);
  {
    std::lock_guard lock(*mu);
    // Boundaries: before each of the 7 steps that ran, and the one where the cancel took hold
    // is not reached (the cancel is checked first).
    EXPECT_EQ(*voters_seen, (std::vector<int>{1, 1, 1, 1, 2, 2, 2}));
  }
  EXPECT_EQ(env.service().Cancel(op.id).status().code(), Code::kConflict);
  EXPECT_EQ(env.service().Cancel("op-nope").status().code(), Code::kNotFound);
}

TEST(CancelRetryTest, CancelOfACreateEndsInErrorAndDeleteCleansEverything) {
  Env env(TestName());
  env.StartEngine();
  // Joining the workers starts and ends at an odd member count, so the running Ansible is
  // stopped and the operation ends right there.
  CancelDuring(env, "join-worker.yml", "worker-1");
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string id = created->cluster.id;
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "cancelled");
  ASSERT_EQ(op.steps.size(), 9u);
  ASSERT_EQ(op.steps[7].name, "join workers");
  for (size_t i = 0; i < op.steps.size(); ++i) {
    EXPECT_EQ(op.steps[i].state, i < 7 ? "succeeded" : "cancelled") << op.steps[i].name;
  }
  EXPECT_EQ(op.steps[7].attempts, 1);
  EXPECT_NE(op.steps[7].message.find("stopped by a cancel"), std::string::npos)
      << op.steps[7].message;
  EXPECT_EQ(op.steps[8].attempts, 0) << "nothing after the interrupted step ran";
  EXPECT_EQ(op.error, "create cancelled during step 'join workers'");
  ASSERT_EQ(env.bootstrapper().Cancelled().size(), 1u);
  EXPECT_EQ(env.bootstrapper().Cancelled()[0].playbook, "join-worker.yml");
  auto c = env.FindCluster(id);
  EXPECT_EQ(c->status, "error");
  EXPECT_NE(c->status_reason.find("cancelled"), std::string::npos) << c->status_reason;
  EXPECT_FALSE(env.fleet().Domains().empty());
  EXPECT_EQ(env.service().ScaleWorkers(id, 5, "alice", false).status().code(), Code::kConflict)
      << "a cancelled create is not a running cluster";

  auto deleted = env.Delete(id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  EXPECT_EQ(env.FindCluster(id)->status, "deleted");
  EXPECT_TRUE(env.LiveNodes(id).empty());
  EXPECT_TRUE(env.fleet().Domains().empty());
  EXPECT_FALSE(env.Secrets(id).has_value());
  quota::Usage used = env.Usage();
  EXPECT_EQ(used.clusters, 0);
  EXPECT_EQ(used.vcpus, 0);
  EXPECT_EQ(used.memory_gib, 0);
  EXPECT_TRUE(env.HypervisorUsage().empty());
}

TEST(CancelRetryTest, ACreateCancelledWhileJoiningTheSecondMasterRunsOnToTheThird) {
  Env env(TestName());
  env.StartEngine();
  CancelDuring(env, "join-master.yml", "master-2");
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "cancelled");
  ASSERT_EQ(op.steps.size(), 9u);
  ASSERT_EQ(op.steps[5].name, "join master-3");
  for (size_t i = 0; i < op.steps.size(); ++i) {
    EXPECT_EQ(op.steps[i].state, i < 6 ? "succeeded" : "cancelled") << op.steps[i].name;
  }
  EXPECT_EQ(op.error, "create cancelled before step 'provision workers'");
  EXPECT_TRUE(env.bootstrapper().Cancelled().empty()) << "a join to 2 members was interrupted";
  EXPECT_EQ(ReadyMasters(env, created->cluster.id), 3);
  EXPECT_EQ(env.FindCluster(created->cluster.id)->status, "error");
}

TEST(CancelRetryTest, CancelOfAnOperationThatHasNotStartedEndsItBeforeAnyStep) {
  Env env(TestName());
  env.StartEngine(Env::CrashBefore(0));  // marks it running, then dies before step 0
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  env.WaitIdle();
  auto cancelled = env.service().Cancel(created->operation.id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "cancelled");
  for (const auto& s : op.steps) {
    EXPECT_EQ(s.state, "cancelled") << s.name;
    EXPECT_EQ(s.attempts, 0) << s.name;
  }
  EXPECT_TRUE(env.fleet().Domains().empty());
  EXPECT_EQ(env.FindCluster(created->cluster.id)->status, "error");
  env.StartEngine();
  auto deleted = env.Delete(created->cluster.id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  EXPECT_EQ(env.Usage().vcpus, 0);
  EXPECT_TRUE(env.HypervisorUsage().empty());
}

TEST(CancelRetryTest, RetryResumesAFailedOperationFromTheFailedStep) {
  Env env(TestName());
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<FaultHooks>(env.faults());
  env.StartEngine(o);
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  env.faults().Set({FaultRule{.on = "step",
                              .match = "add master-2 to etcd as learner",
                              .action = "fail",
                              .code = "internal"}});
  auto scaled = env.service().ScaleMasters(id, 3, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  store::Operation op = env.WaitForOperation(scaled->operation.id);
  ASSERT_EQ(op.state, "failed");
  ASSERT_EQ(op.steps[2].name, "add master-2 to etcd as learner");
  EXPECT_EQ(op.steps[2].state, "failed");
  EXPECT_EQ(op.steps[2].attempts, 1) << "a permanent error is not retried";
  EXPECT_NE(op.steps[2].message.find("injected fault"), std::string::npos) << op.steps[2].message;
  EXPECT_EQ(op.steps[0].state, "succeeded");
  EXPECT_EQ(op.steps[1].state, "succeeded");
  for (size_t i = 3; i < op.steps.size(); ++i) EXPECT_EQ(op.steps[i].state, "pending");
  auto c = env.FindCluster(id);
  EXPECT_EQ(c->status, "error");
  EXPECT_NE(c->status_reason.find("add master-2 to etcd as learner"), std::string::npos)
      << c->status_reason;
  EXPECT_EQ(ReadyMasters(env, id), 1);

  env.faults().Set({});
  auto retried = env.service().Retry(op.id);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_EQ(retried->state, "pending");
  op = env.WaitForOperation(op.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(op.error, "");
  for (const auto& s : op.steps) {
    EXPECT_EQ(s.state, "succeeded") << s.name;
    EXPECT_EQ(s.attempts, s.index == 2 ? 2 : 1) << s.name << ": resumed from the failed step";
  }
  ExpectConsistentCluster(env, id);
  EXPECT_EQ(env.FindCluster(id)->status_reason, "");
  EXPECT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1, 2, 3}));
  for (const auto& [domain, n] : env.fleet().Defines()) EXPECT_EQ(n, 1) << domain;
  auto jobs = JobTargets(env);
  EXPECT_EQ((jobs[{"join-master.yml", "master-2"}]), 1);
  EXPECT_EQ((jobs[{"promote-master.yml", "master-3"}]), 1);
}

// A client that retries the moment it sees the failure (while the engine thread is still
// winding the operation down) must not lose the retry.
TEST(CancelRetryTest, ARetryRightAfterTheFailureIsNotLost) {
  Env env(TestName());
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<FaultHooks>(env.faults());
  env.StartEngine(o);
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  env.faults().Set({FaultRule{.match = "verify", .code = "internal", .times = 0}});
  auto scaled = env.service().ScaleWorkers(id, 2, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  const std::string op_id = scaled->operation.id;
  auto state = [&] {
    std::string s;
    EXPECT_OK(env.db().Read([&](store::Tx& tx) {
      s = store::operations::Find(tx, op_id)->state;
      return Status::Ok();
    }));
    return s;
  };
  // Waits, without sleeping, until the state is `want` (or the deadline passes).
  auto spin_until = [&](const std::function<bool(const std::string&)>& want) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    std::string s = state();
    while (!want(s) && std::chrono::steady_clock::now() < deadline) s = state();
    return s;
  };
  for (int round = 1; round <= 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_EQ(spin_until([](const std::string& s) { return s == "failed"; }), "failed");
    ASSERT_TRUE(env.service().Retry(op_id).ok());
    ASSERT_NE(spin_until([](const std::string& s) { return s != "pending"; }), "pending")
        << "the retried operation was never picked up";
  }
  ASSERT_EQ(spin_until([](const std::string& s) { return s == "failed"; }), "failed");
  env.faults().Set({});
  ASSERT_TRUE(env.service().Retry(op_id).ok());
  store::Operation op = env.WaitForOperation(op_id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(op.steps.back().attempts, 22) << "one attempt per run of the failing step";
  ExpectConsistentCluster(env, id);
}

TEST(CancelRetryTest, RetryIsRefusedForSucceededActiveOrNotLatestOperations) {
  Env env(TestName());
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<FaultHooks>(env.faults());
  env.StartEngine(o);
  auto created = env.Create(Request("personal", 1));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string id = created->cluster.id;
  ASSERT_EQ(env.WaitForOperation(created->operation.id).state, "succeeded");
  EXPECT_EQ(env.service().Retry(created->operation.id).status().code(), Code::kConflict)
      << "a succeeded operation";
  EXPECT_EQ(env.service().Retry("op-nope").status().code(), Code::kNotFound);

  env.faults().Set({FaultRule{.on = "step", .match = "verify", .code = "internal"}});
  auto scaled = env.service().ScaleWorkers(id, 2, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  ASSERT_EQ(env.WaitForOperation(scaled->operation.id).state, "failed");
  env.faults().Set({});

  // A delete (admitted on a cluster in error) becomes the latest operation.
  env.StartEngine([&] {
    EngineOptions crash = Env::CrashBefore(0);
    return crash;
  }());
  auto deleted = env.Delete(id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  env.WaitIdle();
  auto while_active = env.service().Retry(scaled->operation.id);
  EXPECT_EQ(while_active.status().code(), Code::kOperationInProgress);
  env.StartEngine();
  ASSERT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  auto not_latest = env.service().Retry(scaled->operation.id);
  EXPECT_EQ(not_latest.status().code(), Code::kConflict);
  EXPECT_NE(not_latest.status().message().find("latest"), std::string::npos)
      << not_latest.status().message();
  EXPECT_EQ(env.FindOperation(scaled->operation.id)->state, "failed");
}

TEST(CancelRetryTest, RetryOfACancelledChangeFinishesIt) {
  Env env(TestName());
  AddHypervisors(env, {"sim-4", "sim-5"});
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  CancelDuring(env, "promote-master.yml", "master-2");
  auto scaled = env.service().ScaleMasters(id, 5, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  store::Operation op = env.WaitForOperation(scaled->operation.id);
  ASSERT_EQ(op.state, "cancelled");
  EXPECT_EQ(ReadyMasters(env, id), 3) << "stopped at the first odd count after the cancel";
  env.bootstrapper().OnRun(nullptr);
  auto retried = env.service().Retry(op.id);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  op = env.WaitForOperation(op.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(ReadyMasters(env, id), 5);
  ExpectConsistentCluster(env, id);
}

// ------------------------------------------------------------------ fault injection

TEST(FaultInjectionTest, TheNthHypervisorCallFailingTransientlyIsRetriedTransparently) {
  Env env(TestName(), /*faulty_fleet=*/true);
  env.StartEngine();
  env.faults().Set({FaultRule{.on = "hypervisor", .match = "ensure_domain", .nth = 2}});
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  ASSERT_EQ(op.steps[2].name, "provision masters");
  EXPECT_EQ(op.steps[2].attempts, 2);
  for (const auto& s : op.steps) {
    if (s.index != 2) EXPECT_EQ(s.attempts, 1) << s.name;
  }
  ExpectHealthyDevCluster(env, created->cluster.id);
  for (const auto& [domain, n] : env.fleet().Defines()) EXPECT_EQ(n, 1) << domain;
  auto rules = env.faults().Rules();
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].fired, 1);
  EXPECT_GE(rules[0].seen, 6) << "every ensure_domain call was seen";
}

TEST(FaultInjectionTest, APermanentHypervisorFaultFailsTheStep) {
  Env env(TestName(), /*faulty_fleet=*/true);
  env.StartEngine();
  env.faults().Set(
      {FaultRule{.on = "hypervisor", .match = "sim-2", .code = "internal", .times = 0}});
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_EQ(op.steps[2].state, "failed");
  EXPECT_EQ(op.steps[2].attempts, 1);
  EXPECT_NE(op.steps[2].message.find("injected fault on hypervisor sim-2"), std::string::npos)
      << op.steps[2].message;
  EXPECT_EQ(env.FindCluster(created->cluster.id)->status, "error");
}

TEST(FaultInjectionTest, StepFaultsMatchByNameOrKindAndFireOnTheNthMatch) {
  Env env(TestName());
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<FaultHooks>(env.faults());
  env.StartEngine(o);
  // By kind, second match: join master-2 passes, join master-3 fails.
  env.faults().Set({FaultRule{.match = "join_master", .code = "internal", .nth = 2}});
  auto a = env.Create(Env::DevRequest("by-kind"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  store::Operation op = env.WaitForOperation(a->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_EQ(op.steps[4].name, "join master-2");
  EXPECT_EQ(op.steps[4].state, "succeeded");
  EXPECT_EQ(op.steps[5].name, "join master-3");
  EXPECT_EQ(op.steps[5].state, "failed");
  EXPECT_NE(op.error.find("join master-3"), std::string::npos) << op.error;
  auto rules = env.faults().Rules();
  EXPECT_EQ(rules[0].seen, 2);
  EXPECT_EQ(rules[0].fired, 1);

  // By name: only that step.
  env.faults().Set({FaultRule{.match = "provision workers", .code = "internal"}});
  auto b = env.Create(Env::DevRequest("by-name"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  op = env.WaitForOperation(b->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_EQ(op.steps[6].name, "provision workers");
  EXPECT_EQ(op.steps[6].state, "failed");
  EXPECT_NE(op.steps[6].message.find("injected fault on step provision workers"), std::string::npos)
      << op.steps[6].message;
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(op.steps[i].state, "succeeded") << op.steps[i].name;

  // Transient step faults are retried: twice unavailable, then it passes.
  env.faults().Set({FaultRule{.match = "verify", .times = 2}});
  auto c = env.Create(Env::DevRequest("transient"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  op = env.WaitForOperation(c->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(op.steps.back().attempts, 3);
  EXPECT_EQ(env.faults().Rules()[0].fired, 2);
}

TEST(FaultInjectionTest, DelaysSlowStepsAndHypervisorCallsDown) {
  Env env(TestName(), /*faulty_fleet=*/true);
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<FaultHooks>(env.faults());
  env.StartEngine(o);
  env.faults().Set({
      FaultRule{.on = "hypervisor",
                .match = "find_domain",
                .action = "delay",
                .times = 0,
                .delay_ms = 40},
      FaultRule{.on = "step", .match = "reserve", .action = "delay", .delay_ms = 150},
  });
  auto started = std::chrono::steady_clock::now();
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(op.state, "succeeded") << op.error;
  // verify looks up 6 domains, each 40 ms slower; reserve waits 150 ms before it starts.
  EXPECT_GE(op.steps.back().finished_at - op.steps.back().started_at, 6 * 40);
  EXPECT_GE(took, std::chrono::milliseconds(150 + 6 * 40));
  auto rules = env.faults().Rules();
  EXPECT_EQ(rules[0].fired, 6);
  EXPECT_EQ(rules[1].fired, 1);
  ExpectHealthyDevCluster(env, created->cluster.id);
}

// ------------------------------------------------------------------ events

std::string Summary(const store::Event& e) {
  auto j = nlohmann::json::parse(e.data);
  if (e.kind == "operation") {
    return "operation " + j["state"].get<std::string>() + " " +
           std::to_string(j["progress"].get<int>());
  }
  if (e.kind == "step") {
    return "step " + std::to_string(j["index"].get<int64_t>()) + " " +
           j["state"].get<std::string>();
  }
  if (e.kind == "cluster") return "cluster " + j["status"].get<std::string>();
  return e.kind;
}

TEST(EventsTest, ACreateEmitsOperationStepAndClusterEventsInOrder) {
  Env env(TestName());
  env.StartEngine();
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string id = created->cluster.id;
  store::Operation op = env.WaitForOperation(created->operation.id);
  ASSERT_EQ(op.state, "succeeded") << op.error;
  env.WaitIdle();
  std::vector<store::Event> events;
  ASSERT_TRUE(env.db()
                  .Read([&](store::Tx& tx) {
                    events = store::events::ListForCluster(tx, id, "", 1000);
                    return Status::Ok();
                  })
                  .ok());
  std::vector<std::string> expected = {"operation pending 0", "cluster provisioning",
                                       "operation running 0"};
  const size_t n = op.steps.size();
  for (size_t i = 0; i < n; ++i) {
    expected.push_back("step " + std::to_string(i) + " running");
    expected.push_back("step " + std::to_string(i) + " succeeded");
    expected.push_back("operation running " + std::to_string((i + 1) * 100 / n));
  }
  expected.push_back("operation succeeded 100");
  expected.push_back("cluster running");
  std::vector<std::string> got;
  std::string running;  // the step whose run is printing
  for (const auto& e : events) {
    std::string summary = Summary(e);
    if (e.kind == "log") {  // the lines themselves: EveryLineOfABootstrapRunIsALogEventOfItsStep
      auto j = nlohmann::json::parse(e.data);
      EXPECT_EQ("step " + std::to_string(j["index"].get<int64_t>()) + " running", running)
          << "a log line outside its step";
      continue;
    }
    if (e.kind == "step") running = summary;
    got.push_back(summary);
  }
  EXPECT_EQ(got, expected);
  int64_t at = 0;
  for (const auto& e : events) {
    EXPECT_EQ(e.cluster_id, id);
    EXPECT_EQ(e.team_id, kTeamId);
    EXPECT_GE(e.at, at) << "events go back in time";
    at = e.at;
    auto j = nlohmann::json::parse(e.data);
    if (e.kind == "operation" || e.kind == "step") {
      EXPECT_EQ(j["operation"], op.id);
    }
    if (e.kind == "step") {
      EXPECT_EQ(j["name"], op.steps[j["index"].get<size_t>()].name);
      EXPECT_EQ(j["attempts"], 1);
    }
  }
  // A stream resumed after any event sees exactly the rest.
  for (size_t k = 0; k < events.size(); ++k) {
    std::vector<store::Event> rest;
    EXPECT_OK(env.db().Read([&](store::Tx& tx) {
      rest = store::events::ListForCluster(tx, id, events[k].id, 1000);
      return Status::Ok();
    }));
    EXPECT_EQ(rest.size(), events.size() - k - 1) << "after event " << k;
  }
}

TEST(StepWaitTest, AWaitThatLaterSucceedsDoesNotUseUpAttempts) {
  Env env(TestName());
  // Verify says "not yet" 3 times as often as a step may fail, then runs.
  const int waits = 3 * Env::FastOptions().max_attempts;
  InterceptedSteps steps(env.steps(), "verify", [&](int call) -> std::optional<StepResult> {
    if (call <= waits) {
      return StepResult::Wait("domain of master-1 is not running", std::chrono::milliseconds(1));
    }
    return std::nullopt;
  });
  env.StartEngine(Env::FastOptions(), &steps);
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(steps.calls(), waits + 1);
  ASSERT_EQ(op.steps.back().kind, "verify");
  EXPECT_EQ(op.steps.back().state, "succeeded");
  EXPECT_EQ(op.steps.back().attempts, 1) << "waiting spent attempts";
  EXPECT_EQ(op.steps.back().message, "6 nodes ready, every domain running");
}

TEST(StepWaitTest, AWaitThatNeverEndsFailsTheStepAfterMaxWaitNamingWhatItWaitedFor) {
  Env env(TestName());
  InterceptedSteps steps(env.steps(), "verify", [](int) -> std::optional<StepResult> {
    return StepResult::Wait("domain of master-1 is not running", std::chrono::milliseconds(1));
  });
  EngineOptions o = Env::FastOptions();
  o.max_wait_ms = 20;
  env.StartEngine(o, &steps);
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_NE(op.error.find("still waiting"), std::string::npos) << op.error;
  EXPECT_NE(op.error.find("domain of master-1 is not running"), std::string::npos) << op.error;
  EXPECT_EQ(op.steps.back().state, "failed");
  EXPECT_EQ(op.steps.back().attempts, o.max_attempts);
}

TEST(StepWaitTest, TheHealthGateWaitsForAStoppedMasterWithoutSpendingAttempts) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  auto nodes = env.LiveNodes(id);
  auto master = std::find_if(nodes.begin(), nodes.end(),
                             [](const store::Node& n) { return n.name == "master-1"; });
  ASSERT_NE(master, nodes.end());
  const std::string domain = DomainName(id, "master-1");
  env.fleet().StopDomain(master->hypervisor, domain);

  // Start master-1 again once the gate has looked more often than a step may fail.
  const int looks = 3 * Env::FastOptions().max_attempts;
  InterceptedSteps steps(env.steps(), "health_gate", [&](int call) -> std::optional<StepResult> {
    if (call == looks) {
      auto hv = env.fleet().Get(master->hypervisor, "fake://" + master->hypervisor);
      EXPECT_TRUE(hv.ok());
      if (hv.ok()) {
        EXPECT_TRUE((*hv)->EnsureDomainRunning({domain, {id, "master-1", "master"}, 4, 4}).ok());
      }
    }
    return std::nullopt;
  });
  env.StartEngine(Env::FastOptions(), &steps);
  auto scaled = env.service().ScaleMasters(id, 3, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  store::Operation op = env.WaitForOperation(scaled->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_GE(steps.calls(), looks);
  size_t gate = FirstIndexOf(op, "health_gate");
  ASSERT_LT(gate, op.steps.size());
  EXPECT_EQ(op.steps[gate].attempts, 1) << op.steps[gate].message;
  EXPECT_EQ(op.steps[gate].state, "succeeded");
}

TEST(StepThrowTest, AStepThatThrowsFailsThatStepWithAClearMessageAndTheEngineKeepsRunning) {
  Env env(TestName());
  InterceptedSteps steps(env.steps(), "verify", [](int call) -> std::optional<StepResult> {
    if (call == 1) throw std::runtime_error("boom: the disk said no");
    return std::nullopt;
  });
  env.StartEngine(Env::FastOptions(), &steps);
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "failed");
  const store::Step& verify = op.steps.back();
  EXPECT_EQ(verify.state, "failed");
  EXPECT_EQ(verify.attempts, 1) << "a throw is not retried";
  EXPECT_NE(verify.message.find("threw"), std::string::npos) << verify.message;
  EXPECT_NE(verify.message.find("boom: the disk said no"), std::string::npos) << verify.message;
  EXPECT_NE(op.error.find("verify cluster"), std::string::npos) << op.error;
  EXPECT_EQ(env.FindCluster(created->cluster.id)->status, "error");

  // The engine is still there: a retry of the same operation and a new cluster both run.
  EXPECT_TRUE(env.engine().running());
  ASSERT_TRUE(env.service().Retry(op.id).ok());
  EXPECT_EQ(env.WaitForOperation(op.id).state, "succeeded");
  auto second = env.Create(Env::DevRequest("billing-two"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(env.WaitForOperation(second->operation.id).state, "succeeded");
}

}  // namespace
}  // namespace kaas::lifecycle
