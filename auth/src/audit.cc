#include "kaas/auth/audit.h"

#include <map>

#include "kaas/common/text.h"
#include "kaas/store/repositories.h"

namespace kaas::auth {

Status AuditLog::Record(const store::AuditEntry& raw) {
  // Whatever a caller passes, the log holds bounded, valid UTF-8 (GET /audit must never fail
  // on a row, nor answer megabytes).
  store::AuditEntry entry = raw;
  entry.actor = Sanitized(raw.actor, kMaxUsernameBytes);
  entry.action = Sanitized(raw.action, 200);
  entry.object = Sanitized(raw.object, 200);
  entry.remote_addr = Sanitized(raw.remote_addr, 100);
  entry.result = Sanitized(raw.result, 100);
  return db_.Write([&](store::Tx& tx) {
    store::audit::Insert(tx, entry);
    return Status::Ok();
  });
}

Result<std::vector<AuditRecord>> AuditLog::List(const Principal& who, const std::string& team_id,
                                                int64_t limit) {
  std::vector<std::string> team_ids;
  bool all = false;
  if (!team_id.empty()) {
    team_ids.push_back(team_id);
  } else if (who.is_admin) {
    all = true;
  } else {
    for (const auto& m : who.memberships) {
      if (m.role == "admin") team_ids.push_back(m.team_id);
    }
    if (team_ids.empty()) {
      return Status(Code::kPermissionDenied, "the audit log is for team and platform admins");
    }
  }
  std::vector<AuditRecord> out;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    std::map<std::string, std::string> names;
    for (const auto& t : store::teams::List(tx)) names[t.id] = t.name;
    for (auto& e : store::audit::List(tx, team_ids, all, limit)) {
      auto name = names.find(e.team_id);
      out.push_back({std::move(e), name == names.end() ? "" : name->second});
    }
    return Status::Ok();
  }));
  return out;
}

}  // namespace kaas::auth
