#pragma once

// Test support: a throwaway PostgreSQL server of one test or benchmark, in a fresh folder on a
// free port of 127.0.0.1 (scripts/start-postgres.sh), stopped and removed when it goes out of
// scope.

#include <string>

namespace kaas::testing {

class PostgresServer {
 public:
  // `prefix`: the folder's name in /tmp (mkdtemp adds a random suffix).
  explicit PostgresServer(const std::string& prefix);
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();

  // `durable`: fsync on (a test that crashes the server needs its commits to survive).
  bool Start(bool durable = false);
  // pg_ctl stop -m immediate: every backend dies at once, as in a crash or a failover.
  bool Kill();
  bool Restart();
  int port() const { return port_; }
  // The database start-postgres.sh creates.
  std::string url() const;

 private:
  std::string dir_;
  int port_ = 0;
};

}  // namespace kaas::testing
