#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "kaas/common/status.h"

namespace kaas::api {

// The proxies whose X-Forwarded-For kaasd believes (--trusted-proxies CIDR,...). Without any,
// the client address of a request is always the socket's peer: a header anyone can send must
// not decide whose login failures are counted or what the audit log says.
class TrustedProxies {
 public:
  // "10.0.0.0/8,127.0.0.1,::1/128": IPv4 or IPv6 addresses with an optional prefix length
  // (none = the single address). "" trusts nobody. kInvalidArgument names a bad entry.
  static Result<TrustedProxies> Parse(const std::string& list);

  bool Contains(const std::string& address) const;

  // The request's client address. When `peer` is trusted, X-Forwarded-For is read from the
  // right (each trusted proxy appends the address it saw): the first entry that is not itself
  // a trusted proxy is the client. An entry that is not an IP address stops the walk at the
  // last address a trusted proxy vouched for.
  std::string ClientAddress(const std::string& peer, const std::string& forwarded_for) const;

  bool empty() const { return ranges_.empty(); }

 private:
  struct Range {
    std::array<uint8_t, 16> bytes{};  // IPv4 as IPv4-mapped IPv6
    int prefix = 0;                   // in bits of `bytes`
  };
  std::vector<Range> ranges_;
};

}  // namespace kaas::api
