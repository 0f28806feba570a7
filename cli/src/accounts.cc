// token create|list|revoke, users, user create|disable|enable, passwd, team
// members|add-member|remove-member, audit.

#include <filesystem>
#include <istream>
#include <ostream>

#include "commands.h"
#include "kaas/cli/render.h"

namespace kaas::cli {
namespace {

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

std::string MembersPath(const std::string& team) {
  return "/api/v1/teams/" + UrlEncode(team) + "/members";
}

}  // namespace

// ---------- tokens ----------

int CmdTokenCreate(Env& env) {
  Json body = {{"name", env.args.positional[0]}};
  if (env.args.Has("ttl-hours")) {
    auto hours = ParseInt(env.args.Get("ttl-hours"));
    if (!hours || *hours < 1) return UsageError(env, "--ttl-hours must be a positive whole number");
    body["ttl_hours"] = *hours;
  }
  if (env.args.Has("deployer")) {
    if (!env.args.Has("team")) return UsageError(env, "--deployer needs --team");
    if (!env.args.Has("selector")) {
      return UsageError(env, "--deployer needs --selector (\"\" for every cluster of the team)");
    }
    body["role"] = "deployer";
    body["team"] = env.args.Get("team");
    body["selector"] = env.args.Get("selector");
  } else if (env.args.Has("team") || env.args.Has("selector")) {
    return UsageError(env, "--team and --selector are for --deployer tokens");
  }
  ApiResult r = env.Api().Post("/api/v1/tokens", body);
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  const Json& t = r.body;
  env.io.out << "Created token " << Str(t, "name") << " (" << Str(t, "id") << "), valid until "
             << Str(t, "expires_at") << ":\n\n"
             << "  " << Str(t, "token") << "\n\n"
             << "The token is shown only once: store it now, it cannot be retrieved later.\n"
             << "Send it as 'Authorization: Bearer <token>'; revoke it with 'kaas token revoke "
             << Str(t, "id") << "'.\n";
  if (Str(t, "role") == "deployer") {
    env.io.out << "It lists team " << Str(t, "team") << "'s clusters matching '"
               << Str(t, "selector") << "' (KAAS_TOKEN=<token> kaas deploy-targets) and fetches "
               << "their kubeconfigs; nothing else.\n";
  }
  return 0;
}

int CmdTokenList(Env& env) {
  std::string path = "/api/v1/tokens";
  if (env.args.Has("user")) path += "?user=" + UrlEncode(env.args.Get("user"));
  return PrintList(
      env, env.Api().Get(path), "No tokens.",
      {"ID", "NAME", "CREATED", "EXPIRES", "ROLE", "TEAM", "SELECTOR"}, [](const Json& t) {
        bool deployer = !Str(t, "role").empty();
        return std::vector<std::string>{Str(t, "id"),
                                        Str(t, "name"),
                                        Str(t, "created_at"),
                                        Str(t, "expires_at"),
                                        OrDash(Str(t, "role")),
                                        OrDash(Str(t, "team")),
                                        deployer ? "'" + Str(t, "selector") + "'" : "-"};
      });
}

int CmdDeployTargets(Env& env) {
  ApiResult r = env.Api().Get("/api/v1/deploy-targets?limit=500");
  if (r.ok() && env.args.Has("kubeconfigs")) {
    std::filesystem::path dir = env.args.Get("kubeconfigs");
    if (Status st = MakePrivateDirs(dir.string()); !st.ok()) return Fail(env, st.message());
    for (const auto& t : r.body.value("items", Json::array())) {
      const Json& c = Field(t, "cluster");
      std::string yaml;
      ApiResult kc = env.Api().GetText(
          "/api/v1/clusters/" + UrlEncode(Str(c, "id")) + "/kubeconfig", "application/yaml", yaml);
      if (!kc.ok()) return Fail(env, *kc.error);
      // Names are DNS labels (the API's rule), so NAME.yaml stays inside DIR.
      std::filesystem::path file = dir / (Str(c, "name") + ".yaml");
      if (Status st = WritePrivateFile(file.string(), yaml); !st.ok()) {
        return Fail(env, st.message());
      }
    }
  }
  return PrintList(env, r, "No deploy targets match the token's selector.",
                   {"NAME", "ID", "SERVER", "LABELS"}, [](const Json& t) {
                     const Json& c = Field(t, "cluster");
                     return std::vector<std::string>{Str(c, "name"), Str(c, "id"), Str(t, "server"),
                                                     OrDash(LabelsText(c))};
                   });
}

int CmdTokenRevoke(Env& env) {
  const std::string& id = env.args.positional[0];
  ApiResult r = env.Api().Delete("/api/v1/tokens/" + UrlEncode(id));
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, {{"id", id}, {"revoked", true}});
    return 0;
  }
  env.io.out << "Revoked token " << id << "\n";
  return 0;
}

// ---------- users ----------

int CmdUsers(Env& env) {
  ApiResult r = env.Api().Get("/api/v1/users");
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"USERNAME", "SOURCE", "ADMIN", "DISABLED", "CREATED"}};
  for (const auto& u : Field(r.body, "items")) {
    rows.push_back({Str(u, "username"), Str(u, "source"), u.value("is_admin", false) ? "yes" : "",
                    u.value("disabled", false) ? "yes" : "", Str(u, "created_at")});
  }
  env.io.out << RenderTable(rows);
  return 0;
}

