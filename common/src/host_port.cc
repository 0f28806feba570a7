#include "kaas/common/host_port.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <string>

namespace kaas {
namespace {

Status BadAddress(std::string_view address) {
  return InvalidArgument("address", "address \"" + std::string(address) +
                                        "\" must be host or host:port (port 1-65535)");
}

bool Alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsIpv6(std::string_view host) {
  // inet_pton reads up to a NUL: "::\0anything" must not pass as "::".
  if (host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) return false;
  unsigned char buf[16];
  return inet_pton(AF_INET6, std::string(host).c_str(), buf) == 1;
}

}  // namespace

bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = std::min(host.find('.', start), host.size());
    std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!Alnum(c) && c != '-') return false;
    }
    start = dot + 1;
  }
  return true;
}

Result<HostPort> ParseHostPort(std::string_view address, int default_port) {
  std::string_view host = address, port;
  bool v6 = false;
  if (!address.empty() && address.front() == '[') {  // [v6]:port
    v6 = true;
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
  } else {  // a name, an IPv4 address or a bare IPv6 address
    v6 = address.find(':') != std::string_view::npos;
  }
  // What goes on to SSH, Ansible's inventory and libvirt URIs: an IPv6 address where one was
  // written, else a DNS name or an IPv4 address; nothing else ("p[::1]:22m-1,e" was a "bare
  // IPv6 address" once).
  if (v6 ? !IsIpv6(host) : !IsHostName(host)) return BadAddress(address);
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
  if (s.find('\0') != std::string::npos) return false;  // inet_pton stops at a NUL
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace kaas
