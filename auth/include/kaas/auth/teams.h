#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kaas/auth/auth.h"
#include "kaas/common/clock.h"
#include "kaas/common/status.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"

namespace kaas::auth {

// A team name is a DNS label of at most this many characters.
inline constexpr size_t kTeamNameMaxLength = 40;

// The roles a member can have in a team, weakest last: admin manages the team, member operates
// its clusters, viewer only reads (Authorizer decides what each may do).
bool IsRole(const std::string& role);

// Teams and who is in them. Each call is one transaction. Access is the caller's decision
// (Authorizer::Check on the team found here): this service only keeps the rules of the data.
class TeamService {
 public:
  TeamService(store::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // kInvalidArgument (field name) unless the name is a DNS label of at most
  // kTeamNameMaxLength characters; kConflict when it is taken.
  Result<store::Team> Create(const std::string& name);
  // kNotFound for an unknown name.
  Result<store::Team> FindByName(const std::string& name);
  Result<store::Team> FindById(const std::string& id);
  // Every team (for platform admins) or the teams the user is a member of, by name.
  Result<std::vector<store::Team>> List(const Principal& who);
  // Team id -> name of every team, for rendering records that carry team ids.
  Result<std::map<std::string, std::string>> Names();

  Result<std::vector<store::Membership>> Members(const std::string& team_id);
  // Makes `username` a member with `role` (replacing an existing role). kInvalidArgument
  // (field role) for a role IsRole refuses; kNotFound for an unknown user.
  Status PutMember(const store::Team& team, const std::string& username, const std::string& role);
  // kNotFound when the user is unknown or not a member.
  Status RemoveMember(const store::Team& team, const std::string& username);

 private:
  store::Database& db_;
  const Clock& clock_;
};

}  // namespace kaas::auth
