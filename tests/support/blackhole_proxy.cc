#include "blackhole_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool BlackholeProxy::Start(int target_port) {
  port_ = FreePort();
  pid_ = fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    std::string script = std::string(KAAS_SOURCE_DIR) + "/tests/support/blackhole_proxy.py";
    std::string listen = std::to_string(port_), target = std::to_string(target_port);
    execlp("python3", "python3", script.c_str(), listen.c_str(), target.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 100; ++i) {
    if (Accepts(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

BlackholeProxy::~BlackholeProxy() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void BlackholeProxy::Cut() { kill(pid_, SIGUSR1); }
void BlackholeProxy::Heal() { kill(pid_, SIGUSR2); }

}  // namespace kaas::testing
