// The store's tests, run twice by ctest: on SQLite (StoreTest.*, label unit) and on a real
// PostgreSQL server (postgresql:StoreTest.*, label integration, ctest fixture `postgres`, which
// sets KAAS_TEST_POSTGRES_URL). Each test gets an empty database of its own.

#include <gtest/gtest.h>
#include <soci/soci.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "kaas/store/database.h"
#include "kaas/store/repositories.h"
#include "scratch_database.h"
#include "status_testing.h"

namespace kaas::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    server_ = testing::PostgresUrl();
    if (!server_.empty()) {
      auto url = testing::CreateScratchDatabase(server_, test);
      ASSERT_TRUE(url.ok()) << "PostgreSQL at " << server_ << ": " << url.status().ToString();
      url_ = *url;
    } else {
      dir_ = std::filesystem::temp_directory_path() /
             ("kaas-store-" + std::to_string(getpid()) + "-" + test);
      std::filesystem::remove_all(dir_);
      std::filesystem::create_directories(dir_);
      url_ = "sqlite://" + (dir_ / "kaas.db").string();
    }
    auto db = Database::Open(url_, 4);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_EQ(db_->sqlite(), server_.empty());
    Status migrated = db_->Migrate();
    ASSERT_TRUE(migrated.ok()) << migrated.ToString();
  }
  void TearDown() override {
    db_.reset();
    if (!server_.empty() && !url_.empty()) {
      Status dropped = testing::DropScratchDatabase(server_, url_);
      EXPECT_TRUE(dropped.ok()) << dropped.ToString();
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string server_;  // PostgreSQL: the fixture server; "" on SQLite
  std::string url_;
  std::filesystem::path dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(StoreTest, MigrationsAreAppliedOnceAndReportTheLatestVersion) {
  ASSERT_TRUE(db_->Migrate().ok());
  auto v = db_->SchemaVersion();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, Database::LatestSchemaVersion());
}

TEST_F(StoreTest, RejectsUnknownUrlScheme) {
  auto db = Database::Open("mysql://x", 1);
  EXPECT_EQ(db.status().code(), Code::kInvalidArgument);
}

TEST_F(StoreTest, PostgresUrlsThatCannotBePassedOnAreRefusedUpFront) {
  // SOCI splits libpq's keyword=value string at spaces and does not understand quotes.
  EXPECT_EQ(Database::Open("postgresql://a%20b@127.0.0.1:1/kaas", 1).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Database::Open("postgresql://127.0.0.1:1/kaas?sslmode", 1).status().code(),
            Code::kInvalidArgument);
  // A well-formed URL gets as far as connecting (nothing listens on port 1).
  EXPECT_EQ(
      Database::Open("postgresql://u:p%3Dq@127.0.0.1:1/kaas?connect_timeout=2", 1).status().code(),
      Code::kUnavailable);
}

TEST_F(StoreTest, DuplicateTeamNameIsAlreadyExistsAndRollsBack) {
  ASSERT_TRUE(db_->Write([](Tx& tx) {
                   teams::Insert(tx, {"t-1", "payments", 1});
                   return Status::Ok();
                 })
                  .ok());
  Status st = db_->Write([](Tx& tx) {
    teams::Insert(tx, {"t-2", "search", 2});
    teams::Insert(tx, {"t-3", "payments", 3});
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  ASSERT_TRUE(db_->Read([](Tx& tx) {
                   EXPECT_EQ(teams::List(tx).size(), 1u);
                   EXPECT_FALSE(teams::FindByName(tx, "search").has_value());
                   return Status::Ok();
                 })
                  .ok());
}

TEST_F(StoreTest, ErrorStatusFromCallbackRollsBack) {
  Status st = db_->Write([](Tx& tx) {
    teams::Insert(tx, {"t-1", "payments", 1});
    return Conflict("changed my mind");
  });
  EXPECT_EQ(st.code(), Code::kConflict);
  ASSERT_OK(db_->Read([](Tx& tx) {
    EXPECT_TRUE(teams::List(tx).empty());
    return Status::Ok();
  }));
}

TEST_F(StoreTest, OperationWithStepsRoundTripsAndOnlyOneActivePerCluster) {
  Operation op{"op-1", "cl-1", "create", "pending", "admin", "", 10, 10, 0, {}};
  op.steps.push_back({"op-1", 0, "provision masters", "provision_nodes", "master", "pending"});
  op.steps.push_back({"op-1", 1, "join master-2", "join_master", "master-2", "pending"});
  ASSERT_TRUE(db_->Write([&](Tx& tx) {
                   teams::Insert(tx, {"t-1", "payments", 1});
                   clusters::Insert(tx, {"cl-1", "t-1", "a", "dev", "1.36.3", "provisioning", "", 3,
                                         "m.small", "vm", 3, "vm", "w.medium", "admin", 1, 1});
                   operations::Insert(tx, op);
                   return Status::Ok();
                 })
                  .ok());
  Operation second = op;
  second.id = "op-2";
  for (auto& s : second.steps) s.operation_id = "op-2";
  EXPECT_EQ(db_->Write([&](Tx& tx) {
                 operations::Insert(tx, second);
                 return Status::Ok();
               })
                .code(),
            Code::kAlreadyExists);
  ASSERT_OK(db_->Read([](Tx& tx) {
    auto got = operations::Find(tx, "op-1");
    EXPECT_TRUE(got.has_value());
    EXPECT_EQ(got->steps.size(), 2u);
    EXPECT_EQ(got->steps[1].target, "master-2");
    EXPECT_EQ(operations::ListActiveIds(tx), std::vector<std::string>{"op-1"});
    EXPECT_FALSE(operations::Find(tx, "op-2").has_value());
    return Status::Ok();
  }));
}

TEST_F(StoreTest, QuotaUsageIsDerivedFromLiveNodesAndHosts) {
  ASSERT_OK(db_->Write([](Tx& tx) {
    teams::Insert(tx, {"t-1", "payments", 1});
    clusters::Insert(tx, {"cl-1", "t-1", "a", "dev", "1.36.3", "running", "", 1, "m.small", "vm", 1,
                          "physical", "w.medium", "admin", 1, 1});
    nodes::Insert(tx, {"n-1", "cl-1", "master-1", "master", "vm", "m.small", "ready", "sim-1", "",
                       4, 4, "", "1.36.3", 1, 1});
    nodes::Insert(tx, {"n-2", "cl-1", "master-2", "master", "vm", "m.small", "deleted", "sim-2", "",
                       4, 4, "", "1.36.3", 1, 1});
    nodes::Insert(tx, {"n-3", "cl-1", "worker-1", "worker", "physical", "", "ready", "", "h-1", 32,
                       128, "", "1.36.3", 1, 1});
    hosts::Upsert(tx, {"h-1", "127.0.0.1", 32, 128, "{}", "allocated", "cl-1", 1});
    return Status::Ok();
  }));
  ASSERT_OK(db_->Read([](Tx& tx) {
    QuotaUsage u = quotas::Usage(tx, "t-1");
    EXPECT_EQ(u.clusters, 1);
    EXPECT_EQ(u.vcpus, 4);
    EXPECT_EQ(u.memory_gib, 4);
    EXPECT_EQ(u.physical_hosts, 1);
    auto hv = hypervisors::Usage(tx);
    EXPECT_EQ(hv["sim-1"].vcpus, 4);
    EXPECT_EQ(hv.count("sim-2"), 0u);
    return Status::Ok();
  }));
}

TEST_F(StoreTest, AggregatesForMetricsAgreeWithThePerTeamReads) {
  ASSERT_OK(db_->Write([](Tx& tx) {
    teams::Insert(tx, {"t-1", "payments", 1});
    teams::Insert(tx, {"t-2", "search", 1});
    teams::Insert(tx, {"t-3", "idle", 1});
    quotas::Put(tx, "t-2", {7, 70, 700, 1}, 1);
    for (const char* id : {"cl-1", "cl-2"}) {
      clusters::Insert(tx, {id, "t-1", id, "dev", "1.36.3", "running", "", 1, "m.small", "vm", 1,
                            "vm", "w.medium", "admin", 1, 1});
    }
    clusters::Insert(tx, {"cl-3", "t-2", "c", "dev", "1.36.3", "error", "", 1, "m.small", "vm", 1,
                          "physical", "w.medium", "admin", 1, 1});
    clusters::Insert(tx, {"cl-4", "t-2", "d", "dev", "1.36.3", "deleted", "", 1, "m.small", "vm", 0,
                          "vm", "w.medium", "admin", 1, 1});
    int n = 0;
    for (const char* c : {"cl-1", "cl-2", "cl-3"}) {
      for (const char* role : {"master", "worker"}) {
        const bool physical = std::string(c) == "cl-3" && std::string(role) == "worker";
        nodes::Insert(tx,
                      {"n-" + std::to_string(++n), c, std::string(role) + "-1", role,
                       physical ? "physical" : "vm", "m.small", "ready", physical ? "" : "sim-1",
                       physical ? "h-1" : "", 4, 8, "", "1.36.3", 1, 1});
      }
    }
    nodes::Insert(tx, {"n-gone", "cl-1", "worker-9", "worker", "vm", "m.small", "deleted", "sim-1",
                       "", 4, 8, "", "1.36.3", 1, 1});
    hosts::Upsert(tx, {"h-1", "127.0.0.1", 32, 128, "{}", "allocated", "cl-3", 1});
    hosts::Upsert(tx, {"h-2", "127.0.0.2", 32, 128, "{}", "available", "", 1});
    Operation op;
    op.id = "op-1";
    op.cluster_id = "cl-1";
    op.type = "create";
    op.state = "pending";
    op.created_at = 1000;
    op.updated_at = 1000;
    operations::Insert(tx, op);
    op.id = "op-2";
    op.cluster_id = "cl-2";
    op.state = "running";
    op.created_at = 500;
    op.updated_at = 2000;
    operations::Insert(tx, op);
    return Status::Ok();
  }));
  ASSERT_OK(db_->Read([](Tx& tx) {
    auto usage = quotas::UsageByTeam(tx);
    for (const char* team : {"t-1", "t-2", "t-3"}) {
      QuotaUsage one = quotas::Usage(tx, team);
      QuotaUsage all = usage.count(team) ? usage[team] : QuotaUsage{};
      EXPECT_EQ(all.clusters, one.clusters) << team;
      EXPECT_EQ(all.vcpus, one.vcpus) << team;
      EXPECT_EQ(all.memory_gib, one.memory_gib) << team;
      EXPECT_EQ(all.physical_hosts, one.physical_hosts) << team;
    }
    EXPECT_EQ(usage["t-1"].vcpus, 16);
    EXPECT_EQ(usage["t-2"].physical_hosts, 1);
    auto limits = quotas::ListAll(tx);
    EXPECT_EQ(limits.size(), 1u);
    EXPECT_EQ(limits["t-2"].vcpus, 70);
    PlatformStats stats = stats::Read(tx);
    EXPECT_EQ(stats.clusters_by_status["running"], 2);
    EXPECT_EQ(stats.clusters_by_status["error"], 1);
    EXPECT_EQ(stats.clusters_by_status["deleted"], 1);
    EXPECT_EQ(stats.hosts_by_state["allocated"], 1);
    EXPECT_EQ(stats.hosts_by_state["available"], 1);
    EXPECT_EQ((stats.operations[{"create", "pending"}]), 1);
    EXPECT_EQ(stats.oldest_pending_created_at, 1000);
    EXPECT_EQ(stats.oldest_running_since, 2000);
    return Status::Ok();
  }));
}

TEST_F(StoreTest, ClusterLabelsAreStoredAndSelectorsFilterInSql) {
  auto cluster = [](const std::string& id, Labels labels) {
    Cluster c{id,        "t-1", id, "dev", "1.36.3",   "running", "", 1,
              "m.small", "vm",  0,  "vm",  "w.medium", "admin",   1,  1};
    c.labels = std::move(labels);
    return c;
  };
  ASSERT_OK(db_->Write([&](Tx& tx) {
    teams::Insert(tx, {"t-1", "payments", 1});
    clusters::Insert(tx, cluster("cl-1", {{"env", "prod"}, {"region", "a"}}));
    clusters::Insert(tx, cluster("cl-2", {{"env", "test"}, {"legacy", ""}}));
    clusters::Insert(tx, cluster("cl-3", {}));
    clusters::Insert(tx, cluster("cl-4", {{"env", "prod"}, {"region", "b"}}));
    return Status::Ok();
  }));
  auto ids = [&](const std::string& selector, int64_t limit = 50) {
    std::string out;
    auto s = ParseLabelSelector(selector);
    EXPECT_TRUE(s.ok()) << selector;
    EXPECT_OK(db_->Read([&](Tx& tx) {
      ClusterFilter f;
      f.all_teams = true;
      f.limit = limit;
      f.selector = s->requirements;
      for (const auto& c : clusters::List(tx, f)) {
        out += (out.empty() ? "" : " ") + c.id;
        // Whatever SQL selects, the in-memory rule agrees with.
        EXPECT_TRUE(s->Matches(c.labels)) << selector << " " << c.id;
      }
      return Status::Ok();
    }));
    return out;
  };
  EXPECT_EQ(ids(""), "cl-1 cl-2 cl-3 cl-4");
  EXPECT_EQ(ids("env=prod"), "cl-1 cl-4");
  EXPECT_EQ(ids("env!=prod"), "cl-2 cl-3");
  EXPECT_EQ(ids("region in (a,c)"), "cl-1");
  EXPECT_EQ(ids("region notin (a)"), "cl-2 cl-3 cl-4");
  EXPECT_EQ(ids("legacy"), "cl-2");
  EXPECT_EQ(ids("!legacy,!region"), "cl-3");
  EXPECT_EQ(ids("legacy="), "cl-2");
  EXPECT_EQ(ids("env=prod,region=b"), "cl-4");
  // The limit applies after the selector: a page is full when enough clusters match.
  EXPECT_EQ(ids("env=prod", 1), "cl-1");
  EXPECT_EQ(ids("!legacy", 2), "cl-1 cl-3");

  ASSERT_OK(db_->Write([](Tx& tx) {
    clusters::SetLabels(tx, "cl-3", {{"env", "dev"}, {"app.example.com/owner", "ana"}}, 7);
    clusters::SetLabels(tx, "cl-1", {}, 7);
    return Status::Ok();
  }));
  ASSERT_OK(db_->Read([](Tx& tx) {
    auto c3 = clusters::Find(tx, "cl-3");
    EXPECT_TRUE(c3 && c3->labels == Labels({{"app.example.com/owner", "ana"}, {"env", "dev"}}));
    EXPECT_TRUE(c3 && c3->updated_at == 7);
    auto c1 = clusters::FindLiveByName(tx, "t-1", "cl-1");
    EXPECT_TRUE(c1 && c1->labels.empty());
    auto c4 = clusters::Find(tx, "cl-4");
    EXPECT_TRUE(c4 && c4->labels.at("region") == "b");
    return Status::Ok();
  }));
}

TEST_F(StoreTest, ClusterListPagesByIdAndFiltersByTeam) {
  ASSERT_OK(db_->Write([](Tx& tx) {
    teams::Insert(tx, {"t-1", "payments", 1});
    teams::Insert(tx, {"t-2", "search", 1});
    for (int i = 0; i < 5; ++i) {
      clusters::Insert(
          tx, {"cl-" + std::to_string(i), i % 2 ? "t-2" : "t-1", "c" + std::to_string(i), "dev",
               "1.36.3", "running", "", 1, "m.small", "vm", 0, "vm", "w.medium", "admin", 1, 1});
    }
    return Status::Ok();
  }));
  ASSERT_OK(db_->Read([](Tx& tx) {
    ClusterFilter f;
    f.team_ids = {"t-1"};
    f.limit = 2;
    auto page1 = clusters::List(tx, f);
    EXPECT_EQ(page1.size(), 2u);
    if (page1.size() != 2u) return Status::Ok();
    EXPECT_EQ(page1[0].id, "cl-0");
    EXPECT_EQ(page1[1].id, "cl-2");
    f.after_id = page1.back().id;
    auto page2 = clusters::List(tx, f);
    EXPECT_EQ(page2.size(), 1u);
    if (page2.size() != 1u) return Status::Ok();
    EXPECT_EQ(page2[0].id, "cl-4");
    ClusterFilter none;
    EXPECT_TRUE(clusters::List(tx, none).empty());
    return Status::Ok();
  }));
}

// Quota admission's pattern (read usage, check, insert) from many threads on two Database
// objects, as two kaasd replicas sharing one database would: write transactions must run one
// at a time, or two of them read the same usage and both insert. On PostgreSQL this fails
// without the advisory lock Database::Write takes.
TEST_F(StoreTest, ConcurrentCheckThenInsertNeverOvershootsTheLimit) {
  constexpr int kThreads = 8, kAttempts = 25, kLimit = 50;
  auto replica = Database::Open(url_, 4);
  ASSERT_TRUE(replica.ok()) << replica.status().ToString();
  ASSERT_TRUE(db_->Write([](Tx& tx) {
                   teams::Insert(tx, {"t-1", "payments", 1});
                   return Status::Ok();
                 })
                  .ok());
  std::atomic<int> admitted{0}, refused{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    Database& db = t % 2 ? *db_ : **replica;
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAttempts; ++i) {
        std::string id = "cl-" + std::to_string(t) + "-" + std::to_string(i);
        Status st = db.Write([&](Tx& tx) {
          if (quotas::Usage(tx, "t-1").clusters >= kLimit) {
            return Status(Code::kQuotaExceeded, "clusters");
          }
          // What admission does between reading and inserting (planning, placement); it
          // widens the window in which a second writer could read the same usage.
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          clusters::Insert(tx, {id, "t-1", id, "dev", "1.36.3", "provisioning", "", 1, "m.small",
                                "vm", 0, "vm", "w.medium", "admin", 1, 1});
          return Status::Ok();
        });
        if (st.ok()) {
          ++admitted;
        } else if (st.code() == Code::kQuotaExceeded) {
          ++refused;
        } else {
          errors[t] = st.ToString();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(admitted.load(), kLimit);
  EXPECT_EQ(refused.load(), kThreads * kAttempts - kLimit);
  ASSERT_OK(db_->Read([&](Tx& tx) {
    EXPECT_EQ(quotas::Usage(tx, "t-1").clusters, kLimit);
    return Status::Ok();
  }));
}

// Operation leases (DESIGN.md §6.2) as two replicas "a" and "b" see them; times are given, not
// read from a clock.
TEST_F(StoreTest, OperationLeasesAreClaimedOnceRenewedFencedAndTakenOverWhenExpired) {
  ASSERT_OK(db_->Write([](Tx& tx) {
    teams::Insert(tx, {"t-1", "payments", 1});
    for (const char* id : {"1", "2"}) {
      std::string cl = std::string("cl-") + id;
      clusters::Insert(tx, {cl, "t-1", cl, "dev", "1.30.8", "provisioning", "", 1, "m.small", "vm",
                            0, "vm", "w.medium", "admin", 1, 1});
      Operation op{std::string("op-") + id, cl, "create", "pending", "admin", "", 10, 10, 0, {}};
      op.steps.push_back({op.id, 0, "reserve", "reserve", "", "pending"});
      operations::Insert(tx, op);
    }
    return Status::Ok();
  }));
  ASSERT_OK(db_->Write([](Tx& tx) {
    auto a = leases::ClaimOperation(tx, "op-1", "a", 1000, 2000, false);
    EXPECT_TRUE(a.has_value());
    EXPECT_EQ(a->epoch, 1);
    EXPECT_EQ(a->previous_owner, "");
    // Held and not expired: b gets nothing of op-1, and only op-2 from the free ones.
    EXPECT_FALSE(leases::ClaimOperation(tx, "op-1", "b", 1500, 2500, false).has_value());
    // op-2 (created at 10, never claimed) is left to its admitting replica until 10.
    EXPECT_FALSE(leases::AnyClaimable(tx, 1500, 10));
    EXPECT_TRUE(leases::ClaimFree(tx, "b", 1500, 2500, 10, 10).empty());
    EXPECT_TRUE(leases::AnyClaimable(tx, 1500, 11));
    auto free = leases::ClaimFree(tx, "b", 1500, 2500, 10, 11);
    EXPECT_EQ(free.size(), 1u);
    EXPECT_EQ(free[0].operation_id, "op-2");
    EXPECT_FALSE(leases::AnyClaimable(tx, 1500, 1500));
    EXPECT_TRUE(leases::Holds(tx, "op-1", "a", 1));
    EXPECT_FALSE(leases::Holds(tx, "op-1", "b", 1));
    auto renewed = leases::Renew(tx, "a", 3000);
    EXPECT_EQ(renewed.size(), 1u);
    EXPECT_EQ(renewed[0].operation_id, "op-1");
    EXPECT_EQ(leases::CountOwned(tx, "b"), 1);
    EXPECT_EQ(leases::Renew(tx, "b", 10000).size(), 1u);  // b keeps op-2
    // a stops renewing: after 3000 its lease has expired and b takes op-1 over.
    EXPECT_TRUE(leases::AnyClaimable(tx, 3500, 0));
    auto taken = leases::ClaimFree(tx, "b", 3500, 4500, 10, 0);
    EXPECT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].operation_id, "op-1");
    EXPECT_EQ(taken[0].epoch, 2);
    EXPECT_EQ(taken[0].previous_owner, "a");
    // a is fenced, and its renewal no longer returns op-1.
    EXPECT_FALSE(leases::Holds(tx, "op-1", "a", 1));
    EXPECT_TRUE(leases::Holds(tx, "op-1", "b", 2));
    EXPECT_TRUE(leases::Renew(tx, "a", 5000).empty());
    // A forced claim (SQLite, one process) takes it whoever holds it.
    auto forced = leases::ClaimOperation(tx, "op-1", "a", 3600, 4600, true);
    EXPECT_TRUE(forced.has_value());
    EXPECT_EQ(forced->epoch, 3);
    leases::Release(tx, "op-1", "b", 2);  // not b's any more: nothing happens
    EXPECT_TRUE(leases::Holds(tx, "op-1", "a", 3));
    leases::Release(tx, "op-1", "a", 3);
    auto op = operations::Find(tx, "op-1");
    EXPECT_EQ(op->owner, "");
    EXPECT_EQ(op->epoch, 3);
    // An operation that ended is never claimed.
    operations::SetState(tx, "op-2", "succeeded", "", 4000);
    EXPECT_FALSE(leases::ClaimOperation(tx, "op-2", "b", 4000, 5000, true).has_value());
    EXPECT_EQ(leases::CountOwned(tx, "b"), 0);
    return Status::Ok();
  }));
  ASSERT_OK(db_->Write([](Tx& tx) {
    EXPECT_TRUE(leases::AcquireNamed(tx, "reconciler", "a", 0, 1000));
    EXPECT_TRUE(leases::AcquireNamed(tx, "reconciler", "a", 500, 1500));  // renewed
    EXPECT_FALSE(leases::AcquireNamed(tx, "reconciler", "b", 1000, 2000));
    EXPECT_TRUE(leases::AcquireNamed(tx, "health", "b", 1000, 2000));      // another job
    EXPECT_TRUE(leases::AcquireNamed(tx, "reconciler", "b", 1600, 2600));  // a's expired
    EXPECT_FALSE(leases::AcquireNamed(tx, "reconciler", "a", 1700, 2700));
    leases::ReleaseNamed(tx, "reconciler", "b");
    EXPECT_TRUE(leases::AcquireNamed(tx, "reconciler", "a", 1800, 2800));
    EXPECT_FALSE(settings::Get(tx, "master_key_check").has_value());
    settings::Insert(tx, "master_key_check", "sealed");
    EXPECT_EQ(settings::Get(tx, "master_key_check"), "sealed");
    login_failures::Insert(tx, "lf-1", "bob", "10.0.0.1", 100);
    login_failures::Insert(tx, "lf-2", "bob", "10.0.0.1", 200);
    login_failures::Insert(tx, "lf-3", "eve", "10.0.0.1", 300);
    login_failures::Insert(tx, "lf-4", "bob", "10.0.0.2", 400);
    EXPECT_EQ(login_failures::OfUser(tx, "bob", "10.0.0.1", 0),
              (login_failures::FailureCount{2, 200}));
    EXPECT_EQ(login_failures::OfUser(tx, "bob", "10.0.0.1", 150),
              (login_failures::FailureCount{1, 200}));
    EXPECT_EQ(login_failures::CountForUsername(tx, "bob", 0), 3);
    EXPECT_EQ(login_failures::CountForUsername(tx, "bob", 250), 1);
    EXPECT_EQ(login_failures::RecentForAddress(tx, "10.0.0.1", 150, 10),
              (std::vector<int64_t>{300, 200}));
    EXPECT_EQ(login_failures::RecentForAddress(tx, "10.0.0.1", 0, 1), (std::vector<int64_t>{300}));
    login_failures::DeleteForUser(tx, "bob", "10.0.0.1");
    EXPECT_EQ(login_failures::OfUser(tx, "bob", "10.0.0.1", 0), (login_failures::FailureCount{}));
    login_failures::DeleteBefore(tx, 300);
    EXPECT_TRUE(login_failures::RecentForAddress(tx, "10.0.0.1", 0, 10).empty());
    EXPECT_EQ(login_failures::RecentForAddress(tx, "10.0.0.2", 0, 10).size(), 1u);
    return Status::Ok();
  }));
}

// Replicas claiming free operations at the same time (each its own connections) never both
// get one, and between them get every one.
TEST_F(StoreTest, ConcurrentClaimsNeverHandOneOperationToTwoReplicas) {
  constexpr int kOperations = 40, kReplicas = 4;
  ASSERT_OK(db_->Write([](Tx& tx) {
    teams::Insert(tx, {"t-1", "payments", 1});
    for (int i = 0; i < kOperations; ++i) {
      std::string cl = "cl-" + std::to_string(i);
      clusters::Insert(tx, {cl, "t-1", cl, "dev", "1.30.8", "provisioning", "", 1, "m.small", "vm",
                            0, "vm", "w.medium", "admin", 1, 1});
      operations::Insert(
          tx, {"op-" + std::to_string(i), cl, "create", "pending", "admin", "", 10, 10, 0, {}});
    }
    return Status::Ok();
  }));
  std::vector<std::vector<std::string>> got(kReplicas);
  std::vector<std::string> errors(kReplicas);
  std::vector<std::thread> threads;
  for (int r = 0; r < kReplicas; ++r) {
    threads.emplace_back([&, r] {
      auto db = Database::Open(url_, 2);
      if (!db.ok()) {
        errors[r] = db.status().ToString();
        return;
      }
      while (true) {
        std::vector<OperationLease> claimed;
        Status st = (*db)->Write([&](Tx& tx) {
          claimed = leases::ClaimFree(tx, "replica-" + std::to_string(r), 100, 100000, 3, 100);
          return Status::Ok();
        });
        if (!st.ok()) {
          errors[r] = st.ToString();
          return;
        }
        if (claimed.empty()) return;
        for (const auto& l : claimed) got[r].push_back(l.operation_id);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  std::set<std::string> all;
  size_t total = 0;
  for (const auto& ids : got) {
    total += ids.size();
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(total, static_cast<size_t>(kOperations));
  EXPECT_EQ(all.size(), static_cast<size_t>(kOperations));
}

// Every repository call at least once, so that each statement is known to run on both backends
// (types, booleans, LIMIT parameters, aggregates).
TEST_F(StoreTest, UsersMembershipsTokensAndAuditRoundTrip) {
  ASSERT_TRUE(
      db_->Write([](Tx& tx) {
           teams::Insert(tx, {"t-1", "payments", 1});
           teams::Insert(tx, {"t-2", "search", 2});
           users::Insert(tx, {"u-1", "admin", "hash-a", true, 1});
           users::Insert(tx, {"u-2", "alice", "hash-b", false, 2});
           memberships::Put(tx, "t-1", "u-2", "member");
           memberships::Put(tx, "t-1", "u-2", "admin");
           memberships::Put(tx, "t-2", "u-2", "viewer");
           tokens::Insert(tx, {"tok-1", "u-2", "login", "h1", 10, 1000, 0, "session"});
           tokens::Insert(tx, {"tok-2", "u-2", "ci", "h2", 20, 1000, 0, "api"});
           tokens::Insert(tx, {"tok-3", "u-2", "old", "h3", 30, 50, 0, "api"});
           tokens::Insert(tx, {"tok-4", "u-2", "deploy", "h4", 35, 1000, 0, "api", "t-1",
                               "deployer", "env=prod,tier in (web)"});
           audit::Insert(tx, {"a-1", 1, "alice", "t-1", "POST /x", "c", "::1", 201, "ok"});
           audit::Insert(tx, {"a-2", 2, "alice", "t-2", "POST /y", "d", "::1", 403, "forbidden"});
           audit::Insert(tx, {"a-3", 3, "admin", "", "POST /z", "", "::1", 200, "ok"});
           return Status::Ok();
         })
          .ok());
  ASSERT_TRUE(db_->Write([](Tx& tx) {
                   tokens::Revoke(tx, "tok-1", 40);
                   EXPECT_TRUE(memberships::Delete(tx, "t-2", "u-2"));
                   EXPECT_FALSE(memberships::Delete(tx, "t-2", "u-2"));
                   return Status::Ok();
                 })
                  .ok());
  ASSERT_OK(db_->Read([](Tx& tx) {
    EXPECT_EQ(users::Count(tx), 2);
    auto admin = users::FindByUsername(tx, "admin");
    EXPECT_TRUE(admin.has_value() && admin->is_admin);
    auto alice = users::FindById(tx, "u-2");
    EXPECT_TRUE(alice.has_value() && !alice->is_admin && alice->password_hash == "hash-b");
    EXPECT_EQ(users::List(tx).size(), 2u);
    EXPECT_EQ(teams::FindById(tx, "t-2")->name, "search");
    auto teams = teams::ListForUser(tx, "u-2");
    EXPECT_EQ(teams.size(), 1u);
    auto mine = memberships::ListForUser(tx, "u-2");
    EXPECT_EQ(mine.size(), 1u);
    if (!mine.empty()) EXPECT_EQ(mine[0].role, "admin");
    auto members = memberships::ListForTeam(tx, "t-1");
    EXPECT_EQ(members.size(), 1u);
    if (!members.empty()) EXPECT_EQ(members[0].username, "alice");
    EXPECT_EQ(tokens::Find(tx, "tok-1")->revoked_at, 40);
    EXPECT_EQ(tokens::FindByHash(tx, "h2")->name, "ci");
    auto live = tokens::ListLive(tx, "u-2", "api", 100);
    EXPECT_EQ(live.size(), 2u);
    auto deploy = tokens::FindByHash(tx, "h4");
    EXPECT_TRUE(deploy.has_value());
    if (deploy) {
      EXPECT_EQ(deploy->team_id, "t-1");
      EXPECT_EQ(deploy->role, "deployer");
      EXPECT_EQ(deploy->selector, "env=prod,tier in (web)");
    }
    EXPECT_EQ(tokens::Find(tx, "tok-2")->role, "");
    EXPECT_TRUE(tokens::ListLive(tx, "u-2", "session", 100).empty());
    auto all = audit::List(tx, {}, true, 2);
    EXPECT_EQ(all.size(), 2u);
    if (!all.empty()) EXPECT_EQ(all[0].id, "a-3");
    auto some = audit::List(tx, {"t-1", "t-2"}, false, 10);
    EXPECT_EQ(some.size(), 2u);
    if (some.size() == 2u) EXPECT_EQ(some[0].status, 403);
    EXPECT_TRUE(audit::List(tx, {}, false, 10).empty());
    return Status::Ok();
  }));
}

// Disabling users and revoking a user's tokens at once (migration 7), on both backends.
TEST_F(StoreTest, UsersKeepWhereTheyComeFrom) {
  store::User dir{"u-2", "dana", "", false, 2};
  dir.source = store::kUserSourceDirectory;
  ASSERT_OK(db_->Write([&](Tx& tx) {
    users::Insert(tx, {"u-1", "alice", "hash-a", false, 1});
    users::Insert(tx, dir);
    return Status::Ok();
  }));
  ASSERT_OK(db_->Read([](Tx& tx) {
    EXPECT_EQ(users::FindById(tx, "u-1")->source, store::kUserSourceLocal);
    auto dana = users::FindByUsername(tx, "dana");
    EXPECT_EQ(dana->source, store::kUserSourceDirectory);
    EXPECT_EQ(dana->password_hash, "");
    EXPECT_EQ(users::List(tx).at(1).source, store::kUserSourceDirectory);
    return Status::Ok();
  }));
}

TEST_F(StoreTest, UsersAreDisabledAndTheirTokensRevokedTogether) {
  ASSERT_OK(db_->Write([](Tx& tx) {
    users::Insert(tx, {"u-1", "alice", "hash-a", false, 1});
    users::Insert(tx, {"u-2", "bob", "hash-b", false, 2});
    tokens::Insert(tx, {"tok-1", "u-1", "login", "h1", 10, 1000, 0, "session"});
    tokens::Insert(tx, {"tok-2", "u-1", "login", "h2", 11, 1000, 0, "session"});
    tokens::Insert(tx, {"tok-3", "u-1", "ci", "h3", 12, 1000, 0, "api"});
    tokens::Insert(tx, {"tok-4", "u-2", "login", "h4", 13, 1000, 0, "session"});
    return Status::Ok();
  }));
  ASSERT_OK(db_->Write([](Tx& tx) {
    // Sessions except the caller's own.
    EXPECT_EQ(tokens::RevokeForUser(tx, "u-1", "session", "tok-1", 50), 1);
    users::SetPasswordHash(tx, "u-1", "hash-new");
    return Status::Ok();
  }));
  ASSERT_OK(db_->Read([](Tx& tx) {
    EXPECT_EQ(tokens::Find(tx, "tok-1")->revoked_at, 0);
    EXPECT_EQ(tokens::Find(tx, "tok-2")->revoked_at, 50);
    EXPECT_EQ(tokens::Find(tx, "tok-3")->revoked_at, 0);
    EXPECT_EQ(users::FindById(tx, "u-1")->password_hash, "hash-new");
    EXPECT_EQ(users::FindById(tx, "u-1")->disabled_at, 0);
    return Status::Ok();
  }));
  ASSERT_OK(db_->Write([](Tx& tx) {
    users::SetDisabled(tx, "u-1", 60);
    EXPECT_EQ(tokens::RevokeForUser(tx, "u-1", "", "", 60), 2);  // tok-1 and tok-3
    return Status::Ok();
  }));
  ASSERT_OK(db_->Read([](Tx& tx) {
    EXPECT_EQ(users::FindByUsername(tx, "alice")->disabled_at, 60);
    EXPECT_EQ(users::FindByUsername(tx, "bob")->disabled_at, 0);
    EXPECT_EQ(tokens::Find(tx, "tok-1")->revoked_at, 60);
    EXPECT_EQ(tokens::Find(tx, "tok-2")->revoked_at, 50);  // already revoked: kept
    EXPECT_EQ(tokens::Find(tx, "tok-4")->revoked_at, 0);   // another user's
    return Status::Ok();
  }));
}

TEST_F(StoreTest, InventoryRoundTrip) {
  ASSERT_TRUE(
      db_->Write([](Tx& tx) {
           hypervisors::Insert(tx, {"hv-1", "test:///a", 8, 32, "active", 1});
           hypervisors::Upsert(tx, {"hv-2", "test:///b", 8, 32, "active", 1});
           hypervisors::Upsert(tx, {"hv-2", "test:///c", 16, 64, "ignored", 2});
           hypervisors::SetState(tx, "hv-1", "draining");
           hosts::Insert(tx, {"h-1", "10.0.0.1", 32, 128, "{}", "available", "", 1});
           hosts::Upsert(tx, {"h-2", "10.0.0.2", 32, 128, R"({"rack":"r1"})", "available", "", 1});
           hosts::Upsert(tx, {"h-2", "10.0.0.9", 1, 1, "{}", "maintenance", "", 2});
           hosts::Insert(tx, {"h-3", "10.0.0.3", 32, 128, "{}", "available", "", 1});
           hosts::SetState(tx, "h-3", "allocated", "cl-1");
           return Status::Ok();
         })
          .ok());
  EXPECT_EQ(db_->Write([](Tx& tx) {
                 hypervisors::Insert(tx, {"hv-1", "test:///x", 1, 1, "active", 3});
                 return Status::Ok();
               })
                .code(),
            Code::kAlreadyExists);
  ASSERT_OK(db_->Read([](Tx& tx) {
    EXPECT_EQ(hypervisors::List(tx).size(), 2u);
    EXPECT_EQ(hypervisors::Find(tx, "hv-1")->state, "draining");
    auto hv2 = hypervisors::Find(tx, "hv-2");
    EXPECT_TRUE(hv2 && hv2->uri == "test:///c" && hv2->vcpus == 16 && hv2->state == "active");
    EXPECT_TRUE(hypervisors::Usage(tx).empty());
    EXPECT_EQ(hosts::List(tx).size(), 3u);
    auto h2 = hosts::Find(tx, "h-2");
    EXPECT_TRUE(h2 && h2->address == "10.0.0.2" && h2->labels == R"({"rack":"r1"})");
    auto available = hosts::ListAvailable(tx, 1);
    EXPECT_EQ(available.size(), 1u);
    if (!available.empty()) EXPECT_EQ(available[0].name, "h-1");
    EXPECT_EQ(hosts::ListAvailable(tx, 10).size(), 2u);
    EXPECT_EQ(hosts::Find(tx, "h-3")->cluster_id, "cl-1");
    return Status::Ok();
  }));
  ASSERT_TRUE(db_->Write([](Tx& tx) {
                   hypervisors::Delete(tx, "hv-1");
                   hosts::Delete(tx, "h-1");
                   return Status::Ok();
                 })
                  .ok());
  ASSERT_OK(db_->Read([](Tx& tx) {
    EXPECT_FALSE(hypervisors::Find(tx, "hv-1").has_value());
    EXPECT_FALSE(hosts::Find(tx, "h-1").has_value());
    return Status::Ok();
  }));
}

// The event stream waits for a cluster's events instead of polling: a committed write that
// recorded events of the cluster wakes its waiters; one that rolled back does not.
TEST_F(StoreTest, CommittedEventsWakeTheirClustersWaiters) {
  const uint64_t before = db_->EventGeneration("cl-1");
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_OK(db_->Write([](Tx& tx) {
      events::Insert(tx, {"ev-1", "cl-1", "t-1", 1, "operation", "{}"});
      return Status::Ok();
    }));
  });
  EXPECT_TRUE(db_->WaitForEvents("cl-1", before, 20000)) << "not woken within 20 s";
  writer.join();
  EXPECT_NE(db_->EventGeneration("cl-1"), before);

  // Quiet first: on PostgreSQL the commit's own NOTIFY also comes back through the listener (a
  // second, harmless wake-up).
  uint64_t after = db_->EventGeneration("cl-1");
  while (db_->WaitForEvents("cl-1", after, 1000)) after = db_->EventGeneration("cl-1");
  EXPECT_FALSE(db_->Write([](Tx& tx) {
                    events::Insert(tx, {"ev-2", "cl-1", "t-1", 2, "operation", "{}"});
                    return Internal("changed my mind");
                  })
                   .ok());
  EXPECT_FALSE(db_->WaitForEvents("cl-1", after, 1000)) << "a rolled-back event woke a waiter";
  EXPECT_EQ(db_->EventGeneration("cl-1"), after);
}

// A host's SSH key: pinned once (the first key seen), the same key again is fine, another one is
// refused and changes nothing; an operator's SetHostKey replaces it.
TEST_F(StoreTest, AHostKeyIsPinnedOnceAndOnlyReplacedOnPurpose) {
  ASSERT_OK(db_->Write([](Tx& tx) {
    store::Host h{"h-1", "10.0.0.1", 32, 128, "{}", "available", "", 1};
    hosts::Insert(tx, h);
    h.name = "h-2";
    h.host_key = "ssh-ed25519 REGISTERED";
    hosts::Insert(tx, h);
    return Status::Ok();
  }));
  ASSERT_OK(db_->Write([](Tx& tx) {
    EXPECT_EQ(hosts::Find(tx, "h-1")->host_key, "");
    EXPECT_TRUE(hosts::PinHostKey(tx, "h-1", "ssh-ed25519 FIRST"));
    EXPECT_TRUE(hosts::PinHostKey(tx, "h-1", "ssh-ed25519 FIRST"));
    EXPECT_FALSE(hosts::PinHostKey(tx, "h-1", "ssh-ed25519 OTHER"));
    EXPECT_FALSE(hosts::PinHostKey(tx, "h-2", "ssh-ed25519 OTHER"));
    EXPECT_FALSE(hosts::PinHostKey(tx, "h-9", "ssh-ed25519 FIRST"));
    return Status::Ok();
  }));
  ASSERT_OK(db_->Read([](Tx& tx) {
    EXPECT_EQ(hosts::Find(tx, "h-1")->host_key, "ssh-ed25519 FIRST");
    EXPECT_EQ(hosts::Find(tx, "h-2")->host_key, "ssh-ed25519 REGISTERED");
    return Status::Ok();
  }));
  ASSERT_OK(db_->Write([](Tx& tx) {
    hosts::SetHostKey(tx, "h-1", "ssh-ed25519 REINSTALLED");
    return Status::Ok();
  }));
  ASSERT_OK(db_->Read([](Tx& tx) {
    EXPECT_EQ(hosts::Find(tx, "h-1")->host_key, "ssh-ed25519 REINSTALLED");
    return Status::Ok();
  }));
}

TEST_F(StoreTest, ClustersNodesOperationsEventsAndSecretsRoundTrip) {
  Operation op{"op-1", "cl-1", "create", "pending", "admin", "", 10, 10, 0, false, "{}", {}};
  op.steps.push_back({"op-1", 0, "provision masters", "provision_nodes", "master", "pending"});
  op.steps.push_back({"op-1", 1, "join master-2", "join_master", "master-2", "pending"});
  op.steps[1].cancel_safe = false;
  ASSERT_TRUE(
      db_->Write([&](Tx& tx) {
           teams::Insert(tx, {"t-1", "payments", 1});
           clusters::Insert(tx, {"cl-1", "t-1", "a", "dev", "1.36.3", "provisioning", "", 1,
                                 "m.small", "vm", 2, "vm", "w.medium", "admin", 1, 1});
           nodes::Insert(tx, {"n-1", "cl-1", "master-1", "master", "vm", "m.small", "reserved",
                              "sim-1", "", 2, 4, "", "1.36.3", 1, 1});
           nodes::Insert(tx, {"n-2", "cl-1", "worker-10", "worker", "vm", "w.medium", "reserved",
                              "sim-1", "", 4, 8, "", "1.36.3", 1, 1});
           nodes::Insert(tx, {"n-3", "cl-1", "worker-2", "worker", "vm", "w.medium", "reserved",
                              "sim-2", "", 4, 8, "", "1.36.3", 1, 1});
           operations::Insert(tx, op);
           secrets::Put(tx, {"cl-1", "ca", "cak", "etcd", "etcdk", "fp", "fpk", "sa", "sak", 5});
           events::Insert(tx, {"ev-1", "cl-1", "t-1", 1, "operation", "{}"});
           events::Insert(tx, {"ev-2", "cl-1", "t-1", 2, "step", R"({"i":0})"});
           events::Insert(tx, {"ev-3", "cl-1", "t-1", 3, "cluster", "{}"});
           return Status::Ok();
         })
          .ok());
  ASSERT_TRUE(db_->Write([&](Tx& tx) {
                   Step s = op.steps[0];
                   s.state = "succeeded";
                   s.attempts = 2;
                   s.started_at = 11;
                   s.finished_at = 12;
                   operations::UpdateStep(tx, s);
                   operations::SetState(tx, "op-1", "running", "", 11);
                   operations::RequestCancel(tx, "op-1", 13);
                   nodes::SetState(tx, "n-1", "ready", 12);
                   nodes::SetAddress(tx, "n-1", "10.1.0.1", 12);
                   nodes::SetSize(tx, "n-1", "m.medium", 4, 8, 12);
                   nodes::SetVersion(tx, "n-1", "1.37.2", 12);
                   nodes::SetState(tx, "n-3", "deleted", 12);
                   Cluster c = *clusters::Find(tx, "cl-1");
                   c.worker_count = 1;
                   c.kubernetes_version = "1.37.2";
                   clusters::SetShape(tx, c, 14);
                   clusters::SetStatus(tx, "cl-1", "running", "", 14);
                   return Status::Ok();
                 })
                  .ok());
  ASSERT_OK(db_->Read([](Tx& tx) {
    auto op = operations::Find(tx, "op-1");
    EXPECT_TRUE(op.has_value());
    if (!op) return Status::Ok();
    EXPECT_EQ(op->state, "running");
    EXPECT_TRUE(op->cancel_requested);
    EXPECT_EQ(op->steps.size(), 2u);
    if (op->steps.size() == 2u) {
      EXPECT_EQ(op->steps[0].state, "succeeded");
      EXPECT_EQ(op->steps[0].attempts, 2);
      EXPECT_TRUE(op->steps[0].cancel_safe);
      EXPECT_FALSE(op->steps[1].cancel_safe);
    }
    EXPECT_TRUE(operations::FindActiveForCluster(tx, "cl-1").has_value());
    auto counts = operations::CountByTypeAndState(tx);
    EXPECT_EQ((counts[{"create", "running"}]), 1);
    auto live = nodes::ListLive(tx, "cl-1");
    EXPECT_EQ(live.size(), 2u);
    if (live.size() == 2u) {
      EXPECT_EQ(live[0].name, "master-1");
      EXPECT_EQ(live[0].address, "10.1.0.1");
      EXPECT_EQ(live[0].flavor, "m.medium");
      EXPECT_EQ(live[0].kubernetes_version, "1.37.2");
    }
    EXPECT_FALSE(nodes::FindLive(tx, "cl-1", "worker-2").has_value());
    EXPECT_EQ(nodes::ListLiveOnHypervisor(tx, "sim-1").size(), 2u);
    auto hv = hypervisors::Usage(tx);
    EXPECT_EQ(hv["sim-1"].vcpus, 8);
    EXPECT_EQ(hv["sim-1"].memory_gib, 16);
    EXPECT_EQ(hv["sim-1"].domains, 2);
    EXPECT_EQ(hv.count("sim-2"), 0u);
    auto cluster = clusters::FindLiveByName(tx, "t-1", "a");
    EXPECT_TRUE(cluster && cluster->status == "running" && cluster->worker_count == 1 &&
                cluster->kubernetes_version == "1.37.2");
    auto sec = secrets::Get(tx, "cl-1");
    EXPECT_TRUE(sec && sec->sa_private_key_sealed == "sak" && sec->created_at == 5);
    auto evs = events::ListForCluster(tx, "cl-1", "ev-1", 1);
    EXPECT_EQ(evs.size(), 1u);
    if (!evs.empty()) EXPECT_EQ(evs[0].data, R"({"i":0})");
    return Status::Ok();
  }));
  ASSERT_TRUE(db_->Write([](Tx& tx) {
                   operations::SetState(tx, "op-1", "failed", "boom", 20);
                   return Status::Ok();
                 })
                  .ok());
  ASSERT_OK(db_->Read([](Tx& tx) {
    auto op = operations::Find(tx, "op-1");
    EXPECT_TRUE(op && op->finished_at == 20 && op->error == "boom");
    EXPECT_TRUE(operations::ListActiveIds(tx).empty());
    return Status::Ok();
  }));
  ASSERT_TRUE(db_->Write([](Tx& tx) {
                   operations::Reopen(tx, "op-1", 21);
                   secrets::Delete(tx, "cl-1");
                   return Status::Ok();
                 })
                  .ok());
  ASSERT_OK(db_->Read([](Tx& tx) {
    auto ops = operations::ListForCluster(tx, "cl-1", 5);
    EXPECT_EQ(ops.size(), 1u);
    if (!ops.empty()) {
      EXPECT_EQ(ops[0].state, "pending");
      EXPECT_FALSE(ops[0].cancel_requested);
      EXPECT_EQ(ops[0].finished_at, 0);
      EXPECT_EQ(ops[0].steps.size(), 2u);
    }
    EXPECT_FALSE(secrets::Get(tx, "cl-1").has_value());
    return Status::Ok();
  }));
}

TEST_F(StoreTest, QuotasAndQuotaRequestsRoundTrip) {
  ASSERT_TRUE(
      db_->Write([](Tx& tx) {
           teams::Insert(tx, {"t-1", "payments", 1});
           teams::Insert(tx, {"t-2", "search", 1});
           quotas::Put(tx, "t-1", {5, 64, 256, 0}, 1);
           quotas::Put(tx, "t-1", {6, 64, 256, 2}, 2);
           quota_requests::Insert(
               tx, {"qr-1", "t-1", {10, -1, -1, -1}, "growth", "pending", "alice", "", "", 3, 0});
           quota_requests::Insert(
               tx, {"qr-2", "t-2", {-1, 128, -1, -1}, "ml", "pending", "bob", "", "", 4, 0});
           quota_requests::Decide(tx, "qr-1", "approved", "admin", "fine", 5);
           return Status::Ok();
         })
          .ok());
  ASSERT_OK(db_->Read([](Tx& tx) {
    auto q = quotas::Get(tx, "t-1");
    EXPECT_TRUE(q && q->clusters == 6 && q->physical_hosts == 2);
    EXPECT_FALSE(quotas::Get(tx, "t-2").has_value());
    auto r = quota_requests::Find(tx, "qr-1");
    EXPECT_TRUE(r && r->state == "approved" && r->limits.vcpus == -1 && r->decided_at == 5);
    EXPECT_EQ(quota_requests::List(tx, "", {}, true).size(), 2u);
    EXPECT_EQ(quota_requests::List(tx, "pending", {}, true).size(), 1u);
    EXPECT_EQ(quota_requests::List(tx, "", {"t-1"}, false).size(), 1u);
    EXPECT_TRUE(quota_requests::List(tx, "", {}, false).empty());
    return Status::Ok();
  }));
}

// --- Losing the database (issue 20) ---------------------------------------------------------

TEST(PostgresConnectStringTest, SeveralHostsAndKaasdsDefaultsUnlessTheUrlSetsThem) {
  auto one = PostgresConnectString("postgresql://kaas:pw@db.example:6432/kaas");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(*one,
            "user=kaas password=pw host=db.example port=6432 dbname=kaas connect_timeout=5 "
            "keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3 "
            "tcp_user_timeout=20000 application_name=kaasd");
  // A failover pair behind one URL: libpq tries the hosts in order and, with
  // target_session_attrs=read-write, keeps the one that is the primary.
  auto two = PostgresConnectString(
      "postgresql://kaas@a.example:5433,[::1],b.example/kaas?target_session_attrs=read-write&"
      "connect_timeout=2");
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(*two,
            "user=kaas host=a.example,::1,b.example port=5433,5432,5432 dbname=kaas "
            "target_session_attrs=read-write connect_timeout=2 keepalives=1 keepalives_idle=10 "
            "keepalives_interval=5 keepalives_count=3 tcp_user_timeout=20000 "
            "application_name=kaasd");
  EXPECT_EQ(PostgresConnectString("postgresql://a.example,/kaas").status().code(),
            Code::kInvalidArgument);
}

// The other connections of this test's database, terminated as a server restart would.
void TerminateOtherSessions(const std::string& url) {
  auto killer = Database::Open(url, 1);
  ASSERT_TRUE(killer.ok()) << killer.status().ToString();
  Status st = (*killer)->Read([](Tx& tx) {
    int n = 0;
    tx.sql() << "SELECT COUNT(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        soci::into(n);
    EXPECT_GT(n, 0);
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
}

// Tests of one backend only. ctest registers each suite only for its backend
// (tests/store/CMakeLists.txt), so the guards below are never reached in a ctest run.
class PostgresOnlyStoreTest : public StoreTest {};
class SqliteOnlyStoreTest : public StoreTest {};

// Another kaasd on the same database: its commits reach this one's waiters through
// LISTEN/NOTIFY (the waiter would otherwise sleep its whole timeout).
TEST_F(PostgresOnlyStoreTest, EventsCommittedByAnotherReplicaWakeThisOnesWaiters) {
  // ctest runs this suite only against the postgres fixture (tests/store/CMakeLists.txt).
  ASSERT_FALSE(db_->sqlite()) << "PostgreSQL only: one SQLite file serves one process";
  auto other = Database::Open(url_, 2);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  Database& follower = **other;
  // The first wait starts the follower's listener, which wakes everyone once it listens.
  EXPECT_TRUE(follower.WaitForEvents("cl-warm", follower.EventGeneration("cl-warm"), 20000));
  const uint64_t before = follower.EventGeneration("cl-1");
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_OK(db_->Write([](Tx& tx) {
      events::Insert(tx, {"ev-1", "cl-1", "t-1", 1, "operation", "{}"});
      return Status::Ok();
    }));
  });
  EXPECT_TRUE(follower.WaitForEvents("cl-1", before, 20000)) << "not woken within 20 s";
  writer.join();
  ASSERT_OK(follower.Read([](Tx& tx) {
    EXPECT_EQ(events::ListForCluster(tx, "cl-1", "", 10).size(), 1u);
    return Status::Ok();
  }));
}

TEST_F(PostgresOnlyStoreTest, PooledSessionsWhoseServerWentAwayAreReplaced) {
  if (db_->sqlite()) GTEST_SKIP() << "PostgreSQL only: a SQLite file has no connection to lose";
  ASSERT_TRUE(db_->Ping().ok());
  TerminateOtherSessions(url_);
  // Every pooled session is dead now; the next calls still work, on new connections.
  for (int i = 0; i < 8; ++i) {
    Status st = db_->Write([&](Tx& tx) {
      teams::Insert(tx, {"t-" + std::to_string(i), "team-" + std::to_string(i), i});
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << "write " << i << ": " << st.ToString();
  }
  ASSERT_TRUE(db_->Read([](Tx& tx) {
                   EXPECT_EQ(teams::List(tx).size(), 8u);
                   return Status::Ok();
                 })
                  .ok());
  DatabaseHealth h = db_->health();
  EXPECT_TRUE(h.available);
  EXPECT_GE(h.outages, 1);
}

TEST_F(PostgresOnlyStoreTest, IdleSessionsAreProbedBeforeTheyAreHandedOut) {
  if (db_->sqlite()) GTEST_SKIP() << "PostgreSQL only: a SQLite file has no connection to lose";
  DatabaseOptions options;
  options.pool_size = 2;
  options.idle_check_ms = 0;
  auto db = Database::Open(url_, options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  TerminateOtherSessions(url_);
  int runs = 0;
  Status st = (*db)->Write([&](Tx& tx) {
    ++runs;
    teams::Insert(tx, {"t-1", "payments", 1});
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  // The probe found the dead session before the transaction began: nothing had to be retried.
  EXPECT_EQ(runs, 1);
  EXPECT_EQ((*db)->health().outages, 0);
}

TEST_F(PostgresOnlyStoreTest, WriteCutOffBeforeCommitRunsAgainOnAFreshConnection) {
  if (db_->sqlite()) GTEST_SKIP() << "PostgreSQL only: a SQLite file has no connection to lose";
  int runs = 0;
  Status st = db_->Write([&](Tx& tx) {
    ++runs;
    teams::Insert(tx, {"t-1", "payments", 1});
    // The first time, the connection dies under the open transaction (the server rolls it
    // back): running it again is safe.
    if (runs == 1) tx.sql() << "SELECT pg_terminate_backend(pg_backend_pid())";
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(runs, 2);
  ASSERT_OK(db_->Read([](Tx& tx) {
    EXPECT_EQ(teams::List(tx).size(), 1u);
    return Status::Ok();
  }));
}

TEST_F(PostgresOnlyStoreTest, CommitWhoseAnswerIsLostIsReportedUnknownAndNotRetried) {
  if (db_->sqlite()) GTEST_SKIP() << "PostgreSQL only: a SQLite file has no connection to lose";
  // A deferred constraint trigger runs inside COMMIT; this one ends the connection there, so
  // the client sends COMMIT and never gets its answer.
  ASSERT_TRUE(db_->Write([](Tx& tx) {
                   tx.sql() << "CREATE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql "
                               "AS $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); "
                               "PERFORM pg_sleep(5); RETURN NULL; END $$";
                   tx.sql() << "CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON teams "
                               "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                               "EXECUTE FUNCTION die_at_commit()";
                   return Status::Ok();
                 })
                  .ok());
  int runs = 0;
  Status st = db_->Write([&](Tx& tx) {
    ++runs;
    teams::Insert(tx, {"t-1", "payments", 1});
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("unknown"), std::string::npos) << st.message();
  EXPECT_EQ(runs, 1);
  // The database answers again at once.
  EXPECT_TRUE(db_->Ping().ok());
}

TEST_F(PostgresOnlyStoreTest, AnswerThatNeverComesIsCutAfterTheTimeout) {
  if (db_->sqlite()) GTEST_SKIP() << "PostgreSQL only";
  DatabaseOptions options;
  options.pool_size = 1;
  options.timeout_ms = 500;
  auto db = Database::Open(url_, options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  // A server-side limit stops a slow statement ...
  Status slow = (*db)->Read([](Tx& tx) {
    tx.sql() << "SELECT pg_sleep(10)";
    return Status::Ok();
  });
  EXPECT_EQ(slow.code(), Code::kUnavailable) << slow.ToString();
  EXPECT_NE(slow.message().find("timed out"), std::string::npos) << slow.message();
  // ... and where the server never answers (here: the limit switched off; in life a network
  // cut that leaves the socket open) kaasd closes the connection itself, once, no retry.
  int runs = 0;
  Status hung = (*db)->Read([&](Tx& tx) {
    ++runs;
    tx.sql() << "SET statement_timeout = 0";
    tx.sql() << "SELECT pg_sleep(30)";
    return Status::Ok();
  });
  EXPECT_EQ(hung.code(), Code::kUnavailable) << hung.ToString();
  EXPECT_NE(hung.message().find("no answer"), std::string::npos) << hung.message();
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE((*db)->Ping().ok());
}

TEST_F(PostgresOnlyStoreTest, SeveralHostsConnectToTheOneThatAnswers) {
  if (db_->sqlite()) GTEST_SKIP() << "PostgreSQL only";
  // postgresql://postgres@127.0.0.1:PORT/db -> nothing listens on port 1, the second answers.
  std::string rest = url_.substr(url_.find('@') + 1);
  std::string url = url_.substr(0, url_.find('@') + 1) + "127.0.0.1:1," + rest +
                    "?target_session_attrs=read-write";
  auto db = Database::Open(url, 2);
  ASSERT_TRUE(db.ok()) << url << ": " << db.status().ToString();
  EXPECT_TRUE((*db)->Ping().ok());
}

TEST_F(SqliteOnlyStoreTest, FullDiskFailsCleanlyAndWritesWorkOnceThereIsRoom) {
  if (!db_->sqlite()) GTEST_SKIP() << "SQLite only (PostgreSQL's disk is the server's)";
  ASSERT_TRUE(db_->Write([](Tx& tx) {
                   teams::Insert(tx, {"t-0", "first", 0});
                   return Status::Ok();
                 })
                  .ok());
  // max_page_count caps this connection's database file at its current size: SQLite then
  // fails exactly as on a full disk (SQLITE_FULL), without needing one.
  Status st = db_->Write([](Tx& tx) {
    long pages = 0;
    tx.sql() << "PRAGMA page_count", soci::into(pages);
    tx.sql() << "PRAGMA max_page_count = " << pages;
    for (int i = 1; i <= 2000; ++i) {
      teams::Insert(
          tx, {"t-" + std::to_string(i), "team-" + std::to_string(i) + std::string(200, 'x'), i});
    }
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("disk full"), std::string::npos) << st.message();
  // Nothing of the failed transaction is there, and with room again (a fresh session has no
  // cap) writes work.
  ASSERT_TRUE(db_->Write([](Tx& tx) {
                   teams::Insert(tx, {"t-9999", "after", 9999});
                   return Status::Ok();
                 })
                  .ok());
  ASSERT_OK(db_->Read([](Tx& tx) {
    auto all = teams::List(tx);
    EXPECT_EQ(all.size(), 2u);  // by name
    if (all.size() == 2) {
      EXPECT_EQ(all[0].name, "after");
      EXPECT_EQ(all[1].name, "first");
    }
    return Status::Ok();
  }));
}

TEST_F(SqliteOnlyStoreTest, ReadOnlyDatabaseFailsCleanly) {
  if (!db_->sqlite()) GTEST_SKIP() << "SQLite only";
  // chmod cannot stop root (CI runs as root); query_only makes SQLite refuse writes as it does
  // for a read-only file (SQLITE_READONLY).
  Status st = db_->Write([](Tx& tx) {
    tx.sql() << "PRAGMA query_only = ON";
    teams::Insert(tx, {"t-1", "payments", 1});
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("cannot write"), std::string::npos) << st.message();
  ASSERT_TRUE(db_->Write([](Tx& tx) {
                   teams::Insert(tx, {"t-2", "search", 2});
                   return Status::Ok();
                 })
                  .ok());
  ASSERT_OK(db_->Read([](Tx& tx) {
    auto all = teams::List(tx);
    EXPECT_EQ(all.size(), 1u);
    if (!all.empty()) EXPECT_EQ(all[0].name, "search");
    return Status::Ok();
  }));
}

}  // namespace
}  // namespace kaas::store
