#include "kaas/provisioner/tcp_probe.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>

#include "kaas/common/host_port.h"

namespace kaas::provisioner {
namespace {

// One probe: connect, send `hello` (may be empty), wait until the answer's first bytes are in.
struct Conn {
  int fd = -1;
  size_t index = 0;
  bool connected = false;
  size_t sent = 0;
  std::string got;
};

int Connect(const std::string& address, int default_port) {
  auto hp = ParseHostPort(address, default_port);
  if (!hp.ok()) return -1;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(hp->host.c_str(), std::to_string(hp->port).c_str(), &hints, &res) != 0 || !res) {
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

// Whether each address answers `hello` with bytes that start with `expect`.
std::vector<bool> ProbeAnswers(const std::vector<std::string>& addresses, int default_port,
                               const std::string& hello, const std::string& expect,
                               int timeout_ms) {
  std::vector<bool> up(addresses.size(), false);
  std::vector<Conn> conns;
  for (size_t i = 0; i < addresses.size(); ++i) {
    int fd = Connect(addresses[i], default_port);
    if (fd >= 0) conns.push_back({fd, i});
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto done = [&](Conn& c, bool answered) {
    up[c.index] = answered;
    close(c.fd);
    c.fd = -1;  // poll ignores negative descriptors
  };
  size_t open = conns.size();
  std::vector<pollfd> fds(conns.size());
  while (open > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) break;
    for (size_t k = 0; k < conns.size(); ++k) {
      const Conn& c = conns[k];
      const bool writing = !c.connected || c.sent < hello.size();
      fds[k] = {c.fd, static_cast<short>(writing ? POLLOUT : POLLIN), 0};
    }
    if (poll(fds.data(), fds.size(), static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (size_t k = 0; k < conns.size(); ++k) {
      Conn& c = conns[k];
      if (c.fd < 0 || fds[k].revents == 0) continue;
      if (!c.connected) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          done(c, false);
          --open;
          continue;
        }
        c.connected = true;
      }
      if (c.sent < hello.size()) {
        const ssize_t n = send(c.fd, hello.data() + c.sent, hello.size() - c.sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
          done(c, false);
          --open;
        } else if (n > 0) {
          c.sent += static_cast<size_t>(n);
        }
        continue;
      }
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[256];
      const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EAGAIN) continue;
      if (n > 0) c.got.append(buf, static_cast<size_t>(n));
      if (n <= 0 || c.got.size() >= expect.size()) {
        done(c, c.got.compare(0, expect.size(), expect) == 0);
        --open;
      }
    }
  }
  for (auto& c : conns) {
    if (c.fd >= 0) close(c.fd);
  }
  return up;
}

// A ClientHello as OpenSSL writes it (TLS 1.2 and 1.3 offered, OpenSSL's default ciphers), made
// once: the first flight of a handshake that goes no further.
std::string ClientHello() {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx) return "";
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  if (!ssl) return "";
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (!in || !out) {
    BIO_free(in);
    BIO_free(out);
    return "";
  }
  SSL_set_bio(ssl.get(), in, out);  // the SSL owns both from here
  SSL_set_connect_state(ssl.get());
  SSL_do_handshake(ssl.get());  // wants the server's answer: stops after writing the hello
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : "";
}

}  // namespace

std::vector<bool> ProbeSsh(const std::vector<std::string>& addresses, int default_port,
                           int timeout_ms) {
  return ProbeAnswers(addresses, default_port, "", "SSH-", timeout_ms);
}

std::vector<bool> ProbeTls(const std::vector<std::string>& addresses, int default_port,
                           int timeout_ms) {
  static const std::string hello = ClientHello();
  if (hello.empty()) return std::vector<bool>(addresses.size(), false);
  // A TLS record of type handshake (22), version 3.x: the server's hello. An alert (21) or
  // anything else is not a TLS server that answers.
  return ProbeAnswers(addresses, default_port, hello, std::string("\x16\x03", 2), timeout_ms);
}

}  // namespace kaas::provisioner
