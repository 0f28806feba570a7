#include "kaas/provisioner/loopback_ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>

namespace kaas::provisioner {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRemembered = std::chrono::minutes(10);

std::mutex given_mu;
std::map<int, Clock::time_point>* Given() {  // port -> when it was handed out
  static auto* given = new std::map<int, Clock::time_point>();
  return given;
}

// A socket bound to a port the kernel picks on 127.0.0.1; -1 when there is none.
int BindAny(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

}  // namespace

Result<std::vector<int>> PickLoopbackPorts(size_t n) {
  std::lock_guard lock(given_mu);
  auto& given = *Given();
  const auto now = Clock::now();
  std::erase_if(given, [&](const auto& e) { return now - e.second > kRemembered; });
  std::vector<int> ports, held;
  Status status;
  // The kernel hands out a port still bound here to no one else; one handed out before is
  // skipped (kept bound until the end, so that the next try gets another).
  for (int tries = 0; ports.size() < n; ++tries) {
    int port = 0, fd = BindAny(&port);
    if (fd < 0 || tries > 1000) {
      if (fd >= 0) ::close(fd);
      status = Internal("cannot pick a free port on 127.0.0.1");
      break;
    }
    held.push_back(fd);
    if (!given.contains(port)) ports.push_back(port);
  }
  for (int fd : held) ::close(fd);
  if (!status.ok()) return status;
  for (int p : ports) given[p] = now;
  return ports;
}

}  // namespace kaas::provisioner
