// The route table and its handlers. Handlers parse and validate the request, decide access
// through auth::Authorizer, and call into quota/ and lifecycle/.

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>

#include "http.h"
#include "kaas/common/host_port.h"
#include "kaas/common/ids.h"
#include "kaas/common/names.h"
#include "kaas/lifecycle/catalog.h"
#include "kaas/provisioner/hypervisor_uri.h"
#include "kaas/store/repositories.h"

namespace kaas::api {
namespace {

using auth::Action;
using auth::Authorizer;

// ---------- shared lookups ----------

// The team by name, if the caller may do `action` on it; unknown and foreign teams are both
// kNotFound.
Result<store::Team> TeamFor(Context& ctx, const std::string& name, Action action) {
  std::optional<store::Team> team;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    team = store::teams::FindByName(tx, name);
    return Status::Ok();
  }));
  if (!team) return NotFound("team " + name + " not found");
  Status st = Authorizer::Check(ctx.principal, action, team->id);
  if (st.code() == Code::kNotFound) return NotFound("team " + name + " not found");
  KAAS_RETURN_IF_ERROR(st);
  return *team;
}

struct ClusterView {
  store::Cluster cluster;
  std::string team_name;
};

Result<ClusterView> ClusterFor(Context& ctx, const std::string& id, Action action) {
  std::optional<store::Cluster> c;
  std::optional<store::Team> team;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    c = store::clusters::Find(tx, id);
    if (c) team = store::teams::FindById(tx, c->team_id);
    return Status::Ok();
  }));
  if (!c || !team) return NotFound("cluster " + id + " not found");
  Status st = Authorizer::Check(ctx.principal, action, c->team_id);
  if (st.code() == Code::kNotFound) return NotFound("cluster " + id + " not found");
  KAAS_RETURN_IF_ERROR(st);
  return ClusterView{*c, team->name};
}

Json LimitsJson(const store::QuotaLimits& l) {
  return {{"clusters", l.clusters},
          {"vcpus", l.vcpus},
          {"memory_gib", l.memory_gib},
          {"physical_hosts", l.physical_hosts}};
}

Json AdmittedJson(const lifecycle::Admitted& a, const std::string& team_name) {
  Json cluster = ToJson(a.cluster, team_name);
  Json nodes = Json::array();
  for (const auto& n : a.nodes) nodes.push_back(ToJson(n));
  cluster["nodes"] = nodes;
  return {{"cluster", cluster}, {"operation", ToJson(a.operation)}};
}

// ---------- auth, me, teams ----------

Result<Reply> Login(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"username", "password"}));
  KAAS_ASSIGN_OR_RETURN(std::string username, GetString(body, "username", true));
  ctx.audit_actor = username;
  KAAS_ASSIGN_OR_RETURN(std::string password, GetString(body, "password", true));
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

Result<Reply> Me(Context& ctx) {
  Json teams = Json::array();
  for (const auto& m : ctx.principal.memberships) {
    teams.push_back({{"name", m.team_name}, {"role", m.role}});
  }
  return Reply{200,
               {{"username", ctx.principal.username},
                {"is_admin", ctx.principal.is_admin},
                {"teams", teams}}};
}

// A team name is a DNS label of at most this many characters.
constexpr size_t kTeamNameMaxLength = 40;

Result<Reply> CreateTeam(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"name"}));
  KAAS_ASSIGN_OR_RETURN(std::string name, GetString(body, "name", true));
  KAAS_RETURN_IF_ERROR(CheckDnsLabel("name", name, kTeamNameMaxLength));
  ctx.audit_object = name;
  store::Team team{NewId("tm"), name, ctx.deps.clock.NowMs()};
  Status st = ctx.deps.db.Write([&](store::Tx& tx) {
    store::teams::Insert(tx, team);
    return Status::Ok();
  });
  if (st.code() == Code::kAlreadyExists) return Conflict("team " + name + " already exists");
  KAAS_RETURN_IF_ERROR(st);
  ctx.audit_team_id = team.id;
  return Reply{201, {{"name", team.name}, {"created_at", FormatTime(team.created_at)}}};
}

// ---------- users, members, tokens ----------

Json UserJson(const store::User& u) {
  return {
      {"username", u.username}, {"is_admin", u.is_admin}, {"created_at", FormatTime(u.created_at)}};
}

Result<Reply> CreateUser(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"username", "password", "is_admin"}));
  KAAS_ASSIGN_OR_RETURN(std::string username, GetString(body, "username", true));
  ctx.audit_object = username;
  KAAS_ASSIGN_OR_RETURN(std::string password, GetString(body, "password", true));
  bool is_admin = false;
  if (auto a = body.find("is_admin"); a != body.end() && !a->is_null()) {
    if (!a->is_boolean()) return InvalidArgument("is_admin", "is_admin must be a boolean");
    is_admin = a->get<bool>();
  }
  KAAS_ASSIGN_OR_RETURN(store::User user, ctx.deps.auth.CreateUser(username, password, is_admin));
  return Reply{201, UserJson(user)};
}

Result<Reply> ListUsers(Context& ctx) {
  std::vector<store::User> users;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    users = store::users::List(tx);
    return Status::Ok();
  }));
  Json items = Json::array();
  for (const auto& u : users) items.push_back(UserJson(u));
  return Reply{200, {{"items", items}}};
}

Result<Reply> ListMembers(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kRead));
  std::vector<store::Membership> members;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    members = store::memberships::ListForTeam(tx, team.id);
    return Status::Ok();
  }));
  Json items = Json::array();
  for (const auto& m : members) items.push_back({{"username", m.username}, {"role", m.role}});
  return Reply{200, {{"team", team.name}, {"items", items}}};
}

Result<Reply> PutMember(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kManageTeam));
  ctx.audit_team_id = team.id;
  ctx.audit_object = ctx.params["username"];
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"role"}));
  KAAS_ASSIGN_OR_RETURN(std::string role, GetString(body, "role", true));
  if (role != "admin" && role != "member" && role != "viewer") {
    return InvalidArgument("role", "role must be admin, member or viewer");
  }
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Write([&](store::Tx& tx) {
    auto user = store::users::FindByUsername(tx, ctx.params["username"]);
    if (!user) return NotFound("user " + ctx.params["username"] + " not found");
    store::memberships::Put(tx, team.id, user->id, role);
    return Status::Ok();
  }));
  return Reply{200, {{"team", team.name}, {"username", ctx.params["username"]}, {"role", role}}};
}

