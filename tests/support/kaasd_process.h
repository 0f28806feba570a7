#pragma once

// Test support: runs the real kaasd binary on a free loopback port with its own data dir, and
// talks to it over HTTP.

#include <httplib.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kaas::testing {

using Json = nlohmann::json;

struct HttpResult {
  int status = 0;
  Json body;
  std::string raw;
  std::map<std::string, std::string> headers;
};

class KaasdProcess {
 public:
  // `extra_args` are appended to kaasd's command line (e.g. {"--sim-delay-ms", "200"}). The
  // tests' simulated datacenter has 3 hypervisors (their placement and capacity cases are
  // written for 3) unless the arguments name --sim-hypervisors or a --config; kaasd's own
  // default is 6.
  explicit KaasdProcess(std::vector<std::string> extra_args = {});
  ~KaasdProcess();

  // Starts kaasd and waits until /readyz answers 200. Returns false on timeout.
  bool Start();
  // SIGKILL, as a crash would, and reaps the process. Returns true when kaasd was still
  // running, false when it had already died on its own (e.g. an injected crash).
  bool Kill();
  // Sends a signal (SIGSTOP, SIGCONT: a paused replica); false when kaasd is not running.
  bool Signal(int sig);
  // Whether the process still runs (reaps it when it died on its own, e.g. an injected crash).
  bool Alive();
  // SIGTERM; returns the exit status (or -1 on timeout).
  int Terminate(int timeout_ms = 20000);
  bool running() const { return pid_ > 0; }
  void SetArgs(std::vector<std::string> extra_args) { extra_args_ = std::move(extra_args); }
  // kaasd serves HTTPS (its args carry --tls-cert/--tls-key): Start and Call speak TLS and
  // verify kaasd's certificate against `ca_file`.
  void UseTls(std::string ca_file) { ca_file_ = std::move(ca_file); }

  const std::filesystem::path& data_dir() const { return data_dir_; }
  int port() const { return port_; }
  std::string base_url() const;

  // Logs in as admin (password kAdminPassword) and keeps the token for later calls.
  std::string LoginAdmin();
  // Logs in as anyone; "" on failure.
  std::string Login(const std::string& username, const std::string& password);
  // The admin token from LoginAdmin().
  const std::string& admin_token() const { return admin_token_; }
  // `headers` are sent as well (e.g. X-Forwarded-For); token "" sends no Authorization.
  HttpResult Call(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& token = "use-admin", const httplib::Headers& headers = {});
  // Polls GET /operations/{id} until it is no longer pending/running; returns the last body.
  Json WaitOperation(const std::string& op_id, int timeout_ms = 30000);

  static constexpr const char* kAdminPassword = "correct-horse-battery";

 private:
  void Configure(httplib::Client& cli) const;

  std::vector<std::string> extra_args_;
  std::string ca_file_;
  std::filesystem::path data_dir_;
  int port_ = 0;
  int pid_ = -1;
  std::string admin_token_;
};

// An operation as a stopped kaasd left it in its SQLite database (read directly, not through
// kaas): what a kill or a SIGTERM really interrupted.
struct OperationAtRest {
  std::string id;
  std::string state;                     // "" when there was no such operation
  std::vector<std::string> step_states;  // by step index
  // Steps at the start of the plan that had succeeded.
  size_t SucceededSteps() const;
};
// `op_id` "": the one active operation (pending or running); "" state when there is none or
// several. Throws when the database cannot be read: a check that cannot look must not pass.
OperationAtRest ReadOperationAtRest(const std::filesystem::path& data_dir,
                                    const std::string& op_id);

// Picks a free TCP port on 127.0.0.1.
int FreePort();

// Runs `command` with /bin/sh; its exit status (-1 when it did not exit normally).
int Shell(const std::string& command);

// Domains on a simulated hypervisor file, read with the libvirt C API directly (not through
// kaas): name -> running. Throws when the file cannot be opened, so that "no domain left" can
// never pass without looking.
std::vector<std::pair<std::string, bool>> SimDomains(const std::filesystem::path& sim_file);
// Every simulated hypervisor's file in kaasd's data dir (sim/sim-N.xml), by name.
std::vector<std::filesystem::path> SimFiles(const std::filesystem::path& data_dir);

}  // namespace kaas::testing
