#include "kaasd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "kaas/store/database.h"
#include "kaas/store/repositories.h"

namespace kaas::testing {
namespace {

std::string KaasdBinary() { return std::string(KAAS_BINARY_DIR) + "/bin/kaasd"; }

void IgnoreLibvirtError(void*, virErrorPtr) {}

}  // namespace

int Shell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

KaasdProcess::KaasdProcess(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {
  char tmpl[] = "/tmp/kaasd-test-XXXXXX";
  data_dir_ = mkdtemp(tmpl);
}

KaasdProcess::~KaasdProcess() {
  if (pid_ > 0) Kill();
  std::error_code ec;
  std::filesystem::remove_all(data_dir_, ec);
}

std::string KaasdProcess::base_url() const {
  return (ca_file_.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(port_);
}

void KaasdProcess::Configure(httplib::Client& cli) const {
  if (ca_file_.empty()) return;
  cli.set_ca_cert_path(ca_file_.c_str());
  cli.enable_server_certificate_verification(true);
}

bool KaasdProcess::Start() {
  port_ = FreePort();
  std::vector<std::string> args = {KaasdBinary(), "--listen", "127.0.0.1:" + std::to_string(port_),
                                   "--data-dir", data_dir_.string()};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  if (std::find(extra_args_.begin(), extra_args_.end(), "--sim-hypervisors") == extra_args_.end() &&
      std::find(extra_args_.begin(), extra_args_.end(), "--config") == extra_args_.end()) {
    args.insert(args.end(), {"--sim-hypervisors", "3"});
  }
  std::string log = (data_dir_ / "kaasd.log").string();
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("KAAS_ADMIN_PASSWORD", kAdminPassword, 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  httplib::Client cli(base_url());
  Configure(cli);
  cli.set_connection_timeout(0, 200000);
  for (int i = 0; i < 150; ++i) {
    if (auto res = cli.Get("/readyz"); res && res->status == 200) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool KaasdProcess::Kill() {
  if (pid_ <= 0) return false;
  int status = 0;
  bool alive = waitpid(pid_, &status, WNOHANG) == 0;
  if (alive) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  return alive;
}

bool KaasdProcess::Signal(int sig) { return pid_ > 0 && kill(pid_, sig) == 0; }

bool KaasdProcess::Alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == 0) return true;
  pid_ = -1;
  return false;
}

int KaasdProcess::Terminate(int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill();
  return -1;
}

std::string KaasdProcess::LoginAdmin() {
  auto r = Call("POST", "/api/v1/auth/login",
                Json{{"username", "admin"}, {"password", kAdminPassword}}.dump(), "");
  admin_token_ = r.status == 200 ? r.body.value("token", "") : "";
  return admin_token_;
}

std::string KaasdProcess::Login(const std::string& username, const std::string& password) {
  auto r = Call("POST", "/api/v1/auth/login",
                Json{{"username", username}, {"password", password}}.dump(), "");
  return r.status == 200 ? r.body.value("token", "") : "";
}

HttpResult KaasdProcess::Call(const std::string& method, const std::string& path,
                              const std::string& body, const std::string& token,
                              const httplib::Headers& extra_headers) {
  httplib::Client cli(base_url());
  Configure(cli);
  cli.set_read_timeout(30, 0);
  httplib::Headers headers = extra_headers;
  std::string t = token == "use-admin" ? admin_token_ : token;
  if (!t.empty()) headers.emplace("Authorization", "Bearer " + t);
  httplib::Result res{nullptr, httplib::Error::Unknown};
  if (method == "GET") {
    res = cli.Get(path.c_str(), headers);
  } else if (method == "POST") {
    res = cli.Post(path.c_str(), headers, body, "application/json");
  } else if (method == "PUT") {
    res = cli.Put(path.c_str(), headers, body, "application/json");
  } else if (method == "PATCH") {
    res = cli.Patch(path.c_str(), headers, body, "application/json");
  } else if (method == "DELETE") {
    res = cli.Delete(path.c_str(), headers);
  }
  HttpResult out;
  if (!res) return out;
  out.status = res->status;
  out.raw = res->body;
  for (const auto& [k, v] : res->headers) out.headers[k] = v;
  out.body = Json::parse(res->body, nullptr, false);
  return out;
}

Json KaasdProcess::WaitOperation(const std::string& op_id, int timeout_ms) {
  Json last;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = Call("GET", "/api/v1/operations/" + op_id);
    if (r.status == 200) {
      last = r.body;
      std::string state = last.value("state", "");
      if (state != "pending" && state != "running") return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return last;
}

std::vector<std::filesystem::path> SimFiles(const std::filesystem::path& data_dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& f : std::filesystem::directory_iterator(data_dir / "sim")) {
    if (f.path().extension() == ".xml") out.push_back(f.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string, bool>> SimDomains(const std::filesystem::path& sim_file) {
  virSetErrorFunc(nullptr, IgnoreLibvirtError);
  std::vector<std::pair<std::string, bool>> out;
  std::string uri = "test://" + sim_file.string();
  if (!std::filesystem::exists(sim_file)) {
    throw std::runtime_error("no simulated hypervisor file " + sim_file.string());
  }
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (!conn) throw std::runtime_error("libvirt cannot open " + uri);
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(conn, &doms, 0);
  if (n < 0) {
    virConnectClose(conn);
    throw std::runtime_error("libvirt cannot list the domains of " + uri);
  }
  for (int i = 0; i < n; ++i) {
    out.emplace_back(virDomainGetName(doms[i]), virDomainIsActive(doms[i]) == 1);
    virDomainFree(doms[i]);
  }
  free(doms);
  virConnectClose(conn);
  return out;
}

size_t OperationAtRest::SucceededSteps() const {
  size_t n = 0;
  while (n < step_states.size() && step_states[n] == "succeeded") ++n;
  return n;
}

OperationAtRest ReadOperationAtRest(const std::filesystem::path& data_dir,
                                    const std::string& op_id) {
  auto db = store::Database::Open("sqlite://" + (data_dir / "kaas.db").string(), 1);
  if (!db.ok()) throw std::runtime_error("cannot open kaasd's database: " + db.status().ToString());
  OperationAtRest out;
  Status st = (*db)->Read([&](store::Tx& tx) {
    std::string id = op_id;
    if (id.empty()) {
      auto active = store::operations::ListActiveIds(tx);
      if (active.size() != 1) return Status::Ok();
      id = active.front();
    }
    auto op = store::operations::Find(tx, id);
    if (!op) return Status::Ok();
    out.id = op->id;
    out.state = op->state;
    for (const auto& s : op->steps) out.step_states.push_back(s.state);
    return Status::Ok();
  });
  if (!st.ok()) throw std::runtime_error("cannot read kaasd's database: " + st.ToString());
  return out;
}

}  // namespace kaas::testing
