// kaasd survives its database (issue 20): the real kaasd on a PostgreSQL server of this test's
// own (scripts/start-postgres.sh), which the test kills, keeps away, and starts again — or cuts
// off behind a proxy that stops forwarding without closing anything. Operations in flight
// converge without a failed step or a spent retry, /readyz goes 503 -> 200, logins work again,
// and no request waits past its timeout. The only time limits are the waits' own deadlines.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "blackhole_proxy.h"
#include "kaasd_clusters.h"
#include "kaasd_process.h"
#include "postgres_server.h"

namespace kaas::testing {
namespace {

using namespace std::chrono_literals;

class PostgresOutageTest : public ::testing::Test {
 protected:
  // Durable: the test crashes this server, and commits kaasd was told about must survive.
  void SetUp() override {
    ASSERT_TRUE(server_.Start(/*durable=*/true)) << "scripts/start-postgres.sh failed";
  }
  void TearDown() override {
    if (!HasFailure() || !kaasd_) return;
    std::ifstream in(kaasd_->data_dir() / "kaasd.log");
    std::cerr << "--- kaasd.log ---\n" << in.rdbuf();
  }

  void StartKaasd(int db_port, const std::string& params = "") {
    std::string url =
        "postgresql://postgres@127.0.0.1:" + std::to_string(db_port) + "/kaas" + params;
    kaasd_ = std::make_unique<KaasdProcess>(std::vector<std::string>{
        "--database", url, "--sim-delay-ms", "300", "--database-timeout-seconds", "3"});
    ASSERT_TRUE(kaasd_->Start()) << "kaasd did not start on " << url;
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
  }

  // Waits (polling, up to `timeout`) until `check` holds; false on timeout.
  template <typename F>
  bool WaitFor(F check, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (check()) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }

  // Waits until `op` has finished at least `steps` steps and is still running.
  void WaitSteps(const std::string& op, int steps) {
    Json last;
    bool reached = WaitFor(
        [&] {
          last = kaasd_->Call("GET", "/api/v1/operations/" + op).body;
          int done = 0;
          for (const auto& s : last["steps"]) done += s["state"] == "succeeded";
          return done >= steps;
        },
        60s);
    ASSERT_TRUE(reached) << last.dump(2);
    ASSERT_EQ(last["state"], "running") << "finished before the outage: " << last.dump(2);
  }

  // What a client sees while the database is away: the process answers, /readyz is 503 and
  // says why, API calls are 503 `unavailable` with Retry-After — never a 500, never a 401.
  void ExpectDatabaseAway(const std::string& cluster_id) {
    HttpResult ready;
    ASSERT_TRUE(WaitFor(
        [&] {
          ready = kaasd_->Call("GET", "/readyz", "", "");
          return ready.status == 503;
        },
        60s))
        << "readyz: " << ready.status << " " << ready.raw;
    EXPECT_NE(ready.body["checks"]["database"], "ok") << ready.raw;
    EXPECT_NE(ready.body["checks"]["database"].get<std::string>().find("database"),
              std::string::npos)
        << ready.raw;
    EXPECT_EQ(kaasd_->Call("GET", "/healthz", "", "").status, 200);
    auto get = kaasd_->Call("GET", "/api/v1/clusters/" + cluster_id);
    EXPECT_EQ(get.status, 503) << get.raw;
    EXPECT_EQ(get.body["error"]["code"], "unavailable") << get.raw;
    EXPECT_EQ(get.headers.count("Retry-After"), 1u) << get.raw;
    auto login = kaasd_->Call(
        "POST", "/api/v1/auth/login",
        Json{{"username", "admin"}, {"password", KaasdProcess::kAdminPassword}}.dump(), "");
    EXPECT_EQ(login.status, 503) << login.raw;
  }

  // The database is back: /readyz 200 and a login work again, within a generous deadline.
  void ExpectDatabaseBack() {
    HttpResult ready;
    ASSERT_TRUE(WaitFor(
        [&] {
          ready = kaasd_->Call("GET", "/readyz", "", "");
          return ready.status == 200;
        },
        60s))
        << "readyz: " << ready.status << " " << ready.raw;
    EXPECT_FALSE(kaasd_->LoginAdmin().empty());
  }

