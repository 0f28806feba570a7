#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "kaas/lifecycle/catalog.h"

namespace kaas::lifecycle {
namespace {

struct MasterSizingCase {
  int64_t workers;
  std::string flavor;
  std::string kind;
  int64_t vcpus;
  int64_t memory_gib;
};

// Every boundary of the sizing table in DESIGN.md §1.
const std::vector<MasterSizingCase>& MasterSizingTable() {
  static const std::vector<MasterSizingCase> kCases = {
      {0, "m.small", "vm", 4, 4},          {1, "m.small", "vm", 4, 4},
      {50, "m.small", "vm", 4, 4},         {51, "m.medium", "vm", 8, 8},
      {100, "m.medium", "vm", 8, 8},       {101, "m.large", "physical", 8, 16},
      {500, "m.large", "physical", 8, 16},
  };
  return kCases;
}

void ExpectMasterFlavor(int64_t workers) {
  for (const auto& c : MasterSizingTable()) {
    if (c.workers != workers) continue;
    auto f = MasterFlavorForWorkers(workers);
    ASSERT_TRUE(f.ok()) << workers << " workers: " << f.status().ToString();
    EXPECT_EQ(f->name, c.flavor) << workers << " workers";
    EXPECT_EQ(ToString(f->role), "master") << workers << " workers";
    EXPECT_EQ(ToString(f->kind), c.kind) << workers << " workers";
    EXPECT_EQ(f->vcpus, c.vcpus) << workers << " workers";
    EXPECT_EQ(f->memory_gib, c.memory_gib) << workers << " workers";
    return;
  }
  FAIL() << "no table row for " << workers << " workers";
}

TEST(SizingPolicyTest, EveryBoundaryOfTheSizingTable) {
  for (const auto& c : MasterSizingTable()) ExpectMasterFlavor(c.workers);
}

TEST(SizingPolicyTest, NoWorkersGetSmallVmMasters) { ExpectMasterFlavor(0); }
TEST(SizingPolicyTest, FiftyWorkersStillGetSmallMasters) { ExpectMasterFlavor(50); }
TEST(SizingPolicyTest, FiftyOneWorkersGetMediumMasters) { ExpectMasterFlavor(51); }
TEST(SizingPolicyTest, HundredWorkersStillGetMediumVmMasters) { ExpectMasterFlavor(100); }
TEST(SizingPolicyTest, HundredAndOneWorkersGetLargePhysicalMasters) { ExpectMasterFlavor(101); }
TEST(SizingPolicyTest, FiveHundredWorkersGetLargePhysicalMasters) { ExpectMasterFlavor(500); }

TEST(SizingPolicyTest, MoreThanFiveHundredWorkersAreRejectedOnWorkersCount) {
  for (int64_t workers : {501, 1000}) {
    auto f = MasterFlavorForWorkers(workers);
    ASSERT_FALSE(f.ok()) << workers;
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument) << workers;
    EXPECT_EQ(f.status().field(), "workers.count") << workers;
  }
}

TEST(SizingPolicyTest, NegativeWorkerCountIsRejectedOnWorkersCount) {
  auto f = MasterFlavorForWorkers(-1);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(f.status().field(), "workers.count");
}

TEST(SizingPolicyTest, MasterCountDefaultsByPurpose) {
  struct Case {
    std::string purpose;
    int64_t masters;
  };
  for (const Case& c : std::vector<Case>{{"personal", 1}, {"dev", 3}, {"prod", 5}}) {
    auto n = MasterCount(c.purpose, 0);
    ASSERT_TRUE(n.ok()) << c.purpose << ": " << n.status().ToString();
    EXPECT_EQ(*n, c.masters) << c.purpose;
  }
}

TEST(SizingPolicyTest, ExplicitOddMasterCountOverridesThePurpose) {
  for (const std::string purpose : {"personal", "dev", "prod"}) {
    for (int64_t count : {1, 3, 5}) {
      auto n = MasterCount(purpose, count);
      ASSERT_TRUE(n.ok()) << purpose << "/" << count << ": " << n.status().ToString();
      EXPECT_EQ(*n, count) << purpose;
    }
  }
}

TEST(SizingPolicyTest, EvenOrInvalidMasterCountIsRejectedOnMastersCount) {
  for (int64_t count : {2, 4, 6, 7, -1}) {
    auto n = MasterCount("dev", count);
    ASSERT_FALSE(n.ok()) << count;
    EXPECT_EQ(n.status().code(), Code::kInvalidArgument) << count;
    EXPECT_EQ(n.status().field(), "masters.count") << count;
  }
}

TEST(SizingPolicyTest, UnknownPurposeIsRejectedOnPurpose) {
  for (const std::string purpose : {"", "staging", "Dev"}) {
    auto n = MasterCount(purpose, 0);
    ASSERT_FALSE(n.ok()) << purpose;
    EXPECT_EQ(n.status().code(), Code::kInvalidArgument) << purpose;
    EXPECT_EQ(n.status().field(), "purpose") << purpose;
  }
}

TEST(SizingPolicyTest, WorkerFlavorsAreVmsOfGrowingSize) {
  struct Case {
    std::string name;
    int64_t vcpus;
    int64_t memory_gib;
  };
  for (const Case& c :
       std::vector<Case>{{"w.small", 2, 4}, {"w.medium", 4, 8}, {"w.large", 8, 32}}) {
    auto f = WorkerFlavor(c.name);
    ASSERT_TRUE(f.ok()) << c.name;
    EXPECT_EQ(f->name, c.name);
    EXPECT_EQ(ToString(f->role), "worker");
    EXPECT_EQ(ToString(f->kind), "vm");
    EXPECT_EQ(f->vcpus, c.vcpus) << c.name;
    EXPECT_EQ(f->memory_gib, c.memory_gib) << c.name;
  }
  EXPECT_TRUE(WorkerFlavor(kDefaultWorkerFlavor).ok());
}

TEST(SizingPolicyTest, UnknownWorkerFlavorIsRejectedOnWorkersFlavor) {
  for (const std::string name : {"", "m.small", "w.huge"}) {
    auto f = WorkerFlavor(name);
    ASSERT_FALSE(f.ok()) << name;
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(f.status().field(), "workers.flavor");
  }
}

TEST(SizingPolicyTest, TheSizingTableIsContiguousAndNamesKnownMastersOfGrowingSize) {
  const auto& table = SizingTable();
  ASSERT_FALSE(table.empty());
  EXPECT_EQ(table.front().min_workers, 0);
  EXPECT_EQ(table.back().max_workers, kMaxWorkers);
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_LE(table[i].min_workers, table[i].max_workers) << i;
    ASSERT_TRUE(MasterFlavor(table[i].master_flavor).ok()) << table[i].master_flavor;
    if (i == 0) continue;
    EXPECT_EQ(table[i].min_workers, table[i - 1].max_workers + 1) << "gap before row " << i;
    EXPECT_GT(MasterFlavorRank(table[i].master_flavor),
              MasterFlavorRank(table[i - 1].master_flavor))
        << "more workers never get smaller masters";
  }
}

