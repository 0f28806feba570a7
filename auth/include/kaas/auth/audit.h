#pragma once

#include <string>
#include <vector>

#include "kaas/auth/auth.h"
#include "kaas/common/status.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"

namespace kaas::auth {

// An audit entry with the name of its team ("" when it is about none).
struct AuditRecord {
  store::AuditEntry entry;
  std::string team_name;
};

// Who did what, when, from where (DESIGN.md §3 GET /audit). Entries never hold a request body.
class AuditLog {
 public:
  explicit AuditLog(store::Database& db) : db_(db) {}

  // Writes one entry in its own transaction.
  Status Record(const store::AuditEntry& entry);

  // Newest first, at most `limit`. With `team_id` set the caller must already have been
  // checked as that team's admin (Action::kManageTeam). Without it: a platform admin sees
  // every entry, anyone else the entries of the teams they are admin of, and someone who is
  // admin of no team gets kPermissionDenied.
  Result<std::vector<AuditRecord>> List(const Principal& who, const std::string& team_id,
                                        int64_t limit);

 private:
  store::Database& db_;
};

}  // namespace kaas::auth