Result<Reply> DeleteMember(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kManageTeam));
  ctx.audit_team_id = team.id;
  ctx.audit_object = ctx.params["username"];
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Write([&](store::Tx& tx) {
    auto user = store::users::FindByUsername(tx, ctx.params["username"]);
    if (!user || !store::memberships::Delete(tx, team.id, user->id)) {
      return NotFound("user " + ctx.params["username"] + " is not a member of " + team.name);
    }
    return Status::Ok();
  }));
  return Reply{204, nullptr};
}

Json TokenJson(const store::Token& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"created_at", FormatTime(t.created_at)},
          {"expires_at", FormatTime(t.expires_at)}};
}

Result<Reply> CreateToken(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"name", "ttl_hours"}));
  KAAS_ASSIGN_OR_RETURN(std::string name, GetString(body, "name", true));
  KAAS_ASSIGN_OR_RETURN(int64_t ttl, GetInt(body, "ttl_hours", false, 24 * 30));
  KAAS_ASSIGN_OR_RETURN(auto issued, ctx.deps.auth.CreateToken(ctx.principal, name, ttl));
  ctx.audit_object = issued.record.id;
  Json out = TokenJson(issued.record);
  out["token"] = issued.token;
  return Reply{201, out};
}

Result<Reply> ListTokens(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto tokens, ctx.deps.auth.ListTokens(ctx.principal));
  Json items = Json::array();
  for (const auto& t : tokens) items.push_back(TokenJson(t));
  return Reply{200, {{"items", items}}};
}

Result<Reply> DeleteToken(Context& ctx) {
  ctx.audit_object = ctx.params["id"];
  KAAS_RETURN_IF_ERROR(ctx.deps.auth.RevokeToken(ctx.principal, ctx.params["id"]));
  return Reply{204, nullptr};
}

// ---------- audit ----------

Result<Reply> ListAudit(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(int64_t limit, ctx.QueryInt("limit", 100, 1, 1000));
  std::vector<std::string> team_ids;
  bool all = false;
  if (std::string team = ctx.Query("team"); !team.empty()) {
    KAAS_ASSIGN_OR_RETURN(store::Team t, TeamFor(ctx, team, Action::kManageTeam));
    team_ids.push_back(t.id);
  } else if (ctx.principal.is_admin) {
    all = true;
  } else {
    for (const auto& m : ctx.principal.memberships) {
      if (m.role == "admin") team_ids.push_back(m.team_id);
    }
    if (team_ids.empty()) {
      return Status(Code::kPermissionDenied, "the audit log is for team and platform admins");
    }
  }
  std::vector<store::AuditEntry> entries;
  std::map<std::string, std::string> team_names;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    entries = store::audit::List(tx, team_ids, all, limit);
    for (const auto& t : store::teams::List(tx)) team_names[t.id] = t.name;
    return Status::Ok();
  }));
  Json items = Json::array();
  for (const auto& e : entries) {
    items.push_back({{"at", FormatTime(e.at)},
                     {"actor", e.actor},
                     {"team", team_names.count(e.team_id) ? team_names[e.team_id] : ""},
                     {"action", e.action},
                     {"object", e.object},
                     {"remote_addr", e.remote_addr},
                     {"status", e.status},
                     {"result", e.result}});
  }
  return Reply{200, {{"items", items}}};
}

Result<Reply> ListTeams(Context& ctx) {
  std::vector<store::Team> teams;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    teams = ctx.principal.is_admin ? store::teams::List(tx)
                                   : store::teams::ListForUser(tx, ctx.principal.user_id);
    return Status::Ok();
  }));
  Json items = Json::array();
  for (const auto& t : teams) {
    items.push_back({{"name", t.name}, {"created_at", FormatTime(t.created_at)}});
  }
  return Reply{200, {{"items", items}}};
}

// ---------- quota ----------

Result<Reply> GetQuota(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kRead));
  store::QuotaLimits limits;
  store::QuotaUsage usage;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    limits = ctx.deps.quota.LimitsOf(tx, team.id);
    usage = ctx.deps.quota.UsageOf(tx, team.id);
    return Status::Ok();
  }));
  return Reply{200,
               {{"team", team.name},
                {"limits", LimitsJson(limits)},
                {"usage",
                 {{"clusters", usage.clusters},
                  {"vcpus", usage.vcpus},
                  {"memory_gib", usage.memory_gib},
                  {"physical_hosts", usage.physical_hosts}}}}};
}

Result<Reply> PutQuota(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kPlatformAdmin));
  ctx.audit_team_id = team.id;
  ctx.audit_object = team.name;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"limits"}));
  auto it = body.find("limits");
  if (it == body.end() || !it->is_object()) {
    return InvalidArgument("limits", "limits must be an object");
  }
  for (const auto& [key, value] : it->items()) {
    if (key != "clusters" && key != "vcpus" && key != "memory_gib" && key != "physical_hosts") {
      return InvalidArgument("limits." + key, "unknown field limits." + key);
    }
  }
  store::QuotaLimits limits;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    limits = ctx.deps.quota.LimitsOf(tx, team.id);
    return Status::Ok();
  }));
  // Absent keys keep their current value.
  KAAS_ASSIGN_OR_RETURN(limits.clusters,
                        GetInt(*it, "clusters", false, limits.clusters, "limits."));
  KAAS_ASSIGN_OR_RETURN(limits.vcpus, GetInt(*it, "vcpus", false, limits.vcpus, "limits."));
  KAAS_ASSIGN_OR_RETURN(limits.memory_gib,
                        GetInt(*it, "memory_gib", false, limits.memory_gib, "limits."));
  KAAS_ASSIGN_OR_RETURN(limits.physical_hosts,
                        GetInt(*it, "physical_hosts", false, limits.physical_hosts, "limits."));
  KAAS_RETURN_IF_ERROR(quota::QuotaService::Validate(limits));
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Write([&](store::Tx& tx) {
    store::quotas::Put(tx, team.id, limits, ctx.deps.clock.NowMs());
    return Status::Ok();
  }));
  return GetQuota(ctx);
}

// ---------- catalogs ----------

Result<Reply> Versions(Context&) {
  Json items = Json::array();
  for (const auto& v : lifecycle::SupportedVersions()) {
    items.push_back({{"version", v.version}, {"default", v.is_default}});
  }
  return Reply{200, {{"items", items}}};
}

