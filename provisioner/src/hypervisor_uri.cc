#include "kaas/provisioner/hypervisor_uri.h"

#include <algorithm>
#include <string>

#include "kaas/common/host_port.h"

namespace kaas::provisioner {
namespace {

Status Refused(std::string_view uri, const std::string& why) {
  std::string shown(uri.substr(0, 200));
  return InvalidArgument("uri", "uri \"" + shown + "\" is refused (" + why +
                                    "); kaas provisions on test:///default, test:///<path>, "
                                    "qemu:///system, qemu+ssh://[user@]host[:port]/system and "
                                    "qemu+tls://host[:port]/system");
}

bool Alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A DNS name (labels of letters, digits and '-', not at a label's ends) or an IPv4 address.
bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = std::min(host.find('.', start), host.size());
    std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) { return Alnum(c) || c == '-'; })) {
      return false;
    }
    start = dot + 1;
  }
  return true;
}

bool IsIpv6(std::string_view host) {
  return !host.empty() && host.find(':') != std::string_view::npos &&
         std::all_of(host.begin(), host.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.';
         });
}

bool IsUserName(std::string_view user) {
  return !user.empty() && user.size() <= 32 && (Alnum(user[0]) || user[0] == '_') &&
         std::all_of(user.begin(), user.end(),
                     [](char c) { return Alnum(c) || c == '_' || c == '-' || c == '.'; });
}

Status ValidateRemote(std::string_view uri, std::string_view rest, bool user_allowed) {
  constexpr std::string_view kPath = "/system";
  if (rest.size() <= kPath.size() || rest.substr(rest.size() - kPath.size()) != kPath) {
    return Refused(uri, "a remote hypervisor is host/system");
  }
  std::string_view authority = rest.substr(0, rest.size() - kPath.size());
  if (size_t at = authority.find('@'); at != std::string_view::npos) {
    if (!user_allowed || !IsUserName(authority.substr(0, at))) {
      return Refused(uri, "not a user name");
    }
    authority = authority.substr(at + 1);
  }
  auto at = ParseHostPort(authority, 0);
  if (!at.ok()) return Refused(uri, "not host or host:port");
  const bool bracketed = !authority.empty() && authority.front() == '[';
  if (bracketed ? !IsIpv6(at->host) : !IsHostName(at->host)) {
    return Refused(uri, "not a host name or IP address");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateHypervisorUri(std::string_view uri) {
  if (uri.size() > 1024) return Refused(uri, "longer than 1024 characters");
  if (std::any_of(uri.begin(), uri.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '?' || c == '#';
      })) {
    return Refused(uri, "no query parameters, fragments or control characters");
  }
  constexpr std::string_view kTest = "test://";
  if (uri.substr(0, kTest.size()) == kTest) {
    std::string_view path = uri.substr(kTest.size());
    if (path == "/default") return Status::Ok();
    if (path.size() < 2 || path.front() != '/') return Refused(uri, "not an absolute path");
    for (size_t start = 0; start < path.size();) {
      size_t slash = std::min(path.find('/', start + 1), path.size());
      if (path.substr(start, slash - start) == "/..") return Refused(uri, "\"..\" in the path");
      start = slash;
    }
    return Status::Ok();
  }
  if (uri == "qemu:///system") return Status::Ok();
  constexpr std::string_view kSsh = "qemu+ssh://", kTls = "qemu+tls://";
  if (uri.substr(0, kSsh.size()) == kSsh) return ValidateRemote(uri, uri.substr(kSsh.size()), true);
  if (uri.substr(0, kTls.size()) == kTls) {
    return ValidateRemote(uri, uri.substr(kTls.size()), false);
  }
  return Refused(uri, "not a driver and transport kaas supports");
}

}  // namespace kaas::provisioner
