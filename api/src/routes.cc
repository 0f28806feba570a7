// The route table and its handlers. Handlers parse and validate the request, decide access
// through auth::Authorizer, and call into quota/ and lifecycle/.

#include <algorithm>

#include "http.h"
#include "kaas/common/ids.h"
#include "kaas/lifecycle/catalog.h"
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
  KAAS_ASSIGN_OR_RETURN(std::string password, GetString(body, "password", true));
  KAAS_ASSIGN_OR_RETURN(auto login, ctx.deps.auth.Login(username, password));
  return Reply{200,
               {{"token", login.token},
                {"expires_at", FormatTime(login.expires_at)},
                {"user", {{"username", login.user.username}, {"is_admin", login.user.is_admin}}}}};
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

bool IsTeamName(const std::string& s) {
  if (s.empty() || s.size() > 40 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Result<Reply> CreateTeam(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"name"}));
  KAAS_ASSIGN_OR_RETURN(std::string name, GetString(body, "name", true));
  if (!IsTeamName(name)) {
    return InvalidArgument("name", "name must be a DNS label (lowercase letters, digits, '-')");
  }
  store::Team team{NewId("tm"), name, ctx.deps.clock.NowMs()};
  Status st = ctx.deps.db.Write([&](store::Tx& tx) {
    store::teams::Insert(tx, team);
    return Status::Ok();
  });
  if (st.code() == Code::kAlreadyExists) return Conflict("team " + name + " already exists");
  KAAS_RETURN_IF_ERROR(st);
  return Reply{201, {{"name", team.name}, {"created_at", FormatTime(team.created_at)}}};
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
  Json sizing = Json::array({
      {{"min_workers", 0},
       {"max_workers", 50},
       {"master_flavor", "m.small"},
       {"master_kind", "vm"}},
      {{"min_workers", 51},
       {"max_workers", 100},
       {"master_flavor", "m.medium"},
       {"master_kind", "vm"}},
      {{"min_workers", 101},
       {"max_workers", 500},
       {"master_flavor", "m.large"},
       {"master_kind", "physical"}},
  });
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
  KAAS_ASSIGN_OR_RETURN(auto admitted,
                        ctx.deps.clusters.Create(r, team.id, ctx.principal.username, dry_run));
  Json out = AdmittedJson(admitted, team.name);
  if (dry_run) {
    out["dry_run"] = true;
    return Reply{200, out};
  }
  return Reply{202, out};
}

Result<Reply> ListClusters(Context& ctx) {
  int64_t limit = 50;
  if (std::string l = ctx.Query("limit"); !l.empty()) {
    char* end = nullptr;
    long v = std::strtol(l.c_str(), &end, 10);
    if (*end != '\0' || v < 1 || v > 500) {
      return InvalidArgument("limit", "limit must be an integer between 1 and 500");
    }
    limit = v;
  }
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
  KAAS_ASSIGN_OR_RETURN(auto admitted,
                        ctx.deps.clusters.Delete(v.cluster.id, ctx.principal.username, dry_run));
  Json out = AdmittedJson(admitted, v.team_name);
  if (dry_run) {
    out["dry_run"] = true;
    return Reply{200, out};
  }
  return Reply{202, out};
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
      {{"GET", "/api/v1/me", Access::kUser}, Me},
      {{"POST", "/api/v1/teams", Access::kPlatformAdmin}, CreateTeam},
      {{"GET", "/api/v1/teams", Access::kUser}, ListTeams},
      {{"GET", "/api/v1/teams/{team}/quota", Access::kUser}, GetQuota},
      {{"PUT", "/api/v1/teams/{team}/quota", Access::kPlatformAdmin}, PutQuota},
      {{"GET", "/api/v1/versions", Access::kUser}, Versions},
      {{"GET", "/api/v1/flavors", Access::kUser}, Flavors},
      {{"POST", "/api/v1/clusters", Access::kUser}, CreateCluster},
      {{"GET", "/api/v1/clusters", Access::kUser}, ListClusters},
      {{"GET", "/api/v1/clusters/{id}", Access::kUser}, GetCluster},
      {{"DELETE", "/api/v1/clusters/{id}", Access::kUser}, DeleteCluster},
      {{"GET", "/api/v1/clusters/{id}/operations", Access::kUser}, ListClusterOperations},
      {{"GET", "/api/v1/operations/{id}", Access::kUser}, GetOperation},
      {{"GET", "/api/v1/hypervisors", Access::kPlatformAdmin}, ListHypervisors},
      {{"GET", "/api/v1/hosts", Access::kPlatformAdmin}, ListHosts},
      {{"GET", "/healthz", Access::kAnyone}, Healthz},
      {{"GET", "/readyz", Access::kAnyone}, Readyz},
      {{"GET", "/metrics", Access::kAnyone}, Metrics},
  };
  return kRoutes;
}

}  // namespace kaas::api