Result<Reply> Flavors(Context&) {
  auto flavors = [](const std::vector<lifecycle::Flavor>& list) {
    Json out = Json::array();
    for (const auto& f : list) {
      out.push_back(
          {{"name", f.name}, {"kind", f.kind}, {"vcpus", f.vcpus}, {"memory_gib", f.memory_gib}});
    }
    return out;
  };
  Json sizing = Json::array();
  for (const auto& rule : lifecycle::SizingTable()) {
    KAAS_ASSIGN_OR_RETURN(lifecycle::Flavor master, lifecycle::MasterFlavor(rule.master_flavor));
    sizing.push_back({{"min_workers", rule.min_workers},
                      {"max_workers", rule.max_workers},
                      {"master_flavor", master.name},
                      {"master_kind", master.kind}});
  }
  return Reply{200,
               {{"masters", flavors(lifecycle::MasterFlavors())},
                {"workers", flavors(lifecycle::WorkerFlavors())},
                {"default_worker_flavor", lifecycle::kDefaultWorkerFlavor},
                {"sizing", sizing},
                {"master_counts", {{"personal", 1}, {"dev", 3}, {"prod", 5}}}}};
}

// ---------- clusters ----------

Result<Reply> CreateCluster(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(
      Json body, ParseObject(ctx.body, {"name", "team", "purpose", "kubernetes_version", "workers",
                                        "masters", "allow_colocated_masters"}));
  lifecycle::CreateClusterRequest r;
  KAAS_ASSIGN_OR_RETURN(r.name, GetString(body, "name", true));
  KAAS_ASSIGN_OR_RETURN(r.team, GetString(body, "team", true));
  KAAS_ASSIGN_OR_RETURN(r.purpose, GetString(body, "purpose", true));
  KAAS_ASSIGN_OR_RETURN(r.kubernetes_version, GetString(body, "kubernetes_version", false));
  if (auto c = body.find("allow_colocated_masters"); c != body.end() && !c->is_null()) {
    if (!c->is_boolean()) {
      return InvalidArgument("allow_colocated_masters",
                             "allow_colocated_masters must be a boolean");
    }
    r.allow_colocated_masters = c->get<bool>();
  }
  if (auto w = body.find("workers"); w != body.end() && !w->is_null()) {
    if (!w->is_object()) return InvalidArgument("workers", "workers must be an object");
    for (const auto& [key, value] : w->items()) {
      if (key != "count" && key != "kind" && key != "flavor") {
        return InvalidArgument("workers." + key, "unknown field workers." + key);
      }
    }
    KAAS_ASSIGN_OR_RETURN(r.worker_count, GetInt(*w, "count", false, 0, "workers."));
    KAAS_ASSIGN_OR_RETURN(std::string kind, GetString(*w, "kind", false, "workers."));
    if (!kind.empty()) r.worker_kind = kind;
    KAAS_ASSIGN_OR_RETURN(r.worker_flavor, GetString(*w, "flavor", false, "workers."));
  }
  if (auto m = body.find("masters"); m != body.end() && !m->is_null()) {
    if (!m->is_object()) return InvalidArgument("masters", "masters must be an object");
    for (const auto& [key, value] : m->items()) {
      if (key != "count") return InvalidArgument("masters." + key, "unknown field masters." + key);
    }
    KAAS_ASSIGN_OR_RETURN(r.master_count, GetInt(*m, "count", false, 0, "masters."));
    if (r.master_count == 0 && m->contains("count")) {
      return InvalidArgument("masters.count", "masters.count must be 1, 3 or 5");
    }
  }
  // Validate the request itself before revealing anything about the team.
  KAAS_RETURN_IF_ERROR(lifecycle::Validate(r));
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, r.team, Action::kOperate));
  ctx.audit_team_id = team.id;
  ctx.audit_object = r.name;
  KAAS_ASSIGN_OR_RETURN(auto admitted,
                        ctx.deps.clusters.Create(r, team.id, ctx.principal.username, dry_run));
  ctx.audit_object = admitted.cluster.id + " (" + r.name + ")";
  Json out = AdmittedJson(admitted, team.name);
  if (dry_run) {
    out["dry_run"] = true;
    return Reply{200, out};
  }
  return Reply{202, out};
}

Result<Reply> ListClusters(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(int64_t limit, ctx.QueryInt("limit", 50, 1, 500));
  store::ClusterFilter filter;
  filter.after_id = ctx.Query("cursor");
  filter.limit = limit + 1;
  if (std::string team = ctx.Query("team"); !team.empty()) {
    KAAS_ASSIGN_OR_RETURN(store::Team t, TeamFor(ctx, team, Action::kRead));
    filter.team_ids = {t.id};
  } else if (ctx.principal.is_admin) {
    filter.all_teams = true;
  } else {
    for (const auto& m : ctx.principal.memberships) filter.team_ids.push_back(m.team_id);
  }
  std::vector<store::Cluster> clusters;
  std::map<std::string, std::string> team_names;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    clusters = store::clusters::List(tx, filter);
    for (const auto& t : store::teams::List(tx)) team_names[t.id] = t.name;
    return Status::Ok();
  }));
  Json items = Json::array();
  std::string next;
  if (static_cast<int64_t>(clusters.size()) > limit) {
    clusters.resize(static_cast<size_t>(limit));
    next = clusters.back().id;
  }
  for (const auto& c : clusters) items.push_back(ToJson(c, team_names[c.team_id]));
  return Reply{200, {{"items", items}, {"next_cursor", next}}};
}

Result<Reply> GetCluster(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(ClusterView v, ClusterFor(ctx, ctx.params["id"], Action::kRead));
  std::vector<store::Node> nodes;
  std::optional<store::Operation> active;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    nodes = store::nodes::ListLive(tx, v.cluster.id);
    active = store::operations::FindActiveForCluster(tx, v.cluster.id);
    return Status::Ok();
  }));
  Json out = ToJson(v.cluster, v.team_name);
  Json list = Json::array();
  for (const auto& n : nodes) list.push_back(ToJson(n));
  out["nodes"] = list;
  out["active_operation"] = active ? Json(active->id) : Json(nullptr);
  return Reply{200, out};
}

Result<Reply> DeleteCluster(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(ClusterView v, ClusterFor(ctx, ctx.params["id"], Action::kOperate));
  ctx.audit_team_id = v.cluster.team_id;
  ctx.audit_object = v.cluster.id + " (" + v.cluster.name + ")";
  KAAS_ASSIGN_OR_RETURN(auto admitted,
                        ctx.deps.clusters.Delete(v.cluster.id, ctx.principal.username, dry_run));
  Json out = AdmittedJson(admitted, v.team_name);
  if (dry_run) {
    out["dry_run"] = true;
    return Reply{200, out};
  }
  return Reply{202, out};
}

