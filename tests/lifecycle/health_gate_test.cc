// The health gate asks etcd itself before and after every membership change (issue 17): what
// etcd answers decides, not kaas's own record.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "kaas/lifecycle/cluster_service.h"
#include "kaas/lifecycle/engine.h"
#include "kaas/provisioner/bootstrapper.h"
#include "lifecycle_fakes.h"
#include "status_testing.h"

namespace kaas::lifecycle {
namespace {

using namespace test_support;  // NOLINT: the suites' shared fakes and checks

std::vector<const store::Step*> Gates(const store::Operation& op) {
  std::vector<const store::Step*> gates;
  for (const auto& s : op.steps) {
    if (s.kind == "health_gate") gates.push_back(&s);
  }
  return gates;
}

TEST(HealthGateTest, EtcdIsAskedOnAVoterBeforeEveryMembershipChange) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  for (int64_t count : {3, 1}) {
    SCOPED_TRACE("to " + std::to_string(count) + " masters");
    const size_t asked_before = env.bootstrapper().EtcdQuestions().size();
    auto changed = env.service().ScaleMasters(id, count, "alice", false);
    ASSERT_TRUE(changed.ok()) << changed.status().ToString();
    store::Operation op = env.WaitForOperation(changed->operation.id);
    ExpectAllSucceededOnce(op);
    const auto gates = Gates(op);
    ASSERT_EQ(gates.size(), 2u);
    for (const auto* g : gates) {
      EXPECT_EQ(g->message.rfind("etcd (asked on master-1): ", 0), 0u) << g->message;
      EXPECT_NE(g->message.find("all healthy"), std::string::npos) << g->message;
    }
    auto questions = env.bootstrapper().EtcdQuestions();
    ASSERT_EQ(questions.size(), asked_before + gates.size());
    for (size_t i = asked_before; i < questions.size(); ++i) {
      const auto& q = questions[i];
      ASSERT_EQ(q.targets.size(), 1u);
      auto asked = std::find_if(q.nodes.begin(), q.nodes.end(),
                                [&](const auto& n) { return n.name == q.targets[0]; });
      ASSERT_NE(asked, q.nodes.end());
      EXPECT_TRUE(asked->etcd_voter) << "etcd was asked on " << q.targets[0] << ", not a voter";
    }
  }
}

// A member etcd reports unhealthy is waited for; once etcd says it is healthy the change goes on,
// and the gate spent one attempt.
TEST(HealthGateTest, AnUnhealthyMemberIsWaitedForWithoutSpendingAttempts) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  const int unhealthy = 3 * Env::FastOptions().max_attempts;
  std::atomic<int> asked{0};
  env.bootstrapper().AnswerEtcd([&](provisioner::EtcdView view) -> Result<provisioner::EtcdView> {
    if (++asked <= unhealthy) {
      for (auto& m : view.members) {
        m.healthy = false;
        m.error = "context deadline exceeded";
      }
    }
    return view;
  });
  auto changed = env.service().ScaleMasters(id, 3, "alice", false);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  store::Operation op = env.WaitForOperation(changed->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_GT(asked.load(), unhealthy);
  // Nothing joined while etcd said a member was unhealthy.
  auto jobs = env.bootstrapper().Jobs();
  EXPECT_EQ(std::count_if(jobs.begin(), jobs.end(),
                          [](const auto& j) { return j.playbook == "join-master.yml"; }),
            2);
}

// etcd lists a member kaas never added: the gate fails and no membership change is made.
TEST(HealthGateTest, AMemberKaasDidNotAddStopsTheChange) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  env.bootstrapper().AnswerEtcd([](provisioner::EtcdView view) -> Result<provisioner::EtcdView> {
    view.members.push_back(
        {"intruder", "https://10.9.9.9:2380", "https://10.9.9.9:2379", false, true, ""});
    return view;
  });
  auto changed = env.service().ScaleMasters(id, 3, "alice", false);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  store::Operation op = env.WaitForOperation(changed->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_NE(op.error.find("intruder"), std::string::npos) << op.error;
  ASSERT_FALSE(Gates(op).empty());
  EXPECT_EQ(Gates(op).front()->state, "failed");
  for (const auto& j : env.bootstrapper().Jobs()) {
    EXPECT_NE(j.playbook, "join-master.yml") << "a learner was added past a failed gate";
  }
}

// A voter kaas knows that etcd no longer lists as a voting member stops the change too.
TEST(HealthGateTest, AVoterEtcdLostStopsTheChange) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  env.bootstrapper().AnswerEtcd([](provisioner::EtcdView view) -> Result<provisioner::EtcdView> {
    for (auto& m : view.members) m.learner = true;  // etcd: master-1 only a learner
    return view;
  });
  auto changed = env.service().ScaleMasters(id, 3, "alice", false);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  store::Operation op = env.WaitForOperation(changed->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_NE(op.error.find("master-1"), std::string::npos) << op.error;
  for (const auto& j : env.bootstrapper().Jobs()) {
    EXPECT_NE(j.playbook, "join-master.yml") << "a learner was added past a failed gate";
  }
}

}  // namespace
}  // namespace kaas::lifecycle
