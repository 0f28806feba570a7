// Teams, their members and the audit log (auth::TeamService, auth::AuditLog).

#include "routes.h"

namespace kaas::api {

using auth::Action;

Result<Reply> CreateTeam(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"name"}));
  KAAS_ASSIGN_OR_RETURN(std::string name, GetString(body, "name", true, kMaxNameBytes));
  auto team = ctx.deps.teams.Create(name);
  // An invalid name is not written into the audit log.
  if (team.status().code() != Code::kInvalidArgument) ctx.audit_object = name;
  KAAS_RETURN_IF_ERROR(team.status());
  ctx.audit_team_id = team->id;
  return Reply{201, TeamJson(*team)};
}

Result<Reply> ListTeams(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto teams, ctx.deps.teams.List(ctx.principal));
  return Reply{200, Items(teams, TeamJson)};
}

Result<Reply> ListMembers(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kRead));
  KAAS_ASSIGN_OR_RETURN(auto members, ctx.deps.teams.Members(team.id));
  Json items = Json::array();
  for (const auto& m : members) items.push_back(MemberJson(m));
  return Reply{200, {{"team", team.name}, {"items", items}}};
}

Result<Reply> PutMember(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kManageTeam));
  const std::string& username = ctx.params["username"];
  ctx.audit_team_id = team.id;
  ctx.audit_object = username;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"role"}));
  KAAS_ASSIGN_OR_RETURN(std::string role, GetString(body, "role", true, kMaxNameBytes));
  KAAS_RETURN_IF_ERROR(ctx.deps.teams.PutMember(team, username, role));
  return Reply{200, {{"team", team.name}, {"username", username}, {"role", role}}};
}

Result<Reply> DeleteMember(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kManageTeam));
  ctx.audit_team_id = team.id;
  ctx.audit_object = ctx.params["username"];
  KAAS_RETURN_IF_ERROR(ctx.deps.teams.RemoveMember(team, ctx.params["username"]));
  return Reply{204, nullptr};
}

Result<Reply> ListAudit(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(int64_t limit, ctx.QueryInt("limit", 100, 1, 1000));
  std::string team_id;
  if (std::string team = ctx.Query("team"); !team.empty()) {
    KAAS_ASSIGN_OR_RETURN(store::Team t, TeamFor(ctx, team, Action::kManageTeam));
    team_id = t.id;
  }
  KAAS_ASSIGN_OR_RETURN(auto records, ctx.deps.audit.List(ctx.principal, team_id, limit));
  return Reply{200, Items(records, AuditJson)};
}

}  // namespace kaas::api