Result<Reply> GetKubeconfig(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(ClusterView v, ClusterFor(ctx, ctx.params["id"], Action::kRead));
  // 0 = the configured default; the credential service enforces the maximum.
  KAAS_ASSIGN_OR_RETURN(int64_t ttl,
                        ctx.QueryInt("ttl_hours", 0, 1, std::numeric_limits<int64_t>::max()));
  KAAS_ASSIGN_OR_RETURN(
      std::string yaml,
      ctx.deps.credentials.Kubeconfig(v.cluster.id, ctx.principal.username, v.team_name, ttl));
  Reply r;
  r.raw = yaml;
  r.content_type = "application/yaml";
  return r;
}

// ---------- changes to running clusters ----------

Json OperationReply(const lifecycle::Admitted& a, const std::string& team_name, bool dry_run) {
  Json out = AdmittedJson(a, team_name);
  if (dry_run) out["dry_run"] = true;
  return out;
}

Result<Reply> ScaleWorkers(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"count"}));
  KAAS_ASSIGN_OR_RETURN(int64_t count, GetInt(body, "count", true, 0));
  KAAS_ASSIGN_OR_RETURN(ClusterView v, ClusterFor(ctx, ctx.params["id"], Action::kOperate));
  ctx.audit_team_id = v.cluster.team_id;
  ctx.audit_object = v.cluster.id + " (" + v.cluster.name + ")";
  KAAS_ASSIGN_OR_RETURN(
      auto a, ctx.deps.clusters.ScaleWorkers(v.cluster.id, count, ctx.principal.username, dry_run));
  return Reply{dry_run ? 200 : 202, OperationReply(a, v.team_name, dry_run)};
}

Result<Reply> ChangeMasters(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(Json body,
                        ParseObject(ctx.body, {"count", "flavor", "allow_colocated_masters"}));
  bool colocate = false;
  if (auto c = body.find("allow_colocated_masters"); c != body.end() && !c->is_null()) {
    if (!c->is_boolean()) {
      return InvalidArgument("allow_colocated_masters",
                             "allow_colocated_masters must be a boolean");
    }
    colocate = c->get<bool>();
  }
  bool has_count = body.contains("count"), has_flavor = body.contains("flavor");
  if (has_count == has_flavor) {
    return InvalidArgument("count", "give either count (1, 3 or 5) or flavor, not both");
  }
  KAAS_ASSIGN_OR_RETURN(ClusterView v, ClusterFor(ctx, ctx.params["id"], Action::kOperate));
  ctx.audit_team_id = v.cluster.team_id;
  ctx.audit_object = v.cluster.id + " (" + v.cluster.name + ")";
  Result<lifecycle::Admitted> a = Status(Code::kInternal, "unreachable");
  if (has_count) {
    KAAS_ASSIGN_OR_RETURN(int64_t count, GetInt(body, "count", true, 0));
    a = ctx.deps.clusters.ScaleMasters(v.cluster.id, count, ctx.principal.username, dry_run,
                                       colocate);
  } else {
    KAAS_ASSIGN_OR_RETURN(std::string flavor, GetString(body, "flavor", true));
    a = ctx.deps.clusters.ResizeMasters(v.cluster.id, flavor, ctx.principal.username, dry_run);
  }
  if (!a.ok()) return a.status();
  return Reply{dry_run ? 200 : 202, OperationReply(*a, v.team_name, dry_run)};
}

Result<Reply> UpgradeCluster(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(Json body,
                        ParseObject(ctx.body, {"kubernetes_version", "max_unavailable"}));
  KAAS_ASSIGN_OR_RETURN(std::string version, GetString(body, "kubernetes_version", true));
  KAAS_ASSIGN_OR_RETURN(int64_t max_unavailable, GetInt(body, "max_unavailable", false, 1));
  KAAS_ASSIGN_OR_RETURN(ClusterView v, ClusterFor(ctx, ctx.params["id"], Action::kOperate));
  ctx.audit_team_id = v.cluster.team_id;
  ctx.audit_object = v.cluster.id + " (" + v.cluster.name + ")";
  KAAS_ASSIGN_OR_RETURN(auto a, ctx.deps.clusters.Upgrade(v.cluster.id, version, max_unavailable,
                                                          ctx.principal.username, dry_run));
  return Reply{dry_run ? 200 : 202, OperationReply(a, v.team_name, dry_run)};
}

// The operation, if the caller may act on (or see) its cluster; otherwise kNotFound.
Result<store::Operation> OperationFor(Context& ctx, Action action) {
  std::optional<store::Operation> op;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    op = store::operations::Find(tx, ctx.params["id"]);
    return Status::Ok();
  }));
  if (!op) return NotFound("operation " + ctx.params["id"] + " not found");
  auto cluster = ClusterFor(ctx, op->cluster_id, action);
  if (!cluster.ok()) {
    if (cluster.status().code() == Code::kNotFound) {
      return NotFound("operation " + ctx.params["id"] + " not found");
    }
    return cluster.status();
  }
  ctx.audit_team_id = cluster->cluster.team_id;
  ctx.audit_object = op->id;
  return *op;
}

Result<Reply> CancelOperation(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Operation op, OperationFor(ctx, Action::kOperate));
  KAAS_ASSIGN_OR_RETURN(store::Operation cancelled, ctx.deps.clusters.Cancel(op.id));
  return Reply{202, {{"operation", ToJson(cancelled)}}};
}

Result<Reply> RetryOperation(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Operation op, OperationFor(ctx, Action::kOperate));
  KAAS_ASSIGN_OR_RETURN(store::Operation retried, ctx.deps.clusters.Retry(op.id));
  return Reply{202, {{"operation", ToJson(retried)}}};
}

