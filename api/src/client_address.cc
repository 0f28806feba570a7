#include "kaas/api/client_address.h"

#include <arpa/inet.h>

#include <cstring>
#include <optional>

#include "kaas/common/strings.h"

namespace kaas::api {
namespace {

// An IPv4 or IPv6 address as 16 bytes (IPv4 mapped into ::ffff:0:0/96).
std::optional<std::array<uint8_t, 16>> ParseIp(const std::string& text) {
  std::array<uint8_t, 16> out{};
  if (text.find('\0') != std::string::npos) return std::nullopt;  // inet_pton stops at a NUL
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::string Trim(const std::string& s) {
  size_t start = s.find_first_not_of(" \t");
  if (start == std::string::npos) return "";
  return s.substr(start, s.find_last_not_of(" \t") - start + 1);
}

}  // namespace

Result<TrustedProxies> TrustedProxies::Parse(const std::string& list) {
  TrustedProxies out;
  for (const std::string& raw : Split(list, ',')) {
    std::string entry = Trim(raw);
    if (entry.empty()) continue;
    size_t slash = entry.find('/');
    std::string address = entry.substr(0, slash);
    auto bytes = ParseIp(address);
    if (!bytes) {
      return InvalidArgument("trusted-proxies", "not an IP address or CIDR: " + entry);
    }
    bool v4 = address.find(':') == std::string::npos;
    int max = v4 ? 32 : 128;
    int prefix = max;
    if (slash != std::string::npos) {
      std::string len = entry.substr(slash + 1);
      if (len.empty() || len.size() > 3 ||
          len.find_first_not_of("0123456789") != std::string::npos || std::stoi(len) > max) {
        return InvalidArgument("trusted-proxies", "bad prefix length in " + entry);
      }
      prefix = std::stoi(len);
    }
    out.ranges_.push_back({*bytes, v4 ? prefix + 96 : prefix});
  }
  return out;
}

bool TrustedProxies::Contains(const std::string& address) const {
  auto bytes = ParseIp(address);
  if (!bytes) return false;
  for (const Range& r : ranges_) {
    int bits = r.prefix;
    bool match = true;
    for (size_t i = 0; i < 16 && bits > 0 && match; ++i, bits -= 8) {
      uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
      match = ((*bytes)[i] & mask) == (r.bytes[i] & mask);
    }
    if (match) return true;
  }
  return false;
}

std::string TrustedProxies::ClientAddress(const std::string& peer,
                                          const std::string& forwarded_for) const {
  if (ranges_.empty() || forwarded_for.empty() || !Contains(peer)) return peer;
  std::vector<std::string> hops = Split(forwarded_for, ',');
  std::string client = peer;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    std::string hop = Trim(*it);
    if (!ParseIp(hop)) return client;
    client = hop;
    if (!Contains(hop)) return client;
  }
  return client;
}

}  // namespace kaas::api
