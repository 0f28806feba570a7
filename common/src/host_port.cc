#include "kaas/common/host_port.h"

#include <arpa/inet.h>

#include <charconv>

namespace kaas {
namespace {

Status BadAddress(std::string_view address) {
  return InvalidArgument("address", "address \"" + std::string(address) +
                                        "\" must be host or host:port (port 1-65535)");
}

}  // namespace

Result<HostPort> ParseHostPort(std::string_view address, int default_port) {
  std::string_view host = address, port;
  if (!address.empty() && address.front() == '[') {  // [v6]:port
    size_t close = address.find(']');
    if (close == std::string_view::npos) return BadAddress(address);
    host = address.substr(1, close - 1);
    std::string_view rest = address.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return BadAddress(address);
      port = rest.substr(1);
      if (port.empty()) return BadAddress(address);
    }
  } else if (size_t colon = address.find(':');
             colon != std::string_view::npos && address.rfind(':') == colon) {  // host:port
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (port.empty()) return BadAddress(address);
  }  // else: a name, an IPv4 address or a bare IPv6 address
  if (host.empty() || host.find_first_of(" \t\r\n/") != std::string_view::npos) {
    return BadAddress(address);
  }
  int number = default_port;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || end != port.data() + port.size() || number < 1 || number > 65535) {
      return BadAddress(address);
    }
  }
  return HostPort{std::string(host), number};
}

bool IsIpAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace kaas