// Server-sent events of one cluster: every operation, step and status change, in order.
// Reconnects resume after Last-Event-ID (or ?after=); ?follow=false sends what exists and
// ends.
Result<Reply> ClusterEvents(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(ClusterView v, ClusterFor(ctx, ctx.params["id"], Action::kRead));
  std::string after = ctx.last_event_id.empty() ? ctx.Query("after") : ctx.last_event_id;
  bool follow = ctx.Query("follow") != "false";
  Reply r;
  r.content_type = "text/event-stream";
  store::Database* db = &ctx.deps.db;
  const std::atomic<bool>* stopping = ctx.stopping;
  std::string cluster_id = v.cluster.id;
  r.stream = [db, stopping, cluster_id, after,
              follow](const std::function<bool(const std::string&)>& write) mutable {
    auto idle = std::chrono::steady_clock::now();
    if (!write("retry: 1000\n\n")) return;
    while (!(stopping && stopping->load())) {
      std::vector<store::Event> batch;
      Status st = db->Read([&](store::Tx& tx) {
        batch = store::events::ListForCluster(tx, cluster_id, after, 200);
        return Status::Ok();
      });
      if (!st.ok()) return;
      for (const auto& e : batch) {
        std::string chunk = "id: " + e.id + "\nevent: " + e.kind + "\ndata: " + e.data + "\n\n";
        if (!write(chunk)) return;
        after = e.id;
        idle = std::chrono::steady_clock::now();
      }
      if (!follow && batch.size() < 200) return;
      if (std::chrono::steady_clock::now() - idle > std::chrono::seconds(10)) {
        if (!write(": keep-alive\n\n")) return;
        idle = std::chrono::steady_clock::now();
      }
      if (batch.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  };
  return r;
}

// ---------- fault injection (tests and demos; 404 unless kaasd runs with it) ----------

Result<Reply> GetFaults(Context& ctx) {
  if (!ctx.deps.faults) return NotFound("fault injection is not enabled");
  Json items = Json::array();
  for (const auto& f : ctx.deps.faults->Rules()) {
    items.push_back({{"on", f.on},
                     {"match", f.match},
                     {"action", f.action},
                     {"code", f.code},
                     {"nth", f.nth},
                     {"times", f.times},
                     {"delay_ms", f.delay_ms},
                     {"seen", f.seen},
                     {"fired", f.fired}});
  }
  return Reply{200, {{"rules", items}}};
}

Result<Reply> PutFaults(Context& ctx) {
  if (!ctx.deps.faults) return NotFound("fault injection is not enabled");
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"rules"}));
  auto it = body.find("rules");
  if (it == body.end() || !it->is_array())
    return InvalidArgument("rules", "rules must be an array");
  std::vector<lifecycle::FaultRule> rules;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& r = (*it)[i];
    std::string prefix = "rules[" + std::to_string(i) + "].";
    if (!r.is_object()) return InvalidArgument("rules", "every rule must be an object");
    lifecycle::FaultRule f;
    KAAS_ASSIGN_OR_RETURN(f.on, GetString(r, "on", false, prefix));
    if (f.on.empty()) f.on = "step";
    KAAS_ASSIGN_OR_RETURN(f.match, GetString(r, "match", false, prefix));
    KAAS_ASSIGN_OR_RETURN(f.action, GetString(r, "action", false, prefix));
    if (f.action.empty()) f.action = "fail";
    KAAS_ASSIGN_OR_RETURN(f.code, GetString(r, "code", false, prefix));
    if (f.code.empty()) f.code = "unavailable";
    KAAS_ASSIGN_OR_RETURN(f.nth, GetInt(r, "nth", false, 1, prefix));
    KAAS_ASSIGN_OR_RETURN(f.times, GetInt(r, "times", false, 1, prefix));
    KAAS_ASSIGN_OR_RETURN(f.delay_ms, GetInt(r, "delay_ms", false, 0, prefix));
    if (f.code != "unavailable" && f.code != "internal") {
      return InvalidArgument(prefix + "code", "code must be unavailable or internal");
    }
    if (f.on != "step" && f.on != "hypervisor") {
      return InvalidArgument(prefix + "on", "on must be step or hypervisor");
    }
    if (f.action != "fail" && f.action != "delay" && f.action != "crash" &&
        f.action != "crash_after_act") {
      return InvalidArgument(prefix + "action",
                             "action must be fail, delay, crash or crash_after_act");
    }
    rules.push_back(f);
  }
  ctx.deps.faults->Set(rules);
  return GetFaults(ctx);
}

// ---------- operations ----------

Result<Reply> ListClusterOperations(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(ClusterView v, ClusterFor(ctx, ctx.params["id"], Action::kRead));
  std::vector<store::Operation> ops;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    ops = store::operations::ListForCluster(tx, v.cluster.id, 100);
    return Status::Ok();
  }));
  Json items = Json::array();
  for (const auto& op : ops) items.push_back(ToJson(op));
  return Reply{200, {{"items", items}}};
}

Result<Reply> GetOperation(Context& ctx) {
  std::optional<store::Operation> op;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    op = store::operations::Find(tx, ctx.params["id"]);
    return Status::Ok();
  }));
  if (!op) return NotFound("operation " + ctx.params["id"] + " not found");
  auto cluster = ClusterFor(ctx, op->cluster_id, Action::kRead);
  if (!cluster.ok()) {
    if (cluster.status().code() == Code::kNotFound) {
      return NotFound("operation " + ctx.params["id"] + " not found");
    }
    return cluster.status();
  }
  return Reply{200, ToJson(*op)};
}

// ---------- inventory (read-only here; registration comes with the inventory API) ----------

Result<Reply> ListHypervisors(Context& ctx) {
  std::vector<store::Hypervisor> hvs;
  std::map<std::string, store::HypervisorUsage> usage;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    hvs = store::hypervisors::List(tx);
    usage = store::hypervisors::Usage(tx);
    return Status::Ok();
  }));
  Json items = Json::array();
  for (const auto& h : hvs) {
    const auto& u = usage[h.name];
    items.push_back(
        {{"name", h.name},
         {"uri", h.uri},
         {"state", h.state},
         {"vcpus", h.vcpus},
         {"memory_gib", h.memory_gib},
         {"used", {{"vcpus", u.vcpus}, {"memory_gib", u.memory_gib}, {"nodes", u.domains}}}});
  }
  return Reply{200, {{"items", items}}};
}

Result<int64_t> PositiveInt(const Json& body, const std::string& key) {
  KAAS_ASSIGN_OR_RETURN(int64_t v, GetInt(body, key, true, 0));
  if (v <= 0) return InvalidArgument(key, key + " must be > 0");
  return v;
}

