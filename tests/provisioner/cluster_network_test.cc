#include "kaas/provisioner/cluster_network.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "kaas/common/strings.h"

namespace kaas::provisioner {
namespace {

// Every node of a cluster, made on any hypervisor at any time, joins the same segment: the
// segment depends on the cluster's id alone. Different clusters get different ones.
TEST(ClusterNetworkTest, ASegmentIsTheClustersOwnAndAnOrganizationLocalGroup) {
  const ClusterSegment a = SegmentOf("c-0f1e2d3c"), again = SegmentOf("c-0f1e2d3c");
  EXPECT_EQ(a.group, again.group);
  EXPECT_EQ(a.port, again.port);
  std::set<std::pair<std::string, int>> seen;
  for (int i = 0; i < 2000; ++i) {
    const ClusterSegment s = SegmentOf("cluster-" + std::to_string(i));
    const auto octets = Split(s.group, '.');
    ASSERT_EQ(octets.size(), 4u) << s.group;
    EXPECT_EQ(octets[0], "239") << s.group;
    EXPECT_GE(std::stoi(octets[1]), 128) << s.group;  // 239.128.0.0/9: organization-local
    EXPECT_GE(s.port, 20000);
    EXPECT_LT(s.port, 60000);
    seen.insert({s.group, s.port});
  }
  EXPECT_EQ(seen.size(), 2000u) << "two of 2,000 clusters share a segment";
}

// A VM's address and MAC come from its forwarded SSH port, unique on its hypervisor.
TEST(ClusterNetworkTest, AVmsAddressAndMacFollowItsForwardedSshPort) {
  EXPECT_EQ(SegmentAddress(40000), "10.200.156.64");
  EXPECT_EQ(SegmentAddress(65535), "10.200.255.255");  // a host address in 10.200.0.0/15
  EXPECT_EQ(SegmentMac(40000), "52:54:00:c8:9c:40");
  EXPECT_NE(SegmentAddress(40000), SegmentAddress(40001));
  EXPECT_NE(SegmentMac(40000), SegmentMac(40001));
}

}  // namespace
}  // namespace kaas::provisioner