TEST(SizingPolicyTest, MasterFlavorsByNameAndRank) {
  EXPECT_EQ(MasterFlavorRank("m.small"), 0);
  EXPECT_EQ(MasterFlavorRank("m.medium"), 1);
  EXPECT_EQ(MasterFlavorRank("m.large"), 2);
  EXPECT_EQ(MasterFlavorRank("w.small"), -1);
  auto f = MasterFlavor("w.small");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(f.status().field(), "flavor");
  EXPECT_EQ(MasterFlavor("x", "masters.flavor").status().field(), "masters.flavor");
}

TEST(SizingPolicyTest, VersionsCatalogHasOneDefaultAndConsecutiveMinors) {
  const auto& versions = SupportedVersions();
  int defaults = 0;
  std::set<int> minors;
  int previous_minor = 0;
  for (const auto& v : versions) {
    defaults += v.is_default;
    EXPECT_TRUE(IsSupportedVersion(v.version)) << v.version;
    ASSERT_EQ(v.version.rfind("1.", 0), 0u) << v.version;
    int minor = std::stoi(v.version.substr(2));
    EXPECT_GE(minor, previous_minor) << "versions are listed oldest first";
    previous_minor = minor;
    minors.insert(minor);
    if (v.is_default) EXPECT_EQ(DefaultVersion(), v.version);
  }
  EXPECT_EQ(defaults, 1);
  ASSERT_GE(minors.size(), 3u);
  EXPECT_EQ(*minors.rbegin() - *minors.begin() + 1, static_cast<int>(minors.size()))
      << "minors must be consecutive so that one-minor-at-a-time upgrades have a path";
  EXPECT_FALSE(IsSupportedVersion("1.28.0"));
  EXPECT_FALSE(IsSupportedVersion(""));
}

}  // namespace
}  // namespace kaas::lifecycle