Result<Reply> CreateHypervisor(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"name", "uri", "vcpus", "memory_gib"}));
  store::Hypervisor hv;
  KAAS_ASSIGN_OR_RETURN(hv.name, GetString(body, "name", true));
  ctx.audit_object = hv.name;
  KAAS_RETURN_IF_ERROR(CheckDnsLabel("name", hv.name));
  KAAS_ASSIGN_OR_RETURN(hv.uri, GetString(body, "uri", true));
  KAAS_RETURN_IF_ERROR(provisioner::ValidateHypervisorUri(hv.uri));
  KAAS_ASSIGN_OR_RETURN(hv.vcpus, PositiveInt(body, "vcpus"));
  KAAS_ASSIGN_OR_RETURN(hv.memory_gib, PositiveInt(body, "memory_gib"));
  hv.state = "active";
  hv.created_at = ctx.deps.clock.NowMs();
  Status st = ctx.deps.db.Write([&](store::Tx& tx) {
    store::hypervisors::Insert(tx, hv);
    return Status::Ok();
  });
  if (st.code() == Code::kAlreadyExists)
    return Conflict("hypervisor " + hv.name + " already exists");
  KAAS_RETURN_IF_ERROR(st);
  return Reply{201,
               {{"name", hv.name},
                {"uri", hv.uri},
                {"state", hv.state},
                {"vcpus", hv.vcpus},
                {"memory_gib", hv.memory_gib}}};
}

Result<Reply> UpdateHypervisor(Context& ctx) {
  std::string name = ctx.params["name"];
  ctx.audit_object = name;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"state"}));
  KAAS_ASSIGN_OR_RETURN(std::string state, GetString(body, "state", true));
  if (state != "active" && state != "draining") {
    return InvalidArgument("state", "state must be active or draining");
  }
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Write([&](store::Tx& tx) {
    if (!store::hypervisors::Find(tx, name)) return NotFound("hypervisor " + name + " not found");
    store::hypervisors::SetState(tx, name, state);
    return Status::Ok();
  }));
  return Reply{200, {{"name", name}, {"state", state}}};
}

Result<Reply> DeleteHypervisor(Context& ctx) {
  std::string name = ctx.params["name"];
  ctx.audit_object = name;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Write([&](store::Tx& tx) {
    if (!store::hypervisors::Find(tx, name)) return NotFound("hypervisor " + name + " not found");
    size_t nodes = store::nodes::ListLiveOnHypervisor(tx, name).size();
    if (nodes > 0) {
      return Conflict("hypervisor " + name + " still carries " + std::to_string(nodes) +
                      " node(s); drain it and move or delete their clusters first");
    }
    store::hypervisors::Delete(tx, name);
    return Status::Ok();
  }));
  return Reply{204, nullptr};
}

Result<Reply> CreateHost(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(
      Json body, ParseObject(ctx.body, {"name", "address", "vcpus", "memory_gib", "labels"}));
  store::Host h;
  KAAS_ASSIGN_OR_RETURN(h.name, GetString(body, "name", true));
  ctx.audit_object = h.name;
  KAAS_RETURN_IF_ERROR(CheckDnsLabel("name", h.name));
  KAAS_ASSIGN_OR_RETURN(h.address, GetString(body, "address", true));
  // kaas reaches the host over SSH there: "host" (port 22) or "host:port".
  KAAS_RETURN_IF_ERROR(ParseHostPort(h.address, 22).status());
  KAAS_ASSIGN_OR_RETURN(h.vcpus, PositiveInt(body, "vcpus"));
  KAAS_ASSIGN_OR_RETURN(h.memory_gib, PositiveInt(body, "memory_gib"));
  Json labels = Json::object();
  if (auto l = body.find("labels"); l != body.end() && !l->is_null()) {
    if (!l->is_object()) return InvalidArgument("labels", "labels must be an object of strings");
    for (const auto& [k, v] : l->items()) {
      if (!v.is_string()) return InvalidArgument("labels." + k, "label values must be strings");
    }
    labels = *l;
  }
  h.labels = labels.dump();
  h.state = "available";
  h.created_at = ctx.deps.clock.NowMs();
  Status st = ctx.deps.db.Write([&](store::Tx& tx) {
    store::hosts::Insert(tx, h);
    return Status::Ok();
  });
  if (st.code() == Code::kAlreadyExists) return Conflict("host " + h.name + " already exists");
  KAAS_RETURN_IF_ERROR(st);
  return Reply{201,
               {{"name", h.name},
                {"address", h.address},
                {"vcpus", h.vcpus},
                {"memory_gib", h.memory_gib},
                {"labels", labels},
                {"state", h.state}}};
}

Result<Reply> UpdateHost(Context& ctx) {
  std::string name = ctx.params["name"];
  ctx.audit_object = name;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"state"}));
  KAAS_ASSIGN_OR_RETURN(std::string state, GetString(body, "state", true));
  if (state != "available" && state != "maintenance") {
    return InvalidArgument("state", "state must be available or maintenance");
  }
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Write([&](store::Tx& tx) {
    auto host = store::hosts::Find(tx, name);
    if (!host) return NotFound("host " + name + " not found");
    if (host->state == "allocated" || host->state == "wiping") {
      return Conflict("host " + name + " is " + host->state + " (cluster " + host->cluster_id +
                      ")");
    }
    store::hosts::SetState(tx, name, state, "");
    return Status::Ok();
  }));
  return Reply{200, {{"name", name}, {"state", state}}};
}

Result<Reply> DeleteHost(Context& ctx) {
  std::string name = ctx.params["name"];
  ctx.audit_object = name;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Write([&](store::Tx& tx) {
    auto host = store::hosts::Find(tx, name);
    if (!host) return NotFound("host " + name + " not found");
    if (host->state == "allocated" || host->state == "wiping") {
      return Conflict("host " + name + " is " + host->state + " (cluster " + host->cluster_id +
                      "); release it first");
    }
    store::hosts::Delete(tx, name);
    return Status::Ok();
  }));
  return Reply{204, nullptr};
}

Result<Reply> ListOrphans(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto report, ctx.deps.reconciler.Run(false));
  Json domains = Json::array(), hosts = Json::array();
  for (const auto& d : report.domains) {
    domains.push_back({{"hypervisor", d.hypervisor},
                       {"domain", d.domain},
                       {"cluster_id", d.cluster_id},
                       {"node", d.node}});
  }
  for (const auto& h : report.hosts)
    hosts.push_back({{"host", h.host}, {"cluster_id", h.cluster_id}});
  return Reply{200, {{"domains", domains}, {"hosts", hosts}, {"unreachable", report.unreachable}}};
}

// ---------- quota requests ----------

