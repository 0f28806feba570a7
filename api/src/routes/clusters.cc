// The catalogs, clusters and the changes to them (lifecycle::ClusterService for changes,
// lifecycle::ClusterQueries for reads), kubeconfigs and the event stream.

#include <chrono>
#include <limits>
#include <thread>

#include "kaas/common/labels.h"
#include "routes.h"

namespace kaas::api {
namespace {

using auth::Action;

Result<bool> OptionalBool(const Json& body, const std::string& key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) return InvalidArgument(key, key + " must be a boolean");
  return it->get<bool>();
}

// The "labels" object of a body: string values, and with `allow_null` (a merge patch) null for
// "remove this label"; the label rules themselves are common/labels.h's, applied by lifecycle/.
Status ParseLabels(const Json& body, bool allow_null, Labels& set,
                   std::vector<std::string>& remove) {
  auto it = body.find("labels");
  if (it == body.end() || (it->is_null() && !allow_null)) return Status::Ok();
  if (!it->is_object()) return InvalidArgument("labels", "labels must be an object");
  for (const auto& [key, value] : it->items()) {
    if (std::string why = LabelKeyError(key); !why.empty()) {
      return InvalidArgument("labels", "labels: " + why);
    }
    if (value.is_null() && allow_null) {
      remove.push_back(key);
    } else if (value.is_string()) {
      set[key] = value.get<std::string>();
    } else {
      return InvalidArgument("labels." + key,
                             "labels." + key + " must be a string" +
                                 (allow_null ? " (or null to remove the label)" : ""));
    }
  }
  return Status::Ok();
}

Result<lifecycle::CreateClusterRequest> ParseCreate(const std::string& text) {
  KAAS_ASSIGN_OR_RETURN(
      Json body, ParseObject(text, {"name", "team", "purpose", "kubernetes_version", "workers",
                                    "masters", "allow_colocated_masters", "labels"}));
  lifecycle::CreateClusterRequest r;
  std::vector<std::string> no_removals;
  KAAS_RETURN_IF_ERROR(ParseLabels(body, false, r.labels, no_removals));
  KAAS_ASSIGN_OR_RETURN(r.name, GetString(body, "name", true, kMaxNameBytes));
  KAAS_ASSIGN_OR_RETURN(r.team, GetString(body, "team", true, kMaxNameBytes));
  KAAS_ASSIGN_OR_RETURN(r.purpose, GetString(body, "purpose", true, kMaxNameBytes));
  KAAS_ASSIGN_OR_RETURN(r.kubernetes_version,
                        GetString(body, "kubernetes_version", false, kMaxNameBytes));
  KAAS_ASSIGN_OR_RETURN(r.allow_colocated_masters, OptionalBool(body, "allow_colocated_masters"));
  if (auto w = body.find("workers"); w != body.end() && !w->is_null()) {
    if (!w->is_object()) return InvalidArgument("workers", "workers must be an object");
    for (const auto& [key, value] : w->items()) {
      if (key != "count" && key != "kind" && key != "flavor") {
        return InvalidArgument("workers." + key, "unknown field workers." + key);
      }
    }
    KAAS_ASSIGN_OR_RETURN(r.worker_count, GetInt(*w, "count", false, 0, "workers."));
    KAAS_ASSIGN_OR_RETURN(std::string kind,
                          GetString(*w, "kind", false, kMaxNameBytes, "workers."));
    if (!kind.empty()) r.worker_kind = kind;
    KAAS_ASSIGN_OR_RETURN(r.worker_flavor,
                          GetString(*w, "flavor", false, kMaxNameBytes, "workers."));
  }
  if (auto m = body.find("masters"); m != body.end() && !m->is_null()) {
    if (!m->is_object()) return InvalidArgument("masters", "masters must be an object");
    for (const auto& [key, value] : m->items()) {
      if (key != "count") return InvalidArgument("masters." + key, "unknown field masters." + key);
    }
    KAAS_ASSIGN_OR_RETURN(r.master_count, GetInt(*m, "count", false, 0, "masters."));
    // 0 means "by purpose" inside; said explicitly it is just wrong.
    if (r.master_count == 0 && m->contains("count")) {
      return InvalidArgument("masters.count", "masters.count must be 1, 3 or 5");
    }
  }
  return r;
}

// The cluster of the path's {id} for a change, with the audit entry pointing at it.
Result<lifecycle::ClusterRecord> ClusterToChange(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterFor(ctx, ctx.params["id"], Action::kOperate));
  ctx.audit_team_id = c.cluster.team_id;
  ctx.audit_object = c.cluster.id + " (" + c.cluster.name + ")";
  return c;
}

