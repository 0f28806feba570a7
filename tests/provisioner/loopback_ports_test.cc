// The forwarded ports of a QEMU guest (user-mode networking): picked by kaas when it defines the
// domain, bound by QEMU only when the domain starts.
#include "kaas/provisioner/loopback_ports.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

namespace kaas::provisioner {
namespace {

bool Bindable(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// The CI run of 2026-12-07 defined master-2 with the same port for SSH and the API server:
// the kernel handed out a port again right after it was released, and QEMU refused to start.
TEST(LoopbackPortsTest, NoPortIsHandedOutTwiceWithinADomainOrAcrossDomains) {
  std::set<int> seen;
  for (int domain = 0; domain < 200; ++domain) {
    auto ports = PickLoopbackPorts(4);
    ASSERT_TRUE(ports.ok()) << ports.status().ToString();
    ASSERT_EQ(ports->size(), 4u);
    for (int p : *ports) {
      EXPECT_GT(p, 0);
      EXPECT_TRUE(seen.insert(p).second) << "port " << p << " handed out twice";
      EXPECT_TRUE(Bindable(p)) << "port " << p << " is not free";
    }
  }
}

}  // namespace
}  // namespace kaas::provisioner
