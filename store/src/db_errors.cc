#include "db_errors.h"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

namespace kaas::store {
namespace {

bool Contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

}  // namespace

std::string OneLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "; ";
    } else if (c != '\t') {
      out += c;
    }
  }
  return out;
}

Classified Classify(const std::exception& e) {
  std::string what = OneLine(e.what());
  if (const auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e)) {
    std::string state = pg->sqlstate();
    // 23505 unique_violation; 40001/40P01 serialization failure and deadlock (retrying the
    // transaction is the documented answer); 57014 query_canceled (our statement_timeout);
    // class 08 connection exceptions; 57P01-57P03 the server is shutting down or starting;
    // 25006 a read-only transaction: connected to a standby (after a failover); 53 insufficient
    // resources (too many connections, disk full on the server).
    if (state == "23505") return {{Code::kAlreadyExists, what}};
    if (state == "40001" || state == "40P01") {
      return {{Code::kUnavailable, "database: " + what}, Failure::kTransient};
    }
    if (state == "57014") {
      return {{Code::kUnavailable, "database: statement timed out: " + what}};
    }
    if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 || state == "25006") {
      return {{Code::kUnavailable, "database unavailable: " + what}, Failure::kLost};
    }
    if (state.rfind("53", 0) == 0) return {{Code::kUnavailable, "database: " + what}};
  }
  // SQLite (and PostgreSQL errors raised without a result, such as a lost connection) only
  // have the message.
  if (Contains(what, "UNIQUE constraint") ||
      Contains(what, "duplicate key value violates unique constraint")) {
    return {{Code::kAlreadyExists, what}};
  }
  if (Contains(what, "database is locked") || Contains(what, "database is busy") ||
      Contains(what, "could not serialize")) {
    return {{Code::kUnavailable, "database: " + what}, Failure::kTransient};
  }
  if (Contains(what, "database or disk is full")) {
    return {{Code::kUnavailable, "database: disk full, nothing was written: " + what},
            Failure::kStorage};
  }
  if (Contains(what, "readonly database") || Contains(what, "disk I/O error") ||
      Contains(what, "unable to open database file")) {
    return {{Code::kUnavailable,
             "database: cannot write the database file, nothing was "
             "written: " +
                 what},
            Failure::kStorage};
  }
  if (Contains(what, "connection") || Contains(what, "server closed") ||
      Contains(what, "terminating")) {
    return {{Code::kUnavailable, "database unavailable: " + what}, Failure::kLost};
  }
  return {{Code::kInternal, "database: " + what}};
}

}  // namespace kaas::store
