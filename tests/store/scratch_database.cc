#include "scratch_database.h"

#include <soci/soci.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>

#include "kaas/store/database.h"

namespace kaas::testing {
namespace {

// Runs one statement outside a transaction (CREATE/DROP DATABASE refuse to run inside one).
Status RunOnServer(const std::string& server_url, const std::string& statement) {
  auto db = store::Database::Open(server_url, 1);
  if (!db.ok()) return db.status();
  return (*db)->Read([&](store::Tx& tx) {
    tx.sql() << statement;
    return Status::Ok();
  });
}

// The URL with its database name (what follows the last '/') replaced.
std::string WithDatabase(const std::string& url, const std::string& name) {
  return url.substr(0, url.rfind('/') + 1) + name;
}

std::string DatabaseOf(const std::string& url) { return url.substr(url.rfind('/') + 1); }

}  // namespace

std::string PostgresUrl() {
  const char* url = std::getenv("KAAS_TEST_POSTGRES_URL");
  return url ? url : "";
}

Result<std::string> CreateScratchDatabase(const std::string& server_url, const std::string& hint) {
  static std::atomic<int> counter{0};
  // Unquoted identifiers: lower-case letters, digits and '_', at most 63 bytes.
  std::string name = "t_";
  for (char c : hint.substr(0, 32)) {
    name += std::isalnum(static_cast<unsigned char>(c))
                ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                : '_';
  }
  name += "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  KAAS_RETURN_IF_ERROR(RunOnServer(server_url, "CREATE DATABASE " + name));
  return WithDatabase(server_url, name);
}

Status DropScratchDatabase(const std::string& server_url, const std::string& url) {
  return RunOnServer(server_url, "DROP DATABASE IF EXISTS " + DatabaseOf(url) + " WITH (FORCE)");
}

}  // namespace kaas::testing
