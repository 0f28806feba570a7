#pragma once

// Test support: a database of its own for each test, on SQLite or on the throwaway PostgreSQL
// server of the ctest fixture `postgres` (scripts/start-postgres.sh).

#include <string>

#include "kaas/common/status.h"

namespace kaas::testing {

// KAAS_TEST_POSTGRES_URL: the URL of the fixture server's database `kaas`, set on the tests
// registered with the fixture. "" when not set (the test then runs on SQLite).
std::string PostgresUrl();

// Creates an empty database on the server of `server_url` and returns its URL. The name is
// made of `hint`, the process id and a counter, so that tests running in parallel (ctest -j)
// never share one.
Result<std::string> CreateScratchDatabase(const std::string& server_url, const std::string& hint);

// Drops a database made by CreateScratchDatabase, disconnecting whoever still uses it (a
// killed kaasd's sessions, say).
Status DropScratchDatabase(const std::string& server_url, const std::string& url);

}  // namespace kaas::testing
