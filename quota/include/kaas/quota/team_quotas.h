#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kaas/common/clock.h"
#include "kaas/common/status.h"
#include "kaas/quota/quota.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"

namespace kaas::quota {

// New values for some limits; the ones not set keep their current value.
struct LimitsChange {
  std::optional<int64_t> clusters;
  std::optional<int64_t> vcpus;
  std::optional<int64_t> memory_gib;
  std::optional<int64_t> physical_hosts;

  bool empty() const { return !clusters && !vcpus && !memory_gib && !physical_hosts; }
};

// `limits` with the values `change` sets.
Limits Apply(Limits limits, const LimitsChange& change);

struct TeamQuota {
  Limits limits;
  Usage usage;
};

// A quota request with the name of its team.
struct QuotaRequestRecord {
  store::QuotaRequest request;
  std::string team_name;
};

enum class Decision { kApprove, kReject };

// A team's quota as people manage it (DESIGN.md §3): its limits and usage, limits a platform
// admin sets, and quota requests — a team asks for limits, a platform admin approves (the new
// limits apply at once, in the same transaction) or rejects. Each call is one transaction.
// Who may call what is the caller's decision (api/ through auth::Authorizer).
class TeamQuotas {
 public:
  TeamQuotas(store::Database& db, const QuotaService& quota, const Clock& clock)
      : db_(db), quota_(quota), clock_(clock) {}

  Result<TeamQuota> Get(const std::string& team_id);
  // Every team's quota by team name, as Get reports it, in a few aggregate queries (for
  // /metrics).
  Result<std::map<std::string, TeamQuota>> All();
  // Sets the limits `change` names. kInvalidArgument (field limits.<name>) for a negative one.
  Result<TeamQuota> Set(const std::string& team_id, const LimitsChange& change);

  // A pending request for the limits `change` names. kInvalidArgument: no limit (field
  // limits), a negative one (limits.<name>), a reason that is not 1-2000 characters (reason).
  Result<QuotaRequestRecord> Request(const store::Team& team, const LimitsChange& change,
                                     const std::string& reason, const std::string& requested_by);
  // Newest first. `state` "" = any, else pending | approved | rejected (kInvalidArgument,
  // field state). Only requests of `team_ids`, or of every team with all_teams.
  Result<std::vector<QuotaRequestRecord>> ListRequests(const std::string& state,
                                                       const std::vector<std::string>& team_ids,
                                                       bool all_teams);
  // kNotFound for an unknown id.
  Result<store::QuotaRequest> FindRequest(const std::string& id);
  // Decides a pending request; approving sets the requested limits in the same transaction.
  // kNotFound for an unknown id, kConflict when it was already decided.
  Result<QuotaRequestRecord> Decide(const std::string& id, Decision decision,
                                    const std::string& decided_by, const std::string& comment);

 private:
  store::Database& db_;
  const QuotaService& quota_;
  const Clock& clock_;
};

}  // namespace kaas::quota
