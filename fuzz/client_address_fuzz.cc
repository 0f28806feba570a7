// --trusted-proxies and X-Forwarded-For: the input is "LIST\nPEER\nFORWARDED-FOR". The client
// address kaasd settles on is always the peer or one of the header's entries, never something
// made up, and an untrusted peer's header is never believed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kaas/api/client_address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t a = in.find('\n');
  const size_t b = a == std::string::npos ? std::string::npos : in.find('\n', a + 1);
  const std::string list = in.substr(0, a);
  const std::string peer = a == std::string::npos ? "" : in.substr(a + 1, b - a - 1);
  const std::string forwarded = b == std::string::npos ? "" : in.substr(b + 1);
  auto proxies = kaas::api::TrustedProxies::Parse(list);
  if (!proxies.ok()) return 0;
  const std::string client = proxies->ClientAddress(peer, forwarded);
  if (client == peer) return 0;
  if (!proxies->Contains(peer)) std::abort();
  if (forwarded.find(client) == std::string::npos) std::abort();
  return 0;
}