int CmdUserCreate(Env& env) {
  const std::string& name = env.args.positional[0];
  auto password = ReadPassword(env, "new user " + name, true);
  if (!password.ok()) return UsageError(env, password.status().message());
  if (password->empty()) return UsageError(env, "the password is empty");
  bool admin = env.args.Has("admin");
  ApiResult r = env.Api().Post("/api/v1/users",
                               {{"username", name}, {"password", *password}, {"is_admin", admin}});
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << "Created user " << Str(r.body, "username")
             << (r.body.value("is_admin", false) ? " (platform admin)" : "") << "\n"
             << "Add them to a team with: kaas team add-member TEAM " << Str(r.body, "username")
             << " --role member\n";
  return 0;
}

namespace {

int SetUserDisabled(Env& env, bool disabled) {
  const std::string& name = env.args.positional[0];
  ApiResult r = env.Api().Patch("/api/v1/users/" + UrlEncode(name), {{"disabled", disabled}});
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  if (disabled) {
    env.io.out << "Disabled user " << name
               << ": their sessions and API tokens no longer work, and they cannot log in.\n";
  } else {
    env.io.out << "Enabled user " << name << ": they can log in again (old tokens stay revoked).\n";
  }
  return 0;
}

}  // namespace

int CmdUserDisable(Env& env) { return SetUserDisabled(env, true); }
int CmdUserEnable(Env& env) { return SetUserDisabled(env, false); }

// With --password-stdin: one line for a reset by an admin (kaas passwd NAME), else two lines,
// the current password and the new one.
int CmdPasswd(Env& env) {
  std::string me = env.config.username;
  std::string name = env.args.positional.empty() ? me : env.args.positional[0];
  if (name.empty()) return UsageError(env, "not logged in: run 'kaas login' first");
  bool self = name == me;
  Json body;
  if (env.args.Has("password-stdin")) {
    std::string line;
    if (self) {
      std::getline(env.io.in, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      body["old_password"] = line;
    }
    std::getline(env.io.in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    body["new_password"] = line;
  } else {
    if (self) {
      auto old = ReadPassword(env, name + " (current)", false);
      if (!old.ok()) return UsageError(env, old.status().message());
      body["old_password"] = *old;
    }
    auto fresh = ReadPassword(env, name + " (new)", true);
    if (!fresh.ok()) return UsageError(env, fresh.status().message());
    body["new_password"] = *fresh;
  }
  if (body["new_password"].get<std::string>().empty()) {
    return UsageError(env, "the new password is empty");
  }
  ApiResult r = env.Api().Put("/api/v1/users/" + UrlEncode(name) + "/password", body);
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, {{"username", name}, {"password_changed", true}});
    return 0;
  }
  env.io.out << "Changed the password of " << name
             << (self ? "; your other sessions were logged out.\n"
                      : "; their sessions were logged out.\n");
  return 0;
}

// ---------- team members ----------

int CmdTeamMembers(Env& env) {
  ApiResult r = env.Api().Get(MembersPath(env.args.positional[0]));
  return PrintList(env, r, "Team " + Str(r.body, "team") + " has no members.", {"USERNAME", "ROLE"},
                   [](const Json& m) {
                     return std::vector<std::string>{Str(m, "username"), Str(m, "role")};
                   });
}

int CmdTeamAddMember(Env& env) {
  if (!env.args.Has("role")) return UsageError(env, "--role is required (admin, member or viewer)");
  const std::string& team = env.args.positional[0];
  const std::string& user = env.args.positional[1];
  ApiResult r =
      env.Api().Put(MembersPath(team) + "/" + UrlEncode(user), {{"role", env.args.Get("role")}});
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << Str(r.body, "username") << " now has role " << Str(r.body, "role") << " in team "
             << Str(r.body, "team") << "\n";
  return 0;
}

int CmdTeamRemoveMember(Env& env) {
  const std::string& team = env.args.positional[0];
  const std::string& user = env.args.positional[1];
  ApiResult r = env.Api().Delete(MembersPath(team) + "/" + UrlEncode(user));
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, {{"team", team}, {"username", user}, {"removed", true}});
    return 0;
  }
  env.io.out << "Removed " << user << " from team " << team << "\n";
  return 0;
}

// ---------- audit ----------

int CmdAudit(Env& env) {
  std::string query;
  if (env.args.Has("limit")) {
    auto limit = ParseInt(env.args.Get("limit"));
    if (!limit || *limit < 1) return UsageError(env, "--limit must be a positive whole number");
    query += "&limit=" + std::to_string(*limit);
  }
  if (env.args.Has("team")) query += "&team=" + UrlEncode(env.args.Get("team"));
  if (!query.empty()) query[0] = '?';
  return PrintList(env, env.Api().Get("/api/v1/audit" + query), "No audit entries.",
                   {"TIME", "ACTOR", "TEAM", "ACTION", "OBJECT", "FROM", "STATUS"},
                   [](const Json& e) {
                     std::string status = Num(e, "status");
                     if (!Str(e, "result").empty() && Str(e, "result") != "ok")
                       status += " " + Str(e, "result");
                     return std::vector<std::string>{Str(e, "at"),
                                                     OrDash(Str(e, "actor")),
                                                     OrDash(Str(e, "team")),
                                                     Str(e, "action"),
                                                     OrDash(Str(e, "object")),
                                                     OrDash(Str(e, "remote_addr")),
                                                     status};
                   });
}

}  // namespace kaas::cli