Reply Admitted(const lifecycle::Admitted& a, const std::string& team_name, bool dry_run) {
  return Reply{dry_run ? 200 : 202, AdmittedJson(a, team_name, dry_run)};
}

}  // namespace

Result<Reply> Versions(Context&) {
  Json items = Json::array();
  for (const auto& v : lifecycle::SupportedVersions()) {
    items.push_back({{"version", v.version}, {"default", v.is_default}});
  }
  return Reply{200, {{"items", items}}};
}

Result<Reply> Flavors(Context&) {
  Json masters = Json::array(), workers = Json::array(), sizing = Json::array();
  for (const auto& f : lifecycle::MasterFlavors()) masters.push_back(FlavorJson(f));
  for (const auto& f : lifecycle::WorkerFlavors()) workers.push_back(FlavorJson(f));
  for (const auto& rule : lifecycle::SizingTable()) {
    KAAS_ASSIGN_OR_RETURN(lifecycle::Flavor master, lifecycle::MasterFlavor(rule.master_flavor));
    sizing.push_back(SizingRuleJson(rule, master));
  }
  return Reply{200,
               {{"masters", masters},
                {"workers", workers},
                {"default_worker_flavor", lifecycle::kDefaultWorkerFlavor},
                {"sizing", sizing},
                {"master_counts", {{"personal", 1}, {"dev", 3}, {"prod", 5}}}}};
}

Result<Reply> CreateCluster(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(lifecycle::CreateClusterRequest r, ParseCreate(ctx.body));
  // Validate the request itself before revealing anything about the team.
  KAAS_RETURN_IF_ERROR(lifecycle::Validate(r));
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, r.team, Action::kOperate));
  ctx.audit_team_id = team.id;
  ctx.audit_object = r.name;
  KAAS_ASSIGN_OR_RETURN(auto admitted,
                        ctx.deps.clusters.Create(r, team.id, ctx.principal.username, dry_run));
  ctx.audit_object = admitted.cluster.id + " (" + r.name + ")";
  return Admitted(admitted, team.name, dry_run);
}

Result<Reply> ListClusters(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(int64_t limit, ctx.QueryInt("limit", 50, 1, 500));
  std::vector<std::string> team_ids;
  bool all_teams = false;
  if (std::string team = ctx.Query("team"); !team.empty()) {
    KAAS_ASSIGN_OR_RETURN(store::Team t, TeamFor(ctx, team, Action::kRead));
    team_ids = {t.id};
  } else if (ctx.principal.is_admin) {
    all_teams = true;
  } else {
    team_ids = ctx.principal.TeamIds();
  }
  KAAS_ASSIGN_OR_RETURN(LabelSelector selector, ParseLabelSelector(ctx.Query("selector")));
  KAAS_ASSIGN_OR_RETURN(
      auto page, ctx.deps.queries.List(team_ids, all_teams, ctx.Query("cursor"), limit, selector));
  Json items = Json::array();
  for (const auto& c : page.items) items.push_back(ClusterJson(c.cluster, c.team_name));
  return Reply{200, {{"items", items}, {"next_cursor", page.next_cursor}}};
}

Result<Reply> GetCluster(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterFor(ctx, ctx.params["id"], Action::kRead));
  KAAS_ASSIGN_OR_RETURN(auto detail, ctx.deps.queries.Detail(std::move(c)));
  return Reply{200, ClusterDetailJson(detail)};
}

// A JSON merge patch of the cluster's editable fields: the labels (a null value removes a
// label, others are kept) and auto_repair.
Result<Reply> PatchCluster(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"labels", "auto_repair"}));
  lifecycle::ClusterService::ClusterEdit edit;
  KAAS_RETURN_IF_ERROR(ParseLabels(body, true, edit.set_labels, edit.remove_labels));
  if (body.contains("auto_repair")) {
    if (!body["auto_repair"].is_boolean()) {
      return InvalidArgument("auto_repair", "auto_repair must be true or false");
    }
    edit.auto_repair = body["auto_repair"].get<bool>();
  }
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterToChange(ctx));
  // Labels and auto_repair together or not at all (one transaction).
  KAAS_ASSIGN_OR_RETURN(store::Cluster changed, ctx.deps.clusters.Edit(c.cluster.id, edit));
  return Reply{200, ClusterJson(changed, c.team_name)};
}

