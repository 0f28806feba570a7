// Sessions, the caller, users and API tokens (auth::AuthService).

#include "routes.h"

namespace kaas::api {

Result<Reply> Login(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"username", "password"}));
  KAAS_ASSIGN_OR_RETURN(std::string username, GetString(body, "username", true, kMaxUsernameBytes));
  ctx.audit_actor = username;
  KAAS_ASSIGN_OR_RETURN(std::string password, GetString(body, "password", true, kMaxPasswordBytes));
  KAAS_ASSIGN_OR_RETURN(auto login, ctx.deps.auth.Login(username, password, ctx.remote_addr));
  return Reply{200,
               {{"token", login.token},
                {"expires_at", FormatTime(login.expires_at)},
                {"user", {{"username", login.user.username}, {"is_admin", login.user.is_admin}}}}};
}

Result<Reply> Logout(Context& ctx) {
  KAAS_RETURN_IF_ERROR(ctx.deps.auth.Logout(ctx.principal));
  return Reply{204, nullptr};
}

Result<Reply> Me(Context& ctx) { return Reply{200, MeJson(ctx.principal)}; }

Result<Reply> CreateUser(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"username", "password", "is_admin"}));
  KAAS_ASSIGN_OR_RETURN(std::string username, GetString(body, "username", true, kMaxUsernameBytes));
  ctx.audit_object = username;
  KAAS_ASSIGN_OR_RETURN(std::string password, GetString(body, "password", true, kMaxPasswordBytes));
  bool is_admin = false;
  if (auto a = body.find("is_admin"); a != body.end() && !a->is_null()) {
    if (!a->is_boolean()) return InvalidArgument("is_admin", "is_admin must be a boolean");
    is_admin = a->get<bool>();
  }
  KAAS_ASSIGN_OR_RETURN(store::User user, ctx.deps.auth.CreateUser(username, password, is_admin));
  return Reply{201, UserJson(user)};
}

Result<Reply> ListUsers(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto users, ctx.deps.auth.ListUsers());
  return Reply{200, Items(users, UserJson)};
}

Result<Reply> PatchUser(Context& ctx) {
  const std::string& username = ctx.params["username"];
  ctx.audit_object = username;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"disabled"}));
  auto d = body.find("disabled");
  if (d == body.end() || !d->is_boolean()) {
    return InvalidArgument("disabled", "disabled must be given as true or false");
  }
  KAAS_ASSIGN_OR_RETURN(store::User user,
                        ctx.deps.auth.SetDisabled(ctx.principal, username, d->get<bool>()));
  return Reply{200, UserJson(user)};
}

Result<Reply> PutPassword(Context& ctx) {
  const std::string& username = ctx.params["username"];
  ctx.audit_object = username;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"old_password", "new_password"}));
  KAAS_ASSIGN_OR_RETURN(std::string old_password,
                        GetString(body, "old_password", false, kMaxPasswordBytes));
  KAAS_ASSIGN_OR_RETURN(std::string new_password,
                        GetString(body, "new_password", true, kMaxPasswordBytes));
  KAAS_RETURN_IF_ERROR(ctx.deps.auth.ChangePassword(ctx.principal, username, old_password,
                                                    new_password, ctx.remote_addr));
  return Reply{204, nullptr};
}

// {name, ttl_hours} is a token that can do what its user can; with role "deployer" (DESIGN.md
// §6.5), {team, selector} narrow it to the team's deploy targets, and only that team's admin
// (or a platform admin) may issue one.
Result<Reply> CreateToken(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body,
                        ParseObject(ctx.body, {"name", "ttl_hours", "role", "team", "selector"}));
  KAAS_ASSIGN_OR_RETURN(std::string name, GetString(body, "name", true, kMaxNameBytes));
  KAAS_ASSIGN_OR_RETURN(int64_t ttl, GetInt(body, "ttl_hours", false, 24 * 30));
  KAAS_ASSIGN_OR_RETURN(std::string role, GetString(body, "role", false, kMaxNameBytes));
  if (role.empty()) {
    for (const char* field : {"team", "selector"}) {
      if (body.contains(field)) {
        return InvalidArgument(
            field, std::string(field) + " is only for role " + auth::kDeployerRole + " tokens");
      }
    }
    KAAS_ASSIGN_OR_RETURN(auto issued, ctx.deps.auth.CreateToken(ctx.principal, name, ttl));
    ctx.audit_object = issued.record.id;
    Json out = TokenJson(issued.record, "");
    out["token"] = issued.token;
    return Reply{201, out};
  }
  if (role != auth::kDeployerRole) {
    return InvalidArgument("role", std::string("role must be ") + auth::kDeployerRole +
                                       " (or absent for a token with the user's own rights)");
  }
  KAAS_ASSIGN_OR_RETURN(std::string team_name, GetString(body, "team", true, kMaxNameBytes));
  KAAS_ASSIGN_OR_RETURN(std::string selector, GetString(body, "selector", true, 1000));
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, team_name, auth::Action::kManageTeam));
  ctx.audit_team_id = team.id;
  KAAS_ASSIGN_OR_RETURN(
      auto issued, ctx.deps.auth.CreateDeployToken(ctx.principal, name, ttl, team.id, selector));
  ctx.audit_object = issued.record.id + " (" + auth::kDeployerRole + ")";
  Json out = TokenJson(issued.record, team.name);
  out["token"] = issued.token;
  return Reply{201, out};
}

Result<Reply> ListTokens(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto tokens, ctx.deps.auth.ListTokens(ctx.principal, ctx.Query("user")));
  KAAS_ASSIGN_OR_RETURN(auto team_names, ctx.deps.teams.Names());
  Json items = Json::array();
  for (const auto& t : tokens) items.push_back(TokenJson(t, team_names[t.team_id]));
  return Reply{200, {{"items", items}}};
}

Result<Reply> DeleteToken(Context& ctx) {
  ctx.audit_object = ctx.params["id"];
  KAAS_RETURN_IF_ERROR(ctx.deps.auth.RevokeToken(ctx.principal, ctx.params["id"]));
  return Reply{204, nullptr};
}

}  // namespace kaas::api
