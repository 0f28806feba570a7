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
// `default_port` when none is given. kInvalidArgument (field "address") for an empty host or a
// port that is not a number in 1..65535.
Result<HostPort> ParseHostPort(std::string_view address, int default_port);

// Whether `s` is an IPv4 or IPv6 address (not a name).
bool IsIpAddress(const std::string& s);

}  // namespace kaas