// Replaces one node (ClusterService::Repair), as the health monitor does on its own.
Result<Reply> RepairNode(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body.empty() ? "{}" : ctx.body, {}));
  (void)body;
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterToChange(ctx));
  KAAS_ASSIGN_OR_RETURN(auto a, ctx.deps.clusters.Repair(c.cluster.id, ctx.params["name"],
                                                         ctx.principal.username, dry_run));
  return Admitted(a, c.team_name, dry_run);
}

Result<Reply> DeleteCluster(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterToChange(ctx));
  KAAS_ASSIGN_OR_RETURN(auto a,
                        ctx.deps.clusters.Delete(c.cluster.id, ctx.principal.username, dry_run));
  return Admitted(a, c.team_name, dry_run);
}

Result<Reply> ScaleWorkers(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"count"}));
  KAAS_ASSIGN_OR_RETURN(int64_t count, GetInt(body, "count", true, 0));
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterToChange(ctx));
  KAAS_ASSIGN_OR_RETURN(
      auto a, ctx.deps.clusters.ScaleWorkers(c.cluster.id, count, ctx.principal.username, dry_run));
  return Admitted(a, c.team_name, dry_run);
}

Result<Reply> ChangeMasters(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(Json body,
                        ParseObject(ctx.body, {"count", "flavor", "allow_colocated_masters"}));
  KAAS_ASSIGN_OR_RETURN(bool colocate, OptionalBool(body, "allow_colocated_masters"));
  bool has_count = body.contains("count"), has_flavor = body.contains("flavor");
  if (has_count == has_flavor) {
    return InvalidArgument("count", "give either count (1, 3 or 5) or flavor, not both");
  }
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterToChange(ctx));
  const std::string& by = ctx.principal.username;
  if (has_count) {
    KAAS_ASSIGN_OR_RETURN(int64_t count, GetInt(body, "count", true, 0));
    KAAS_ASSIGN_OR_RETURN(
        auto a, ctx.deps.clusters.ScaleMasters(c.cluster.id, count, by, dry_run, colocate));
    return Admitted(a, c.team_name, dry_run);
  }
  KAAS_ASSIGN_OR_RETURN(std::string flavor, GetString(body, "flavor", true, kMaxNameBytes));
  KAAS_ASSIGN_OR_RETURN(auto a, ctx.deps.clusters.ResizeMasters(c.cluster.id, flavor, by, dry_run));
  return Admitted(a, c.team_name, dry_run);
}

Result<Reply> UpgradeCluster(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(bool dry_run, ctx.DryRun());
  KAAS_ASSIGN_OR_RETURN(Json body,
                        ParseObject(ctx.body, {"kubernetes_version", "max_unavailable"}));
  KAAS_ASSIGN_OR_RETURN(std::string version,
                        GetString(body, "kubernetes_version", true, kMaxNameBytes));
  KAAS_ASSIGN_OR_RETURN(int64_t max_unavailable, GetInt(body, "max_unavailable", false, 1));
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterToChange(ctx));
  KAAS_ASSIGN_OR_RETURN(auto a, ctx.deps.clusters.Upgrade(c.cluster.id, version, max_unavailable,
                                                          ctx.principal.username, dry_run));
  return Admitted(a, c.team_name, dry_run);
}

Result<Reply> GetKubeconfig(Context& ctx) {
  // Audited (route table): who took a credential for which cluster.
  ctx.audit_object = ctx.params["id"];
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterFor(ctx, ctx.params["id"], Action::kRead));
  ctx.audit_team_id = c.cluster.team_id;
  // 0 = the configured default; the credential service enforces the maximum.
  KAAS_ASSIGN_OR_RETURN(int64_t ttl,
                        ctx.QueryInt("ttl_hours", 0, 1, std::numeric_limits<int64_t>::max()));
  // The cluster's RBAC follows the caller's role in its team (platform admins administer).
  const std::string role = ctx.principal.RoleIn(c.cluster.team_id);
  const auto access = ctx.principal.is_admin || role == "admin" ? provisioner::ClusterAccess::kAdmin
                      : role == "viewer"                        ? provisioner::ClusterAccess::kView
                                                                : provisioner::ClusterAccess::kEdit;
  KAAS_ASSIGN_OR_RETURN(std::string yaml,
                        ctx.deps.credentials.Kubeconfig(c.cluster.id, ctx.principal.username,
                                                        c.team_name, access, ttl));
  Reply r;
  r.raw = yaml;
  r.content_type = "application/yaml";
  return r;
}