Json QuotaRequestJson(const store::QuotaRequest& r, const std::string& team_name) {
  Json limits = Json::object();
  auto put = [&](const char* k, int64_t v) {
    if (v >= 0) limits[k] = v;
  };
  put("clusters", r.limits.clusters);
  put("vcpus", r.limits.vcpus);
  put("memory_gib", r.limits.memory_gib);
  put("physical_hosts", r.limits.physical_hosts);
  return {{"id", r.id},
          {"team", team_name},
          {"limits", limits},
          {"reason", r.reason},
          {"state", r.state},
          {"requested_by", r.requested_by},
          {"decided_by", r.decided_by},
          {"comment", r.comment},
          {"created_at", FormatTime(r.created_at)},
          {"decided_at", FormatTime(r.decided_at)}};
}

Result<Reply> CreateQuotaRequest(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kOperate));
  ctx.audit_team_id = team.id;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"limits", "reason"}));
  auto it = body.find("limits");
  if (it == body.end() || !it->is_object() || it->empty()) {
    return InvalidArgument("limits", "limits must be an object with at least one limit");
  }
  store::QuotaRequest r;
  r.limits = {-1, -1, -1, -1};
  for (const auto& [key, value] : it->items()) {
    int64_t* slot = key == "clusters"         ? &r.limits.clusters
                    : key == "vcpus"          ? &r.limits.vcpus
                    : key == "memory_gib"     ? &r.limits.memory_gib
                    : key == "physical_hosts" ? &r.limits.physical_hosts
                                              : nullptr;
    if (!slot) return InvalidArgument("limits." + key, "unknown field limits." + key);
    if (!value.is_number_integer() || value.get<int64_t>() < 0) {
      return InvalidArgument("limits." + key, "limits." + key + " must be an integer >= 0");
    }
    *slot = value.get<int64_t>();
  }
  KAAS_ASSIGN_OR_RETURN(r.reason, GetString(body, "reason", true));
  if (r.reason.empty() || r.reason.size() > 2000) {
    return InvalidArgument("reason", "reason must be 1-2000 characters");
  }
  r.id = NewId("qr");
  r.team_id = team.id;
  r.state = "pending";
  r.requested_by = ctx.principal.username;
  r.created_at = ctx.deps.clock.NowMs();
  ctx.audit_object = r.id;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Write([&](store::Tx& tx) {
    store::quota_requests::Insert(tx, r);
    return Status::Ok();
  }));
  return Reply{201, QuotaRequestJson(r, team.name)};
}

Result<Reply> ListQuotaRequests(Context& ctx) {
  std::string state = ctx.Query("state");
  if (!state.empty() && state != "pending" && state != "approved" && state != "rejected") {
    return InvalidArgument("state", "state must be pending, approved or rejected");
  }
  std::vector<std::string> team_ids;
  for (const auto& m : ctx.principal.memberships) team_ids.push_back(m.team_id);
  std::vector<store::QuotaRequest> requests;
  std::map<std::string, std::string> names;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    requests = store::quota_requests::List(tx, state, team_ids, ctx.principal.is_admin);
    for (const auto& t : store::teams::List(tx)) names[t.id] = t.name;
    return Status::Ok();
  }));
  Json items = Json::array();
  for (const auto& r : requests) items.push_back(QuotaRequestJson(r, names[r.team_id]));
  return Reply{200, {{"items", items}}};
}

Result<Reply> DecideQuotaRequest(Context& ctx, bool approve) {
  std::string id = ctx.params["id"];
  ctx.audit_object = id;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body.empty() ? "{}" : ctx.body, {"comment"}));
  KAAS_ASSIGN_OR_RETURN(std::string comment, GetString(body, "comment", false));
  store::QuotaRequest decided;
  std::string team_name;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Write([&](store::Tx& tx) {
    auto r = store::quota_requests::Find(tx, id);
    if (!r) return NotFound("quota request " + id + " not found");
    ctx.audit_team_id = r->team_id;
    if (r->state != "pending") return Conflict("quota request " + id + " is already " + r->state);
    int64_t now = ctx.deps.clock.NowMs();
    std::string state = approve ? "approved" : "rejected";
    store::quota_requests::Decide(tx, id, state, ctx.principal.username, comment, now);
    if (approve) {
      // The new limits take effect in the same transaction as the approval.
      store::QuotaLimits limits = ctx.deps.quota.LimitsOf(tx, r->team_id);
      if (r->limits.clusters >= 0) limits.clusters = r->limits.clusters;
      if (r->limits.vcpus >= 0) limits.vcpus = r->limits.vcpus;
      if (r->limits.memory_gib >= 0) limits.memory_gib = r->limits.memory_gib;
      if (r->limits.physical_hosts >= 0) limits.physical_hosts = r->limits.physical_hosts;
      store::quotas::Put(tx, r->team_id, limits, now);
    }
    decided = *store::quota_requests::Find(tx, id);
    auto team = store::teams::FindById(tx, r->team_id);
    team_name = team ? team->name : "";
    return Status::Ok();
  }));
  return Reply{200, QuotaRequestJson(decided, team_name)};
}

Result<Reply> ApproveQuotaRequest(Context& ctx) { return DecideQuotaRequest(ctx, true); }
Result<Reply> RejectQuotaRequest(Context& ctx) { return DecideQuotaRequest(ctx, false); }

Result<Reply> ListHosts(Context& ctx) {
  std::vector<store::Host> hosts;
  KAAS_RETURN_IF_ERROR(ctx.deps.db.Read([&](store::Tx& tx) {
    hosts = store::hosts::List(tx);
    return Status::Ok();
  }));
  Json items = Json::array();
  for (const auto& h : hosts) {
    Json labels = Json::parse(h.labels, nullptr, false);
    items.push_back({{"name", h.name},
                     {"address", h.address},
                     {"vcpus", h.vcpus},
                     {"memory_gib", h.memory_gib},
                     {"labels", labels.is_discarded() ? Json::object() : labels},
                     {"state", h.state},
                     {"cluster_id", h.cluster_id}});
  }
  return Reply{200, {{"items", items}}};
}

// ---------- health and metrics ----------

Result<Reply> Healthz(Context&) { return Reply{200, {{"status", "ok"}}}; }

Result<Reply> Readyz(Context& ctx) {
  Status db = ctx.deps.db.Ping();
  auto version = ctx.deps.db.SchemaVersion();
  bool migrated = version.ok() && *version == store::Database::LatestSchemaVersion();
  bool engine = ctx.deps.engine.running();
  Json checks = {{"database", db.ok() ? "ok" : db.message()},
                 {"migrations", migrated ? "ok" : "pending"},
                 {"engine", engine ? "ok" : "stopped"}};
  bool ready = db.ok() && migrated && engine;
  for (const auto& [name, check] : ctx.deps.readiness_checks) {
    Status st = check();
    checks[name] = st.ok() ? "ok" : st.message();
    ready = ready && st.ok();
  }
  return Reply{ready ? 200 : 503, {{"status", ready ? "ready" : "not ready"}, {"checks", checks}}};
}

