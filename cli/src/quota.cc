// quota [TEAM], quota request|requests|approve|reject.

#include <ostream>

#include "commands.h"
#include "kaas/cli/render.h"

namespace kaas::cli {
namespace {

// The quota resources, in the order they are shown: API field, --flag of quota request.
struct Resource {
  const char* field;
  const char* flag;
};
constexpr Resource kResources[] = {{"clusters", "clusters"},
                                   {"vcpus", "vcpus"},
                                   {"memory_gib", "memory-gib"},
                                   {"physical_hosts", "physical-hosts"}};

int64_t Int64(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string QuotaPath(const std::string& team) {
  return "/api/v1/teams/" + UrlEncode(team) + "/quota";
}

// "vcpus  [#######.....] 40/64" for each resource of a GET .../quota reply.
std::string QuotaBars(const Json& quota) {
  const Json& limits = Field(quota, "limits");
  const Json& usage = Field(quota, "usage");
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : kResources) {
    int64_t used = Int64(usage, r.field), limit = Int64(limits, r.field);
    rows.push_back(
        {"  " + std::string(r.field), UsageBar(used, limit), used > limit ? "over the limit" : ""});
  }
  return RenderTable(rows);
}

// "vcpus=128 clusters=5" for a request's limits.
std::string Limits(const Json& limits) {
  std::string out;
  for (const auto& r : kResources) {
    if (limits.is_object() && limits.contains(r.field)) {
      out += (out.empty() ? "" : " ") + std::string(r.field) + "=" + limits[r.field].dump();
    }
  }
  return out;
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

int Decide(Env& env, const char* verb, const char* done) {
  const std::string& id = env.args.positional[0];
  Json body = Json::object();
  if (env.args.Has("comment")) body["comment"] = env.args.Get("comment");
  ApiResult r = env.Api().Post("/api/v1/quota-requests/" + UrlEncode(id) + "/" + verb, body);
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << done << " quota request " << Str(r.body, "id") << " of team " << Str(r.body, "team")
             << " (" << Limits(Field(r.body, "limits")) << ")\n";
  if (std::string(verb) == "approve") {
    env.io.out << "See the new limits with: kaas quota " << Str(r.body, "team") << "\n";
  }
  return 0;
}

}  // namespace

int CmdQuota(Env& env) {
  std::vector<std::string> teams;
  if (!env.args.positional.empty()) {
    teams.push_back(env.args.positional[0]);
  } else {
    ApiResult me = env.Api().Get("/api/v1/me");
    if (!me.ok()) return Fail(env, *me.error);
    for (const auto& t : me.body.value("teams", Json::array())) teams.push_back(Str(t, "name"));
  }
  Json items = Json::array();
  for (const auto& team : teams) {
    ApiResult r = env.Api().Get(QuotaPath(team));
    if (!r.ok()) return Fail(env, *r.error);
    items.push_back(r.body);
  }
  if (env.json) {
    PrintJson(env, env.args.positional.empty() ? Json{{"items", items}} : items[0]);
    return 0;
  }
  if (items.empty()) {
    env.io.out << "You are in no team; name one: kaas quota TEAM\n";
    return 0;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    env.io.out << (i ? "\n" : "") << "Quota of team " << Str(items[i], "team") << ":\n"
               << QuotaBars(items[i]);
  }
  return 0;
}

int CmdQuotaRequest(Env& env) {
  const ParsedArgs& a = env.args;
  Json limits = Json::object();
  for (const auto& r : kResources) {
    if (!a.Has(r.flag)) continue;
    auto n = ParseInt(a.Get(r.flag));
    if (!n || *n < 0)
      return UsageError(env, std::string("--") + r.flag + " must be a whole number");
    limits[r.field] = *n;
  }
  if (limits.empty()) {
    return UsageError(env,
                      "name at least one new limit: --clusters, --vcpus, --memory-gib or "
                      "--physical-hosts");
  }
  if (a.Get("reason").empty()) return UsageError(env, "--reason is required");
  const std::string& team = a.positional[0];
  ApiResult r = env.Api().Post("/api/v1/teams/" + UrlEncode(team) + "/quota-requests",
                               {{"limits", limits}, {"reason", a.Get("reason")}});
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << "Requested new limits for team " << Str(r.body, "team") << ": "
             << Limits(Field(r.body, "limits")) << "\n"
             << "  request: " << Str(r.body, "id") << " (" << Str(r.body, "state") << ")\n"
             << "A platform admin decides it with: kaas quota approve|reject " << Str(r.body, "id")
             << "\n";
  return 0;
}

int CmdQuotaRequests(Env& env) {
  std::string path = "/api/v1/quota-requests";
  if (env.args.Has("state")) {
    std::string state = env.args.Get("state");
    if (state != "pending" && state != "approved" && state != "rejected") {
      return UsageError(env, "--state must be pending, approved or rejected");
    }
    path += "?state=" + state;
  }
  return PrintList(
      env, env.Api().Get(path), "No quota requests.",
      {"ID", "TEAM", "STATE", "LIMITS", "REQUESTED BY", "CREATED", "DECIDED BY", "REASON"},
      [](const Json& q) {
        std::string reason = Str(q, "reason");
        for (char& c : reason) {
          if (c == '\n' || c == '\t') c = ' ';
        }
        if (DisplayWidth(reason) > 40) reason = Truncate(reason, 39) + "…";
        return std::vector<std::string>{Str(q, "id"),
                                        Str(q, "team"),
                                        Str(q, "state"),
                                        Limits(Field(q, "limits")),
                                        Str(q, "requested_by"),
                                        Str(q, "created_at"),
                                        OrDash(Str(q, "decided_by")),
                                        reason};
      });
}

int CmdQuotaApprove(Env& env) { return Decide(env, "approve", "Approved"); }
int CmdQuotaReject(Env& env) { return Decide(env, "reject", "Rejected"); }

}  // namespace kaas::cli
