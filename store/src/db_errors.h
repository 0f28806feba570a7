// What a failed statement means (store/src/database.cc retries, reconnects or gives up by it):
// PostgreSQL's SQLSTATE where there is one, else the message SQLite or SOCI gave.
#pragma once

#include <exception>
#include <string>

#include "kaas/common/status.h"

namespace kaas::store {

// One line: libpq and SOCI messages span several.
std::string OneLine(std::string s);

// What a failed statement means for the connection and for a retry.
enum class Failure {
  kOther,      // the server answered with an error: the statement failed, the session is fine
  kTransient,  // busy, locked, serialization failure, deadlock: the transaction is rolled back
  kLost,       // the connection is gone (or useless, such as one to a read-only standby)
  kStorage,    // SQLite cannot write its file (full disk, read-only, I/O error)
};

struct Classified {
  Status status;
  Failure failure = Failure::kOther;
};

// The status a failed statement becomes and what it means for the connection.
Classified Classify(const std::exception& e);

}  // namespace kaas::store
