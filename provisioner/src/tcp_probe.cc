#include "kaas/provisioner/tcp_probe.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "kaas/common/host_port.h"

namespace kaas::provisioner {

std::vector<bool> ProbeTcp(const std::vector<std::string>& addresses, int default_port,
                           int timeout_ms) {
  std::vector<bool> up(addresses.size(), false);
  std::vector<pollfd> fds;
  std::vector<size_t> which;
  for (size_t i = 0; i < addresses.size(); ++i) {
    auto hp = ParseHostPort(addresses[i], default_port);
    if (!hp.ok()) continue;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(hp->host.c_str(), std::to_string(hp->port).c_str(), &hints, &res) != 0 ||
        !res) {
      continue;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      int rc = connect(fd, res->ai_addr, res->ai_addrlen);
      if (rc == 0) {
        up[i] = true;
        close(fd);
      } else if (errno == EINPROGRESS) {
        fds.push_back({fd, POLLOUT, 0});
        which.push_back(i);
      } else {
        close(fd);
      }
    }
    freeaddrinfo(res);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t open = fds.size();
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    if (poll(fds.data(), fds.size(), static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].fd < 0 || fds[k].revents == 0) continue;
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fds[k].fd, SOL_SOCKET, SO_ERROR, &err, &len);
      up[which[k]] = err == 0 && (fds[k].revents & POLLOUT);
      close(fds[k].fd);
      fds[k].fd = -1;  // poll ignores negative descriptors
      --open;
    }
  }
  for (auto& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  return up;
}

}  // namespace kaas::provisioner
