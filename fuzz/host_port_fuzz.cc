// A physical host's address (POST /hosts, inventory files) goes to SSH and Ansible: an address
// that parses has a host and a port in 1..65535, and printed back it parses to the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kaas/common/host_port.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = kaas::ParseHostPort(text, 22);
  if (!parsed.ok()) return 0;
  if (parsed->host.empty() || parsed->port < 1 || parsed->port > 65535) std::abort();
  const bool v6 = parsed->host.find(':') != std::string::npos;
  const std::string printed =
      (v6 ? "[" + parsed->host + "]" : parsed->host) + ":" + std::to_string(parsed->port);
  auto again = kaas::ParseHostPort(printed, 22);
  if (!again.ok() || again->host != parsed->host || again->port != parsed->port) std::abort();
  return 0;
}