Result<Reply> DeployTargets(Context& ctx) {
  if (!ctx.principal.IsDeployer() || ctx.principal.memberships.empty()) {
    return Status(Code::kPermissionDenied, "deploy targets are listed for deploy tokens only");
  }
  KAAS_ASSIGN_OR_RETURN(int64_t limit, ctx.QueryInt("limit", 100, 1, 500));
  const std::string& team_id = ctx.principal.memberships.front().team_id;
  KAAS_ASSIGN_OR_RETURN(auto page, ctx.deps.queries.List({team_id}, false, ctx.Query("cursor"),
                                                         limit, *ctx.principal.deploy_selector));
  Json items = Json::array();
  for (const auto& c : page.items) {
    auto endpoint = ctx.deps.credentials.Endpoint(c.cluster.id);
    // Not a target yet (no CA before issue_pki) or any more (deleted since the list).
    if (endpoint.status().code() == Code::kFailedPrecondition ||
        endpoint.status().code() == Code::kNotFound) {
      continue;
    }
    KAAS_RETURN_IF_ERROR(endpoint.status());
    items.push_back(DeployTargetJson(c.cluster, *endpoint));
  }
  return Reply{200, {{"items", items}, {"next_cursor", page.next_cursor}}};
}

// Server-sent events of one cluster: every operation, step and status change, in order.
// Reconnects resume after Last-Event-ID (or ?after=); ?follow=false sends what exists and
// ends. When it has sent everything it waits for the cluster's next commit of events (this
// replica's, or through PostgreSQL's LISTEN/NOTIFY another's; ClusterQueries::WaitForEvents) or
// half a second, whichever comes first, and sends a keep-alive comment after a second without
// events: writing is how a closed connection is noticed, so its thread and
// its stream slot are given back within about two seconds. Every kStreamRecheck it asks again
// whether the caller may still watch: the stream ends (after a final comment saying why) once the
// token is revoked or expired, the user is disabled or no longer in the cluster's team, or the
// cluster is deleted.
constexpr auto kStreamRecheck = std::chrono::seconds(5);

Result<Reply> ClusterEvents(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterFor(ctx, ctx.params["id"], Action::kRead));
  std::string after = ctx.last_event_id.empty() ? ctx.Query("after") : ctx.last_event_id;
  bool follow = ctx.Query("follow") != "false";
  Reply r;
  r.content_type = "text/event-stream";
  lifecycle::ClusterQueries* queries = &ctx.deps.queries;
  auth::AuthService* auth = &ctx.deps.auth;
  const std::atomic<bool>* stopping = ctx.stopping;
  // Why the caller may no longer watch ("" while they may).
  auto revoked = [auth, queries, authorization = ctx.authorization, team_id = c.cluster.team_id,
                  cluster_id = c.cluster.id]() -> std::string {
    auto who = auth->Authenticate(authorization);
    if (!who.ok()) return "token no longer valid";
    if (!auth::Authorizer::Check(*who, Action::kRead, team_id).ok()) return "access lost";
    auto cluster = queries->Find(cluster_id);
    if (!cluster.ok()) return "cluster not readable";
    if (cluster->cluster.status == "deleted") return "cluster deleted";
    return "";
  };
  r.stream = [queries, stopping, revoked, cluster_id = c.cluster.id, after,
              follow](const std::function<bool(const std::string&)>& write) mutable {
    constexpr int64_t kBatch = 200;
    auto now = [] { return std::chrono::steady_clock::now(); };
    auto idle = now();
    auto checked = now();
    if (!write("retry: 1000\n\n")) return;
    while (!(stopping && stopping->load())) {
      const uint64_t generation = queries->EventGeneration(cluster_id);
      auto batch = queries->EventsAfter(cluster_id, after, kBatch);
      if (!batch.ok()) return;
      for (const auto& e : *batch) {
        if (!write(EventChunk(e))) return;
        after = e.id;
        idle = now();
      }
      if (!follow && static_cast<int64_t>(batch->size()) < kBatch) return;
      if (static_cast<int64_t>(batch->size()) < kBatch && now() - checked >= kStreamRecheck) {
        checked = now();
        if (std::string why = revoked(); !why.empty()) {
          write(": closed: " + why + "\n\n");
          return;
        }
      }
      if (now() - idle >= std::chrono::seconds(1)) {
        if (!write(": keep-alive\n\n")) return;
        idle = now();
      }
      if (batch->empty()) queries->WaitForEvents(cluster_id, generation, 500);
    }
  };
  return r;
}

}  // namespace kaas::api
