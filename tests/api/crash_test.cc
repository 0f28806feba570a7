// kill -9 of kaasd in the middle of operations: after a restart every operation converges, with
// exactly the planned nodes and domains and nothing orphaned.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kaasd_ = std::make_unique<KaasdProcess>(std::vector<std::string>{"--sim-delay-ms", "150"});
    ASSERT_TRUE(kaasd_->Start());
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
  }

  void Restart(int delay_ms) {
    kaasd_->SetArgs({"--sim-delay-ms", std::to_string(delay_ms)});
    ASSERT_TRUE(kaasd_->Start()) << "kaasd did not restart";
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
  }

  // Waits until the operation has at least `done` succeeded steps, then kills kaasd and checks
  // in its database that the kill landed mid-operation: still running, `done` or more steps
  // succeeded, not all of them.
  void KillAfterSteps(const std::string& op, size_t done) {
    Json last;
    for (int i = 0; i < 1500; ++i) {
      auto r = kaasd_->Call("GET", "/api/v1/operations/" + op);
      last = r.body;
      size_t n = 0;
      for (const auto& s : r.body["steps"]) n += s["state"] == "succeeded";
      ASSERT_TRUE(r.body["state"] == "pending" || r.body["state"] == "running")
          << "ended before the kill: " << r.raw;
      if (n >= done) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(kaasd_->Kill()) << "kaasd was not running";
    OperationAtRest at_rest = ReadOperationAtRest(kaasd_->data_dir(), op);
    ASSERT_EQ(at_rest.state, "running") << "the kill did not land mid-operation";
    EXPECT_GE(at_rest.SucceededSteps(), done) << last.dump(2);
    EXPECT_LT(at_rest.SucceededSteps(), at_rest.step_states.size());
  }

  // Every domain on every simulated hypervisor: name -> count (a duplicate would be > 1).
  std::multiset<std::string> Domains() {
    std::multiset<std::string> out;
    for (const auto& file : SimFiles(kaasd_->data_dir())) {
      for (const auto& [name, running] : SimDomains(file)) {
        EXPECT_TRUE(running) << name;
        out.insert(name);
      }
    }
    return out;
  }

  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(CrashTest, CreateSurvivesKillNineAtSeveralPointsWithExactlyThePlannedNodes) {
  auto created = kaasd_->Call("POST", "/api/v1/clusters",
                              R"({"name":"crashy","team":"payments","purpose":"dev",
                                  "workers":{"count":3}})");
  ASSERT_EQ(created.status, 202) << created.raw;
  std::string id = created.body["cluster"]["id"];
  std::string op = created.body["operation"]["id"];
  size_t total_steps = created.body["operation"]["steps"].size();

  // Crash while masters are provisioning, again while they join, again among the workers.
  // After a restart every simulated call takes 800 ms, so that the operation is still running
  // when the test has logged in again and waits for the next kill point.
  for (size_t done : {1, 3, 5}) {
    ASSERT_NO_FATAL_FAILURE(KillAfterSteps(op, done));
    Restart(800);
  }
  Json finished = kaasd_->WaitOperation(op, 60000);
  ASSERT_EQ(finished["state"], "succeeded") << finished.dump(2);
  EXPECT_EQ(finished["steps"].size(), total_steps);

  auto cluster = kaasd_->Call("GET", "/api/v1/clusters/" + id);
  EXPECT_EQ(cluster.body["status"], "running");
  std::set<std::string> names;
  for (const auto& n : cluster.body["nodes"]) {
    names.insert(n["name"].get<std::string>());
    EXPECT_EQ(n["state"], "ready");
  }
  EXPECT_EQ(names, (std::set<std::string>{"master-1", "master-2", "master-3", "worker-1",
                                          "worker-2", "worker-3"}));
  auto domains = Domains();
  EXPECT_EQ(domains.size(), 6u);
  for (const auto& n : names) EXPECT_EQ(domains.count("kaas-" + id + "-" + n), 1u) << n;

  // Quota usage equals what is allocated.
  auto quota = kaasd_->Call("GET", "/api/v1/teams/payments/quota");
  EXPECT_EQ(quota.body["usage"]["vcpus"], 3 * 4 + 3 * 4);
  EXPECT_EQ(quota.body["usage"]["clusters"], 1);
}

TEST_F(CrashTest, DeleteSurvivesKillNineAndLeavesNothing) {
  auto created = kaasd_->Call("POST", "/api/v1/clusters",
                              R"({"name":"gone","team":"payments","purpose":"dev",
                                  "workers":{"count":2}})");
  ASSERT_EQ(created.status, 202);
  std::string id = created.body["cluster"]["id"];
  ASSERT_EQ(kaasd_->WaitOperation(created.body["operation"]["id"], 60000)["state"], "succeeded");
  ASSERT_EQ(Domains().size(), 5u) << "the check below must see the cluster's domains first";

  auto del = kaasd_->Call("DELETE", "/api/v1/clusters/" + id);
  ASSERT_EQ(del.status, 202);
  std::string op = del.body["operation"]["id"];
  ASSERT_NO_FATAL_FAILURE(KillAfterSteps(op, 1));
  Restart(0);
  Json finished = kaasd_->WaitOperation(op, 60000);
  ASSERT_EQ(finished["state"], "succeeded") << finished.dump(2);
  EXPECT_TRUE(Domains().empty());
  auto cluster = kaasd_->Call("GET", "/api/v1/clusters/" + id);
  EXPECT_EQ(cluster.body["status"], "deleted");
  auto quota = kaasd_->Call("GET", "/api/v1/teams/payments/quota");
  EXPECT_EQ(quota.body["usage"]["vcpus"], 0);
  EXPECT_EQ(quota.body["usage"]["clusters"], 0);
}

// SQLite serves one kaasd: a second one on the same database file (the same data dir) is
// refused and says why, and the first keeps serving. Several replicas need PostgreSQL.
TEST(SqliteOwnerTest, SecondKaasdOnTheSameSqliteFileIsRefused) {
  KaasdProcess first;
  ASSERT_TRUE(first.Start());
  KaasdProcess second({"--data-dir", first.data_dir().string()});
  EXPECT_FALSE(second.Start());
  std::ifstream log(second.data_dir() / "kaasd.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("another kaasd (pid "), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("PostgreSQL"), std::string::npos) << text.str();
  EXPECT_EQ(first.Call("GET", "/readyz", "", "").status, 200);
  // Once the first is gone, the file is free again.
  ASSERT_TRUE(first.Kill());
  EXPECT_TRUE(second.Start());
}

}  // namespace
}  // namespace kaas::testing
