// versions, flavors, teams, team create.

#include <ostream>

#include "commands.h"
#include "kaas/cli/render.h"

namespace kaas::cli {

int CmdVersions(Env& env) {
  ApiResult r = env.Api().Get("/api/v1/versions");
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"VERSION", "DEFAULT"}};
  for (const auto& v : Field(r.body, "items")) {
    rows.push_back({Str(v, "version"), v.value("default", false) ? "yes" : ""});
  }
  env.io.out << RenderTable(rows);
  return 0;
}

int CmdFlavors(Env& env) {
  ApiResult r = env.Api().Get("/api/v1/flavors");
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  const Json& b = r.body;
  std::string default_worker = Str(b, "default_worker_flavor");
  std::vector<std::vector<std::string>> rows = {{"ROLE", "NAME", "KIND", "VCPU", "MEM"}};
  for (const char* role : {"masters", "workers"}) {
    for (const auto& f : Field(b, role)) {
      std::string name = Str(f, "name");
      if (std::string(role) == "workers" && name == default_worker) name += " (default)";
      rows.push_back({std::string(role) == "masters" ? "master" : "worker", name, Str(f, "kind"),
                      Num(f, "vcpus"), Num(f, "memory_gib") + " GiB"});
    }
  }
  std::ostream& out = env.io.out;
  out << RenderTable(rows) << "\nMaster flavor by cluster size:\n";
  rows = {{"WORKERS", "MASTER FLAVOR", "KIND"}};
  for (const auto& s : Field(b, "sizing")) {
    rows.push_back({Num(s, "min_workers") + "-" + Num(s, "max_workers"), Str(s, "master_flavor"),
                    Str(s, "master_kind")});
  }
  out << RenderTable(rows) << "\nMasters by purpose:";
  std::string sep = " ";
  for (const auto& [purpose, count] : Field(b, "master_counts").items()) {
    out << sep << purpose << " " << count.dump();
    sep = ", ";
  }
  out << "\n";
  return 0;
}

int CmdTeams(Env& env) {
  return PrintList(env, env.Api().Get("/api/v1/teams"), "No teams.", {"NAME", "CREATED"},
                   [](const Json& t) {
                     return std::vector<std::string>{Str(t, "name"), Str(t, "created_at")};
                   });
}

int CmdTeamCreate(Env& env) {
  ApiResult r = env.Api().Post("/api/v1/teams", {{"name", env.args.positional[0]}});
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << "Created team " << Str(r.body, "name") << "\n";
  return 0;
}

}  // namespace kaas::cli
