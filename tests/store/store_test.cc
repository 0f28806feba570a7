#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "kaas/store/database.h"
#include "kaas/store/repositories.h"

namespace kaas::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kaas-store-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = Database::Open("sqlite://" + (dir_ / "kaas.db").string(), 2);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->Migrate().ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

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
  db_->Read([](Tx& tx) {
    EXPECT_TRUE(teams::List(tx).empty());
    return Status::Ok();
  });
}

TEST_F(StoreTest, OperationWithStepsRoundTripsAndOnlyOneActivePerCluster) {
  Operation op{"op-1", "cl-1", "create", "pending", "admin", "", 10, 10, 0, {}};
  op.steps.push_back({"op-1", 0, "provision masters", "provision_nodes", "master", "pending"});
  op.steps.push_back({"op-1", 1, "join master-2", "join_master", "master-2", "pending"});
  ASSERT_TRUE(db_->Write([&](Tx& tx) {
                   teams::Insert(tx, {"t-1", "payments", 1});
                   clusters::Insert(tx, {"cl-1", "t-1", "a", "dev", "1.30.8", "provisioning", "", 3,
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
  db_->Read([](Tx& tx) {
    auto got = operations::Find(tx, "op-1");
    EXPECT_TRUE(got.has_value());
    EXPECT_EQ(got->steps.size(), 2u);
    EXPECT_EQ(got->steps[1].target, "master-2");
    EXPECT_EQ(operations::ListActiveIds(tx), std::vector<std::string>{"op-1"});
    EXPECT_FALSE(operations::Find(tx, "op-2").has_value());
    return Status::Ok();
  });
}

TEST_F(StoreTest, QuotaUsageIsDerivedFromLiveNodesAndHosts) {
  db_->Write([](Tx& tx) {
    teams::Insert(tx, {"t-1", "payments", 1});
    clusters::Insert(tx, {"cl-1", "t-1", "a", "dev", "1.30.8", "running", "", 1, "m.small", "vm", 1,
                          "physical", "w.medium", "admin", 1, 1});
    nodes::Insert(tx, {"n-1", "cl-1", "master-1", "master", "vm", "m.small", "ready", "sim-1", "",
                       4, 4, "", "1.30.8", 1, 1});
    nodes::Insert(tx, {"n-2", "cl-1", "master-2", "master", "vm", "m.small", "deleted", "sim-2", "",
                       4, 4, "", "1.30.8", 1, 1});
    nodes::Insert(tx, {"n-3", "cl-1", "worker-1", "worker", "physical", "", "ready", "", "h-1", 32,
                       128, "", "1.30.8", 1, 1});
    hosts::Upsert(tx, {"h-1", "127.0.0.1", 32, 128, "{}", "allocated", "cl-1", 1});
    return Status::Ok();
  });
  db_->Read([](Tx& tx) {
    QuotaUsage u = quotas::Usage(tx, "t-1");
    EXPECT_EQ(u.clusters, 1);
    EXPECT_EQ(u.vcpus, 4);
    EXPECT_EQ(u.memory_gib, 4);
    EXPECT_EQ(u.physical_hosts, 1);
    auto hv = hypervisors::Usage(tx);
    EXPECT_EQ(hv["sim-1"].vcpus, 4);
    EXPECT_EQ(hv.count("sim-2"), 0u);
    return Status::Ok();
  });
}

TEST_F(StoreTest, ClusterListPagesByIdAndFiltersByTeam) {
  db_->Write([](Tx& tx) {
    teams::Insert(tx, {"t-1", "payments", 1});
    teams::Insert(tx, {"t-2", "search", 1});
    for (int i = 0; i < 5; ++i) {
      clusters::Insert(
          tx, {"cl-" + std::to_string(i), i % 2 ? "t-2" : "t-1", "c" + std::to_string(i), "dev",
               "1.30.8", "running", "", 1, "m.small", "vm", 0, "vm", "w.medium", "admin", 1, 1});
    }
    return Status::Ok();
  });
  db_->Read([](Tx& tx) {
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
  });
}

}  // namespace
}  // namespace kaas::store
