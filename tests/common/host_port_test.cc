#include "kaas/common/host_port.h"

#include <gtest/gtest.h>

namespace kaas {
namespace {

TEST(HostPortTest, NamesAddressesAndPortsAsWritten) {
  struct Case {
    const char* address;
    const char* host;
    int port;
  };
  for (const Case& c :
       {Case{"pm-1", "pm-1", 22}, Case{"pm-1.dc1.example.com:2222", "pm-1.dc1.example.com", 2222},
        Case{"10.0.0.5", "10.0.0.5", 22}, Case{"127.0.0.1:52101", "127.0.0.1", 52101},
        Case{"[fd00::7]:2200", "fd00::7", 2200}, Case{"[::1]", "::1", 22},
        Case{"fe80::1", "fe80::1", 22}}) {
    auto hp = ParseHostPort(c.address, 22);
    ASSERT_TRUE(hp.ok()) << c.address << ": " << hp.status().ToString();
    EXPECT_EQ(hp->host, c.host) << c.address;
    EXPECT_EQ(hp->port, c.port) << c.address;
  }
}

// Found by fuzz/host_port_fuzz: anything with two colons passed as a "bare IPv6 address", and
// went on to the Ansible inventory and SSH as the host.
TEST(HostPortTest, WhatIsNeitherANameNorAnAddressIsRefused) {
  for (const char* address :
       {"", "p[::1]:22m-1.examp,e", "::1:zz", "[pm-1]:22", "[::1]x", "[::1]:", "pm-1:", "pm-1:0",
        "pm-1:65536", "pm-1:22x", "pm 1", "pm-1/evil", "-pm", "pm_1", "pm..1", "a,b",
        "{{lookup('pipe','id')}}", "pm-1.", "fe80::1%eth0"}) {
    auto hp = ParseHostPort(address, 22);
    EXPECT_FALSE(hp.ok()) << "\"" << address << "\" parsed as " << hp->host << ":" << hp->port;
    if (!hp.ok()) EXPECT_EQ(hp.status().code(), Code::kInvalidArgument);
  }
  // A NUL inside: inet_pton would have read "::" and stopped.
  EXPECT_FALSE(ParseHostPort(std::string_view("::\0\xff0.]", 7), 22).ok());
  EXPECT_FALSE(ParseHostPort(std::string_view("[::\0x]:22", 9), 22).ok());
}

}  // namespace
}  // namespace kaas
