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
  // A DNS name or IP address with an optional port; an IPv6 address only in brackets.
  auto at = ParseHostPort(authority, 0);
  if (!at.ok()) return Refused(uri, "not host or host:port");
  if (authority.front() != '[' && at->host.find(':') != std::string::npos) {
    return Refused(uri, "an IPv6 address in a URI is written in brackets");
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
