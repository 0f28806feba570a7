#include "kaas/provisioner/tcp_probe.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace kaas::provisioner {
namespace {

// A listener on 127.0.0.1 that greets every connection with `greeting` ("" = says nothing, as
// QEMU's forwarder does for a guest that does not answer) and keeps it open.
class Listener {
 public:
  explicit Listener(std::string greeting) : greeting_(std::move(greeting)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0 || stop_) {
          if (c >= 0) close(c);
          return;
        }
        if (!greeting_.empty()) send(c, greeting_.data(), greeting_.size(), MSG_NOSIGNAL);
        open_.push_back(c);
      }
    });
  }
  ~Listener() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (int c : open_) close(c);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string greeting_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> open_;
  std::thread thread_;
};

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

TEST(TcpProbeTest, SshAnswersOnlyWhenItsBannerArrives) {
  Listener sshd("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), silent(""), other("HTTP/1.1 400\r\n");
  const std::string closed = "127.0.0.1:" + std::to_string(FreePort());
  const auto t0 = std::chrono::steady_clock::now();
  auto up = ProbeSsh(
      {sshd.address(), silent.address(), other.address(), closed, "no such:host", "[::1"}, 22, 700);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(up, (std::vector<bool>{true, false, false, false, false, false}));
  // All at once: the silent one costs one timeout, not one per machine.
  EXPECT_LT(took, std::chrono::milliseconds(3000));
}

// etcd's client port requires a client certificate; the probe has none and still sees the
// server's hello. openssl s_server stands for etcd.
TEST(TcpProbeTest, TlsAnswersWhenAServerHelloComesBack) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("kaas-tls-probe-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string cert = (dir / "c.pem").string(), key = (dir / "k.pem").string();
  ASSERT_EQ(std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                         "-nodes -subj /CN=etcd -days 1 -keyout " +
                         key + " -out " + cert + " 2>/dev/null")
                            .c_str()),
            0);
  const int port = FreePort();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string accept = "127.0.0.1:" + std::to_string(port);
    execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept.c_str(), "-cert",
           cert.c_str(), "-key", key.c_str(), "-Verify", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string tls = "127.0.0.1:" + std::to_string(port);
  std::vector<bool> up;
  for (int i = 0; i < 100; ++i) {  // until s_server listens
    up = ProbeTls({tls}, 2379, 1000);
    if (up[0]) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Listener silent(""), sshd("SSH-2.0-OpenSSH_9.2\r\n");
  auto all = ProbeTls({tls, silent.address(), sshd.address()}, 2379, 700);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  fs::remove_all(dir);
  EXPECT_TRUE(up[0]) << "openssl s_server never answered the probe's hello";
  EXPECT_EQ(all, (std::vector<bool>{true, false, false}));
}

}  // namespace
}  // namespace kaas::provisioner