Result<Reply> Metrics(Context& ctx) {
  std::string out = RenderHttpMetrics();
  std::map<std::pair<std::string, std::string>, int64_t> ops;
  Status st = ctx.deps.db.Read([&](store::Tx& tx) {
    ops = store::operations::CountByTypeAndState(tx);
    return Status::Ok();
  });
  out += "# HELP kaas_operations Operations by type and state.\n# TYPE kaas_operations gauge\n";
  for (const auto& [key, n] : ops) {
    out += "kaas_operations{type=\"" + key.first + "\",state=\"" + key.second + "\"} " +
           std::to_string(n) + "\n";
  }
  out +=
      "# HELP kaas_engine_operations_in_flight Operations running in this process.\n"
      "# TYPE kaas_engine_operations_in_flight gauge\n"
      "kaas_engine_operations_in_flight " +
      std::to_string(ctx.deps.engine.InFlight()) + "\n";
  out +=
      "# HELP kaas_up Whether the database answered the metrics scrape.\n# TYPE kaas_up gauge\n"
      "kaas_up " +
      std::string(st.ok() ? "1" : "0") + "\n";
  Reply r;
  r.raw = out;
  r.content_type = "text/plain; version=0.0.4";
  return r;
}

}  // namespace

const std::vector<Route>& RouteTable() {
  static const std::vector<Route> kRoutes = {
      {{"POST", "/api/v1/auth/login", Access::kAnyone}, Login},
      {{"POST", "/api/v1/auth/logout", Access::kUser}, Logout},
      {{"GET", "/api/v1/me", Access::kUser}, Me},
      {{"POST", "/api/v1/users", Access::kPlatformAdmin}, CreateUser},
      {{"GET", "/api/v1/users", Access::kPlatformAdmin}, ListUsers},
      {{"POST", "/api/v1/tokens", Access::kUser}, CreateToken},
      {{"GET", "/api/v1/tokens", Access::kUser}, ListTokens},
      {{"DELETE", "/api/v1/tokens/{id}", Access::kUser}, DeleteToken},
      {{"POST", "/api/v1/teams", Access::kPlatformAdmin}, CreateTeam},
      {{"GET", "/api/v1/teams", Access::kUser}, ListTeams},
      {{"GET", "/api/v1/teams/{team}/quota", Access::kUser}, GetQuota},
      {{"PUT", "/api/v1/teams/{team}/quota", Access::kPlatformAdmin}, PutQuota},
      {{"GET", "/api/v1/teams/{team}/members", Access::kUser}, ListMembers},
      {{"PUT", "/api/v1/teams/{team}/members/{username}", Access::kUser}, PutMember},
      {{"DELETE", "/api/v1/teams/{team}/members/{username}", Access::kUser}, DeleteMember},
      {{"GET", "/api/v1/versions", Access::kUser}, Versions},
      {{"GET", "/api/v1/flavors", Access::kUser}, Flavors},
      {{"POST", "/api/v1/clusters", Access::kUser}, CreateCluster},
      {{"GET", "/api/v1/clusters", Access::kUser}, ListClusters},
      {{"GET", "/api/v1/clusters/{id}", Access::kUser}, GetCluster},
      {{"DELETE", "/api/v1/clusters/{id}", Access::kUser}, DeleteCluster},
      {{"GET", "/api/v1/clusters/{id}/operations", Access::kUser}, ListClusterOperations},
      {{"GET", "/api/v1/clusters/{id}/kubeconfig", Access::kUser}, GetKubeconfig},
      {{"GET", "/api/v1/clusters/{id}/events", Access::kUser}, ClusterEvents},
      {{"POST", "/api/v1/clusters/{id}/workers", Access::kUser}, ScaleWorkers},
      {{"POST", "/api/v1/clusters/{id}/masters", Access::kUser}, ChangeMasters},
      {{"POST", "/api/v1/clusters/{id}/upgrade", Access::kUser}, UpgradeCluster},
      {{"POST", "/api/v1/operations/{id}/cancel", Access::kUser}, CancelOperation},
      {{"POST", "/api/v1/operations/{id}/retry", Access::kUser}, RetryOperation},
      {{"GET", "/api/v1/faults", Access::kPlatformAdmin}, GetFaults},
      {{"PUT", "/api/v1/faults", Access::kPlatformAdmin}, PutFaults},
      {{"GET", "/api/v1/operations/{id}", Access::kUser}, GetOperation},
      {{"GET", "/api/v1/hypervisors", Access::kPlatformAdmin}, ListHypervisors},
      {{"POST", "/api/v1/hypervisors", Access::kPlatformAdmin}, CreateHypervisor},
      {{"PUT", "/api/v1/hypervisors/{name}", Access::kPlatformAdmin}, UpdateHypervisor},
      {{"DELETE", "/api/v1/hypervisors/{name}", Access::kPlatformAdmin}, DeleteHypervisor},
      {{"GET", "/api/v1/hosts", Access::kPlatformAdmin}, ListHosts},
      {{"POST", "/api/v1/hosts", Access::kPlatformAdmin}, CreateHost},
      {{"PUT", "/api/v1/hosts/{name}", Access::kPlatformAdmin}, UpdateHost},
      {{"DELETE", "/api/v1/hosts/{name}", Access::kPlatformAdmin}, DeleteHost},
      {{"GET", "/api/v1/inventory/orphans", Access::kPlatformAdmin}, ListOrphans},
      {{"POST", "/api/v1/teams/{team}/quota-requests", Access::kUser}, CreateQuotaRequest},
      {{"GET", "/api/v1/quota-requests", Access::kUser}, ListQuotaRequests},
      {{"POST", "/api/v1/quota-requests/{id}/approve", Access::kPlatformAdmin},
       ApproveQuotaRequest},
      {{"POST", "/api/v1/quota-requests/{id}/reject", Access::kPlatformAdmin}, RejectQuotaRequest},
      {{"GET", "/api/v1/audit", Access::kUser}, ListAudit},
      {{"GET", "/healthz", Access::kAnyone}, Healthz},
      {{"GET", "/readyz", Access::kAnyone}, Readyz},
      {{"GET", "/metrics", Access::kAnyone}, Metrics},
  };
  return kRoutes;
}

}  // namespace kaas::api