  // The operation converged with every step done at its first attempt: the outage was not
  // counted against any step.
  void ExpectSucceededWithoutRetries(const std::string& op) {
    Json done = kaasd_->WaitOperation(op, 180000);
    ASSERT_EQ(done["state"], "succeeded") << done.dump(2);
    for (const auto& s : done["steps"]) {
      EXPECT_EQ(s["state"], "succeeded") << s.dump();
      EXPECT_EQ(s["attempts"], 1) << s.dump();
    }
  }

  int CountLog(const std::string& msg) {
    std::ifstream in(kaasd_->data_dir() / "kaasd.log");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += line.find("\"msg\":\"" + msg + "\"") != std::string::npos;
    return n;
  }

  std::pair<std::string, std::string> Create(const std::string& name, int workers) {
    return CreateDevCluster(*kaasd_, name, workers);
  }

  PostgresServer server_{"kaas-pg-outage"};
  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(PostgresOutageTest, ServerRestartInTheMiddleOfACreateAndOfAScale) {
  StartKaasd(server_.port());
  auto [cluster, create_op] = Create("alpha", 2);
  ASSERT_FALSE(create_op.empty());
  WaitSteps(create_op, 2);
  ASSERT_TRUE(server_.Kill());
  ExpectDatabaseAway(cluster);
  std::this_thread::sleep_for(5s);
  ASSERT_TRUE(server_.Restart());
  ExpectDatabaseBack();
  ExpectSucceededWithoutRetries(create_op);

  auto scale = kaasd_->Call("POST", "/api/v1/clusters/" + cluster + "/workers", R"({"count":4})");
  ASSERT_EQ(scale.status, 202) << scale.raw;
  std::string scale_op = scale.body["operation"]["id"];
  WaitSteps(scale_op, 1);
  ASSERT_TRUE(server_.Kill());
  ExpectDatabaseAway(cluster);
  std::this_thread::sleep_for(5s);
  ASSERT_TRUE(server_.Restart());
  ExpectDatabaseBack();
  ExpectSucceededWithoutRetries(scale_op);

  auto got = kaasd_->Call("GET", "/api/v1/clusters/" + cluster);
  ASSERT_EQ(got.status, 200) << got.raw;
  EXPECT_EQ(got.body["status"], "running");
  int workers = 0;
  for (const auto& n : got.body["nodes"]) {
    EXPECT_EQ(n["state"], "ready") << n.dump();
    workers += n["role"] == "worker";
  }
  EXPECT_EQ(workers, 4);
  // Two outages, each logged once when it began and once when it ended.
  EXPECT_EQ(CountLog("database unavailable"), 2);
  EXPECT_EQ(CountLog("database available again"), 2);
}

TEST_F(PostgresOutageTest, ServerAwayForAMinute) {
  StartKaasd(server_.port());
  auto [cluster, op] = Create("beta", 1);
  ASSERT_FALSE(op.empty());
  WaitSteps(op, 2);
  ASSERT_TRUE(server_.Kill());
  auto gone = std::chrono::steady_clock::now();
  ExpectDatabaseAway(cluster);
  std::this_thread::sleep_until(gone + 60s);
  // Still the same: nothing gave up or failed in the meantime.
  ExpectDatabaseAway(cluster);
  ASSERT_TRUE(server_.Restart());
  ExpectDatabaseBack();
  ExpectSucceededWithoutRetries(op);
  EXPECT_EQ(CountLog("database unavailable"), 1);
  EXPECT_EQ(CountLog("database available again"), 1);
  EXPECT_EQ(CountLog("operation ended"), 0);
}

TEST_F(PostgresOutageTest, NetworkCutWithoutFinNeverHangsARequest) {
  BlackholeProxy proxy;
  ASSERT_TRUE(proxy.Start(server_.port()));
  StartKaasd(proxy.port(), "?connect_timeout=2");
  auto [cluster, op] = Create("gamma", 1);
  ASSERT_FALSE(op.empty());
  WaitSteps(op, 2);
  proxy.Cut();
  // Each call gets an answer (KaasdProcess gives up after 30 s and reports status 0): kaasd
  // closes a connection that has not answered within its database timeout.
  ExpectDatabaseAway(cluster);
  ExpectDatabaseAway(cluster);
  proxy.Heal();
  ExpectDatabaseBack();
  ExpectSucceededWithoutRetries(op);
}

}  // namespace
}  // namespace kaas::testing
