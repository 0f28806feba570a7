#include "kaas/auth/teams.h"

#include "kaas/common/ids.h"
#include "kaas/common/names.h"
#include "kaas/store/repositories.h"

namespace kaas::auth {

bool IsRole(const std::string& role) {
  return role == "admin" || role == "member" || role == "viewer";
}

Result<store::Team> TeamService::Create(const std::string& name) {
  KAAS_RETURN_IF_ERROR(CheckDnsLabel("name", name, kTeamNameMaxLength));
  store::Team team{NewId("tm"), name, clock_.NowMs()};
  Status st = db_.Write([&](store::Tx& tx) {
    store::teams::Insert(tx, team);
    return Status::Ok();
  });
  if (st.code() == Code::kAlreadyExists) return Conflict("team " + name + " already exists");
  KAAS_RETURN_IF_ERROR(st);
  return team;
}

Result<store::Team> TeamService::FindByName(const std::string& name) {
  std::optional<store::Team> team;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    team = store::teams::FindByName(tx, name);
    return Status::Ok();
  }));
  if (!team) return NotFound("team " + name + " not found");
  return *team;
}

Result<store::Team> TeamService::FindById(const std::string& id) {
  std::optional<store::Team> team;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    team = store::teams::FindById(tx, id);
    return Status::Ok();
  }));
  if (!team) return NotFound("team " + id + " not found");
  return *team;
}

Result<std::vector<store::Team>> TeamService::List(const Principal& who) {
  std::vector<store::Team> teams;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    teams = who.is_admin ? store::teams::List(tx) : store::teams::ListForUser(tx, who.user_id);
    return Status::Ok();
  }));
  return teams;
}

Result<std::map<std::string, std::string>> TeamService::Names() {
  std::map<std::string, std::string> names;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    for (const auto& t : store::teams::List(tx)) names[t.id] = t.name;
    return Status::Ok();
  }));
  return names;
}

Result<std::vector<store::Membership>> TeamService::Members(const std::string& team_id) {
  std::vector<store::Membership> members;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    members = store::memberships::ListForTeam(tx, team_id);
    return Status::Ok();
  }));
  return members;
}

Status TeamService::PutMember(const store::Team& team, const std::string& username,
                              const std::string& role) {
  if (!IsRole(role)) return InvalidArgument("role", "role must be admin, member or viewer");
  return db_.Write([&](store::Tx& tx) {
    auto user = store::users::FindByUsername(tx, username);
    if (!user) return NotFound("user " + username + " not found");
    store::memberships::Put(tx, team.id, user->id, role);
    return Status::Ok();
  });
}

Status TeamService::RemoveMember(const store::Team& team, const std::string& username) {
  return db_.Write([&](store::Tx& tx) {
    auto user = store::users::FindByUsername(tx, username);
    if (!user || !store::memberships::Delete(tx, team.id, user->id)) {
      return NotFound("user " + username + " is not a member of " + team.name);
    }
    return Status::Ok();
  });
}

}  // namespace kaas::auth
