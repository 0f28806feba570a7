// api::TrustedProxies: which X-Forwarded-For entry names the client (--trusted-proxies).

#include "kaas/api/client_address.h"

#include <gtest/gtest.h>

namespace kaas::api {
namespace {

TEST(TrustedProxiesTest, ParsesAddressesAndCidrsAndRefusesTheRest) {
  EXPECT_TRUE(TrustedProxies::Parse("").ok());
  EXPECT_TRUE(TrustedProxies::Parse("").value().empty());
  EXPECT_TRUE(TrustedProxies::Parse("10.0.0.0/8, 127.0.0.1 ,::1/128,fd00::/8").ok());
  for (const char* bad : {"10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0/8", "proxy.local",
                          "10.0.0.0/8x", "1.2.3.4/-1"}) {
    auto parsed = TrustedProxies::Parse(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(TrustedProxiesTest, ContainsMatchesByPrefix) {
  auto p = TrustedProxies::Parse("10.1.0.0/16,192.168.1.7,fd00::/8").value();
  struct Case {
    const char* address;
    bool trusted;
  } cases[] = {
      {"10.1.200.3", true},      {"10.2.0.1", false},  {"192.168.1.7", true},
      {"192.168.1.8", false},    {"fd12::1", true},    {"fe80::1", false},
      {"::ffff:10.1.0.9", true}, {"not-an-ip", false}, {"", false},
  };
  for (const auto& c : cases) EXPECT_EQ(p.Contains(c.address), c.trusted) << c.address;
}

TEST(TrustedProxiesTest, ClientAddressWalksForwardedForFromTheRight) {
  auto p = TrustedProxies::Parse("10.0.0.0/8").value();
  struct Case {
    const char* peer;
    const char* forwarded_for;
    const char* client;
  } cases[] = {
      // An untrusted peer's header is ignored.
      {"203.0.113.5", "198.51.100.1", "203.0.113.5"},
      // A trusted proxy names the client.
      {"10.0.0.5", "198.51.100.1", "198.51.100.1"},
      // Only the entries trusted proxies appended count: what the client wrote itself is
      // left of the first untrusted address.
      {"10.0.0.5", "6.6.6.6, 198.51.100.1", "198.51.100.1"},
      {"10.0.0.5", "198.51.100.1, 10.0.0.9", "198.51.100.1"},
      // Garbage stops the walk at the last address a trusted proxy vouched for.
      {"10.0.0.5", "198.51.100.1, junk", "10.0.0.5"},
      {"10.0.0.5", "", "10.0.0.5"},
      // Every hop trusted: the leftmost.
      {"10.0.0.5", "10.0.0.7, 10.0.0.8", "10.0.0.7"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(p.ClientAddress(c.peer, c.forwarded_for), c.client)
        << c.peer << " / " << c.forwarded_for;
  }
  auto none = TrustedProxies::Parse("").value();
  EXPECT_EQ(none.ClientAddress("127.0.0.1", "198.51.100.1"), "127.0.0.1");
}

}  // namespace
}  // namespace kaas::api
