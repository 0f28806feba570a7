#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "kaas/notify/webhooks.h"

namespace kaas::notify {
namespace {

struct Url {
  std::string scheme, host;
};

Result<Url> ParseUrl(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos) return InvalidArgument("url", "url must be an http or https URL");
  Url u{url.substr(0, sep), ""};
  if (u.scheme != "http" && u.scheme != "https") {
    return InvalidArgument("url", "url must use http or https, not " + u.scheme);
  }
  std::string rest = url.substr(sep + 3);
  std::string authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string::npos) {
    return InvalidArgument("url", "url must not carry credentials");
  }
  if (!authority.empty() && authority[0] == '[') {
    auto end = authority.find(']');
    if (end == std::string::npos) return InvalidArgument("url", "url has a malformed IPv6 host");
    u.host = authority.substr(1, end - 1);
  } else {
    u.host = authority.substr(0, authority.find(':'));
  }
  if (u.host.empty()) return InvalidArgument("url", "url has no host");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgument("url", "url must not contain spaces or control characters");
    }
  }
  return u;
}

// Loopback, link-local and unspecified: kaasd's own machine and the metadata services.
bool Forbidden(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
    return (a >> 24) == 127 || (a >> 16) == 0xA9FE || a == 0;
  }
  if (sa->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_LINKLOCAL(&a) || IN6_IS_ADDR_UNSPECIFIED(&a)) {
      return true;
    }
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      sockaddr_in v4{};
      v4.sin_family = AF_INET;
      std::memcpy(&v4.sin_addr, &a.s6_addr[12], 4);
      return Forbidden(reinterpret_cast<const sockaddr*>(&v4));
    }
  }
  return false;
}

}  // namespace

Status CheckTarget(const std::string& url, bool allow_loopback) {
  return ResolveTarget(url, allow_loopback).status();
}

Result<CheckedTarget> ResolveTarget(const std::string& url, bool allow_loopback) {
  KAAS_ASSIGN_OR_RETURN(Url u, ParseUrl(url));
  if (allow_loopback) return CheckedTarget{u.host, ""};
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(u.host.c_str(), nullptr, &hints, &found) != 0 || !found) {
    return InvalidArgument("url", "url's host " + u.host + " does not resolve");
  }
  bool forbidden = false;
  char first[INET6_ADDRSTRLEN] = "";
  for (addrinfo* a = found; a; a = a->ai_next) {
    forbidden = forbidden || Forbidden(a->ai_addr);
    if (first[0]) continue;
    const void* raw =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(
                  &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr);
    inet_ntop(a->ai_family, raw, first, sizeof first);
  }
  freeaddrinfo(found);
  if (forbidden) {
    return InvalidArgument("url", "url's host " + u.host +
                                      " is a loopback or link-local address (kaasd refuses them "
                                      "unless started with --webhook-allow-loopback true)");
  }
  return CheckedTarget{u.host, first};
}

}  // namespace kaas::notify
