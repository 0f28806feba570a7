#pragma once

#include <string>
#include <string_view>

#include "kaas/common/status.h"

namespace kaas {

struct HostPort {
  std::string host;
  int port = 0;
};

// Where to reach a machine: "host", "host:port", "[v6-address]:port" or a bare IPv6 address.
// `default_port` when none is given. kInvalidArgument (field "address") for a host that is not
// a DNS name, an IPv4 or (bracketed or bare) an IPv6 address, or a port that is not a number in
// 1..65535.
Result<HostPort> ParseHostPort(std::string_view address, int default_port);

// A DNS name (labels of letters, digits and '-', not at a label's ends, at most 253
// characters) or an IPv4 address.
bool IsHostName(std::string_view host);
// Whether `s` is an IPv4 or IPv6 address (not a name).
bool IsIpAddress(const std::string& s);

}  // namespace kaas
