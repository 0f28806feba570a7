#include "kaas/quota/quota.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace kaas::quota {
namespace {

Limits TeamLimits() { return {/*clusters=*/5, /*vcpus=*/100, /*memory_gib=*/400, /*hosts=*/2}; }
Usage TeamUsage() { return {/*clusters=*/2, /*vcpus=*/60, /*memory_gib=*/200, /*hosts=*/1}; }

TEST(QuotaCheckTest, DemandWithinLimitsIsAdmitted) {
  EXPECT_TRUE(Check(TeamLimits(), TeamUsage(), {1, 20, 100, 1}).ok());
}

TEST(QuotaCheckTest, DemandThatExactlyReachesEveryLimitIsAdmitted) {
  EXPECT_TRUE(Check(TeamLimits(), TeamUsage(), {3, 40, 200, 1}).ok());
}

TEST(QuotaCheckTest, EmptyDemandIsAdmittedEvenWhenAlreadyOverLimit) {
  // A team whose limits were lowered below its usage can still delete or inspect clusters.
  Usage over{9, 900, 9000, 9};
  EXPECT_TRUE(Check(TeamLimits(), over, {}).ok());
}

TEST(QuotaCheckTest, EachExceededResourceIsReportedWithItsNumbers) {
  struct Case {
    std::string resource;
    Demand demand;
    ResourceShortfall expected;
  };
  const std::vector<Case> cases = {
      {"clusters", {4, 0, 0, 0}, {"clusters", 4, 2, 5}},
      {"vcpus", {1, 41, 0, 0}, {"vcpus", 41, 60, 100}},
      {"memory_gib", {1, 0, 201, 0}, {"memory_gib", 201, 200, 400}},
      {"physical_hosts", {1, 0, 0, 2}, {"physical_hosts", 2, 1, 2}},
  };
  for (const auto& c : cases) {
    Status st = Check(TeamLimits(), TeamUsage(), c.demand);
    EXPECT_EQ(st.code(), Code::kQuotaExceeded) << c.resource;
    ASSERT_EQ(st.shortfalls().size(), 1u) << c.resource;
    const ResourceShortfall& s = st.shortfalls()[0];
    EXPECT_EQ(s.resource, c.expected.resource);
    EXPECT_EQ(s.requested, c.expected.requested) << c.resource;
    EXPECT_EQ(s.used, c.expected.used) << c.resource;
    EXPECT_EQ(s.limit, c.expected.limit) << c.resource;
    EXPECT_NE(st.message().find(c.resource), std::string::npos) << st.message();
  }
}

TEST(QuotaCheckTest, EveryExceededResourceIsListed) {
  Status st = Check(TeamLimits(), TeamUsage(), {4, 50, 300, 0});
  EXPECT_EQ(st.code(), Code::kQuotaExceeded);
  std::vector<std::string> resources;
  for (const auto& s : st.shortfalls()) resources.push_back(s.resource);
  EXPECT_EQ(resources, (std::vector<std::string>{"clusters", "vcpus", "memory_gib"}));
  for (const auto& r : resources) EXPECT_NE(st.message().find(r), std::string::npos) << r;
}

TEST(QuotaCheckTest, ZeroLimitRefusesAnyDemandOfThatResource) {
  Limits no_hosts = TeamLimits();
  no_hosts.physical_hosts = 0;
  Status st = Check(no_hosts, {}, {1, 4, 4, 1});
  EXPECT_EQ(st.code(), Code::kQuotaExceeded);
  ASSERT_EQ(st.shortfalls().size(), 1u);
  EXPECT_EQ(st.shortfalls()[0].resource, "physical_hosts");
  EXPECT_EQ(st.shortfalls()[0].limit, 0);
}

store::Node Node(const std::string& kind, int64_t vcpus, int64_t memory_gib) {
  store::Node n;
  n.kind = kind;
  n.vcpus = vcpus;
  n.memory_gib = memory_gib;
  return n;
}

TEST(QuotaDemandTest, VmsTakeTheirSizeAndPhysicalNodesOneHostEach) {
  // A physical node's size is its host's: it counts as a host, not as vCPU or memory.
  Demand d = DemandOf(
      {Node("vm", 4, 4), Node("vm", 4, 8), Node("physical", 32, 128), Node("physical", 32, 128)});
  EXPECT_EQ(d.clusters, 0);
  EXPECT_EQ(d.vcpus, 8);
  EXPECT_EQ(d.memory_gib, 12);
  EXPECT_EQ(d.physical_hosts, 2);
  EXPECT_TRUE(DemandOf(std::vector<store::Node>{}).empty());
}

TEST(QuotaDemandTest, AResizeDemandsOnlyItsGrowth) {
  Demand up = GrowthOf(Node("vm", 4, 4), Node("vm", 8, 8));
  EXPECT_EQ(up.vcpus, 4);
  EXPECT_EQ(up.memory_gib, 4);
  EXPECT_EQ(up.physical_hosts, 0);
  EXPECT_TRUE(GrowthOf(Node("vm", 8, 8), Node("vm", 4, 4)).empty());
  Demand sum = DemandOf(Node("vm", 2, 4));
  sum += up;
  EXPECT_EQ(sum.vcpus, 6);
  EXPECT_EQ(sum.memory_gib, 8);
}

TEST(QuotaValidateTest, NonNegativeLimitsAreValid) {
  EXPECT_TRUE(QuotaService::Validate(TeamLimits()).ok());
  EXPECT_TRUE(QuotaService::Validate({0, 0, 0, 0}).ok());
}

TEST(QuotaValidateTest, NegativeLimitIsRejectedWithTheFieldNamed) {
  struct Case {
    std::function<void(Limits&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](Limits& l) { l.clusters = -1; }, "limits.clusters"},
      {[](Limits& l) { l.vcpus = -1; }, "limits.vcpus"},
      {[](Limits& l) { l.memory_gib = -5; }, "limits.memory_gib"},
      {[](Limits& l) { l.physical_hosts = -1; }, "limits.physical_hosts"},
  };
  for (const auto& c : cases) {
    Limits l = TeamLimits();
    c.mutate(l);
    Status st = QuotaService::Validate(l);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << c.field;
    EXPECT_EQ(st.field(), c.field);
  }
}

}  // namespace
}  // namespace kaas::quota

namespace kaas::quota {
namespace {

TEST(QuotaTest, NearlyFullOnlyWhenADemandCrossesNinetyPercent) {
  const Limits limits{/*clusters=*/10, /*vcpus=*/100, /*memory_gib=*/0, /*hosts=*/1};
  struct Case {
    Usage usage;
    Demand demand;
    std::vector<std::string> crossed;
  };
  for (const Case& c : std::vector<Case>{
           {{8, 80, 0, 0}, {1, 10, 0, 0}, {}},                     // exactly 90 %: not past it
           {{8, 80, 0, 0}, {2, 11, 0, 0}, {"clusters", "vcpus"}},  // past 90 %
           {{9, 95, 0, 0}, {0, 1, 0, 0}, {}},                      // was past it already
           {{0, 0, 50, 0}, {0, 0, 10, 0}, {}},                     // no limit: never full
           {{0, 0, 0, 0}, {0, 0, 0, 1}, {"physical_hosts"}},
       }) {
    std::vector<std::string> got;
    for (const auto& n : CrossingNinetyPercent(limits, c.usage, c.demand)) {
      got.push_back(n.resource);
    }
    EXPECT_EQ(got, c.crossed);
  }
}

}  // namespace
}  // namespace kaas::quota
