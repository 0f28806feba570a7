#include "postgres_server.h"

#include <stdlib.h>

#include <vector>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

std::string Script() { return std::string(KAAS_SOURCE_DIR) + "/scripts/start-postgres.sh"; }

}  // namespace

PostgresServer::PostgresServer(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) != nullptr) dir_ = buf.data();
  port_ = FreePort();
}

PostgresServer::~PostgresServer() {
  if (dir_.empty()) return;
  Shell("bash " + Script() + " --stop " + dir_ + " >/dev/null 2>&1");
  Shell("rm -rf " + dir_);
}

bool PostgresServer::Start(bool durable) {
  if (dir_.empty()) return false;
  return Shell(std::string(durable ? "POSTGRES_DURABLE=1 " : "") + "bash " + Script() + " " + dir_ +
               " " + std::to_string(port_) + " >/dev/null") == 0;
}

bool PostgresServer::Kill() { return Shell("bash " + Script() + " --kill " + dir_) == 0; }
bool PostgresServer::Restart() { return Shell("bash " + Script() + " --restart " + dir_) == 0; }

std::string PostgresServer::url() const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/kaas";
}

}  // namespace kaas::testing
