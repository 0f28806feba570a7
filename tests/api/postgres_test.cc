// The real kaasd on PostgreSQL (the ctest fixture `postgres`, a database of its own): clusters
// are created, an operation interrupted by kill -9 converges after a restart, and deletes leave
// no usage behind.

#include <gtest/gtest.h>

#include <thread>

#include "kaas/store/database.h"
#include "kaas/store/repositories.h"
#include "kaasd_clusters.h"
#include "kaasd_process.h"
#include "scratch_database.h"
#include "status_testing.h"
#include "webhook_receiver.h"

namespace kaas::testing {
namespace {

class PostgresKaasdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresUrl();
    ASSERT_FALSE(server_.empty()) << "KAAS_TEST_POSTGRES_URL is not set (ctest fixture postgres)";
    auto url = CreateScratchDatabase(server_, "kaasd");
    ASSERT_TRUE(url.ok()) << "PostgreSQL at " << server_ << ": " << url.status().ToString();
    url_ = *url;
    kaasd_ = std::make_unique<KaasdProcess>(
        std::vector<std::string>{"--database", url_, "--sim-delay-ms", "100"});
    ASSERT_TRUE(kaasd_->Start()) << "kaasd did not start on " << url_;
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
  }
  void TearDown() override {
    kaasd_.reset();
    if (!url_.empty()) EXPECT_TRUE(DropScratchDatabase(server_, url_).ok());
  }

  // Creates a cluster; returns {cluster id, operation id}.
  std::pair<std::string, std::string> Create(const std::string& name, int workers) {
    return CreateDevCluster(*kaasd_, name, workers);
  }

  std::string server_, url_;
  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(PostgresKaasdTest, ClustersConvergeAcrossKillNineAndDeleteCleanly) {
  ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
  auto [first, first_op] = Create("first", 1);
  ASSERT_FALSE(first_op.empty());
  Json done = kaasd_->WaitOperation(first_op, 60000);
  ASSERT_EQ(done["state"], "succeeded") << done.dump(2);

  // Kill kaasd once the second create has finished a step but not all of them.
  auto [second, second_op] = Create("second", 2);
  ASSERT_FALSE(second_op.empty());
  for (int i = 0; i < 500; ++i) {
    auto r = kaasd_->Call("GET", "/api/v1/operations/" + second_op);
    int succeeded = 0;
    for (const auto& s : r.body["steps"]) succeeded += s["state"] == "succeeded";
    std::string state = r.body.value("state", "");
    if (succeeded >= 1 || (state != "pending" && state != "running")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/operations/" + second_op).body["state"], "running");
  kaasd_->Kill();
  ASSERT_TRUE(kaasd_->Start()) << "kaasd did not restart";
  ASSERT_FALSE(kaasd_->LoginAdmin().empty());
  done = kaasd_->WaitOperation(second_op, 60000);
  ASSERT_EQ(done["state"], "succeeded") << done.dump(2);
  auto cluster = kaasd_->Call("GET", "/api/v1/clusters/" + second);
  EXPECT_EQ(cluster.body["status"], "running");
  for (const auto& n : cluster.body["nodes"]) EXPECT_EQ(n["state"], "ready") << n.dump();
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/teams/payments/quota").body["usage"]["clusters"], 2);

  // What kaasd wrote is in the PostgreSQL database, not in a SQLite file of its data dir.
  EXPECT_FALSE(std::filesystem::exists(kaasd_->data_dir() / "kaas.db"));
  auto db = store::Database::Open(url_, 1);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_OK((*db)->Read([](store::Tx& tx) {
    store::ClusterFilter all;
    all.all_teams = true;
    EXPECT_EQ(store::clusters::List(tx, all).size(), 2u);
    return Status::Ok();
  }));
  db->reset();

  for (const auto& id : {first, second}) {
    auto del = kaasd_->Call("DELETE", "/api/v1/clusters/" + id);
    ASSERT_EQ(del.status, 202) << del.raw;
    done = kaasd_->WaitOperation(del.body["operation"]["id"], 60000);
    EXPECT_EQ(done["state"], "succeeded") << done.dump(2);
    EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters/" + id).body["status"], "deleted");
  }
  auto quota = kaasd_->Call("GET", "/api/v1/teams/payments/quota");
  EXPECT_EQ(quota.body["usage"]["clusters"], 0);
  EXPECT_EQ(quota.body["usage"]["vcpus"], 0);
}

// Notifications on PostgreSQL: the outbox query, the claim and the delivery log, and an outbox
// entry that waited through kill -9 delivered (signed) after the restart.
TEST_F(PostgresKaasdTest, NotificationsWaitInTheOutboxThroughKillNine) {
  ASSERT_TRUE(kaasd_->Kill());
  kaasd_->SetArgs({"--database", url_, "--sim-delay-ms", "100", "--webhook-allow-loopback", "true",
                   "--webhook-retry-base-ms", "300", "--webhook-timeout-ms", "1000"});
  ASSERT_TRUE(kaasd_->Start());
  ASSERT_FALSE(kaasd_->LoginAdmin().empty());
  ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
  const int port = FreePort();  // nobody listens yet
  auto hook = kaasd_->Call("POST", "/api/v1/teams/payments/webhooks",
                           Json{{"url", "http://127.0.0.1:" + std::to_string(port) + "/h"},
                                {"format", "json"},
                                {"events", {"cluster.created"}},
                                {"secret", "pg"}}
                               .dump());
  ASSERT_EQ(hook.status, 201) << hook.raw;
  const std::string id = hook.body["id"];
  auto [cluster, op] = Create("hooked", 1);
  ASSERT_EQ(kaasd_->WaitOperation(op, 60000)["state"], "succeeded");
  Json log;
  for (int i = 0; i < 200 && log.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log = kaasd_->Call("GET", "/api/v1/webhooks/" + id + "/deliveries").body["items"];
  }
  ASSERT_FALSE(log.empty()) << "no attempt recorded";
  EXPECT_TRUE(log[0]["status_code"].is_null()) << log;

  ASSERT_TRUE(kaasd_->Kill());
  WebhookReceiver receiver(port);
  ASSERT_TRUE(kaasd_->Start());
  ASSERT_TRUE(receiver.WaitFor([](const auto& r) { return !r.empty(); }, 30000));
  auto got = receiver.received()[0];
  EXPECT_EQ(got.json["id"], log[0]["event_id"]);
  EXPECT_EQ(got.json["cluster"]["id"], cluster);
  EXPECT_EQ(got.headers["X-Kaas-Signature"], HmacSha256Signature("pg", got.body));
}

}  // namespace
}  // namespace kaas::testing
