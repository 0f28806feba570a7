// clusters, cluster create|show (cluster delete is a change: changes.cc).

#include <ostream>

#include "commands.h"
#include "kaas/cli/render.h"
#include "kaas/common/labels.h"

namespace kaas::cli {
namespace {

std::string Placement(const Json& node) {
  std::string where = Str(node, "kind") == "physical" ? Str(node, "host") : Str(node, "hypervisor");
  return where.empty() ? "-" : where;
}

}  // namespace

ApiResult ListAllClusters(Env& env, const std::string& team, const std::string& selector) {
  Json items = Json::array();
  std::string cursor;
  do {
    std::string path = "/api/v1/clusters?limit=100";
    if (!team.empty()) path += "&team=" + UrlEncode(team);
    if (!selector.empty()) path += "&selector=" + UrlEncode(selector);
    if (!cursor.empty()) path += "&cursor=" + UrlEncode(cursor);
    ApiResult page = env.Api().Get(path);
    if (!page.ok()) return page;
    for (const auto& c : page.body.value("items", Json::array())) items.push_back(c);
    cursor = Str(page.body, "next_cursor");
  } while (!cursor.empty());
  return {Json{{"items", items}}, std::nullopt};
}

std::string LabelsText(const Json& cluster) {
  std::string out;
  const Json& labels = Field(cluster, "labels");
  if (!labels.is_object()) return out;
  for (const auto& [key, value] : labels.items()) {
    out +=
        (out.empty() ? "" : ",") + key + "=" + (value.is_string() ? value.get<std::string>() : "");
  }
  return out;
}

ApiResult ResolveCluster(Env& env, const std::string& ref) {
  std::string team = env.args.Get("team");
  if (ref.rfind("cl-", 0) == 0) {
    ApiResult r = env.Api().Get("/api/v1/clusters/" + UrlEncode(ref));
    if (r.ok() && (team.empty() || Str(r.body, "team") == team)) return r;
    if (!r.ok() && r.error->code != "not_found") return r;
  }
  ApiResult list = ListAllClusters(env, team);
  if (!list.ok()) return list;
  std::vector<Json> matches;
  for (const auto& c : Field(list.body, "items")) {
    if (Str(c, "name") == ref) matches.push_back(c);
  }
  if (matches.empty()) {
    std::string where = team.empty() ? "" : " in team " + team;
    return {Json(), ApiError{404, "not_found", "cluster " + ref + " not found" + where, {}}};
  }
  if (matches.size() > 1) {
    std::string teams;
    for (const auto& m : matches) teams += (teams.empty() ? "" : ", ") + Str(m, "team");
    return ApiResult::Fail("cluster name " + ref + " is used in teams " + teams +
                           "; say which one with --team");
  }
  return env.Api().Get("/api/v1/clusters/" + UrlEncode(Str(matches[0], "id")));
}

namespace {

void PrintPlan(Env& env, const Json& cluster, const Json& operation) {
  std::ostream& out = env.io.out;
  const Json& m = Field(cluster, "masters");
  const Json& w = Field(cluster, "workers");
  out << "Plan for cluster " << Str(cluster, "name") << " in team " << Str(cluster, "team")
      << " (dry run: nothing was created)\n"
      << "  purpose:    " << Str(cluster, "purpose") << "\n"
      << "  kubernetes: " << Str(cluster, "kubernetes_version") << "\n"
      << "  masters:    " << CountTimesFlavor(m) << " (" << Str(m, "kind") << ")\n"
      << "  workers:    " << CountTimesFlavor(w) << " (" << Str(w, "kind") << ")\n\n"
      << NodeTable(cluster.value("nodes", Json::array()), false) << "\nSteps:\n";
  int i = 0;
  for (const auto& s : operation.value("steps", Json::array())) {
    out << "  " << ++i << ". " << Str(s, "name") << "\n";
  }
}

}  // namespace

std::string NodeTable(const Json& nodes, bool with_state) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "ROLE", "KIND", "PLACEMENT", "VCPU", "MEM"}};
  if (with_state) {
    rows[0].push_back("STATE");
    rows[0].push_back("HEALTH");
  }
  for (const auto& n : nodes) {
    rows.push_back({Str(n, "name"), Str(n, "role"), Str(n, "kind"), Placement(n), Num(n, "vcpus"),
                    Num(n, "memory_gib") + " GiB"});
    if (!with_state) continue;
    rows.back().push_back(Str(n, "state"));
    std::string health = Str(n, "health").empty() ? "-" : Str(n, "health");
    if (!Str(n, "health_reason").empty()) health += " (" + Str(n, "health_reason") + ")";
    rows.back().push_back(health);
  }
  return RenderTable(rows);
}

std::string CountTimesFlavor(const Json& group) {
  if (!group.is_object()) return "";
  std::string what = Str(group, "flavor");
  if (what.empty()) what = Str(group, "kind");
  std::string count = Num(group, "count");
  if (what.empty() || count == "0") return count;
  return count + "×" + what;
}

int CmdClusters(Env& env) {
  std::string selector = env.args.Get("selector");
  ApiResult r = ListAllClusters(env, env.args.Get("team"), selector);
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  if (r.body["items"].empty()) {
    env.io.out << (selector.empty() ? "No clusters.\n" : "No clusters match " + selector + ".\n");
    return 0;
  }
  // CURRENT marks the cluster kubectl talks to, as kubectl config get-contexts does.
  std::set<std::string> current = CurrentClusterIds(env, r.body["items"]);
  std::vector<std::vector<std::string>> rows = {{"CURRENT", "NAME", "TEAM", "PURPOSE", "STATUS",
                                                 "MASTERS", "WORKERS", "VERSION", "ID", "LABELS"}};
  for (const auto& c : r.body["items"]) {
    rows.push_back({current.count(Str(c, "id")) ? "*" : "", Str(c, "name"), Str(c, "team"),
                    Str(c, "purpose"), Str(c, "status"), CountTimesFlavor(Field(c, "masters")),
                    CountTimesFlavor(Field(c, "workers")), Str(c, "kubernetes_version"),
                    Str(c, "id"), LabelsText(c)});
  }
  env.io.out << RenderTable(rows);
  return 0;
}

int CmdClusterCreate(Env& env) {
  const ParsedArgs& a = env.args;
  if (!a.Has("team")) return UsageError(env, "--team is required");
  if (!a.Has("purpose")) return UsageError(env, "--purpose is required");
  Json body = {{"name", a.positional[0]}, {"team", a.Get("team")}, {"purpose", a.Get("purpose")}};
  if (a.Has("version")) body["kubernetes_version"] = a.Get("version");
  Json workers = Json::object();
  if (a.Has("workers")) {
    auto n = ParseInt(a.Get("workers"));
    if (!n) return UsageError(env, "--workers must be a whole number");
    workers["count"] = *n;
  }
  if (a.Has("worker-flavor")) workers["flavor"] = a.Get("worker-flavor");
  if (a.Has("worker-kind")) workers["kind"] = a.Get("worker-kind");
  if (!workers.empty()) body["workers"] = workers;
  if (a.Has("masters")) {
    auto n = ParseInt(a.Get("masters"));
    if (!n) return UsageError(env, "--masters must be a whole number");
    body["masters"] = {{"count", *n}};
  }
  if (a.Has("label")) {
    Json labels = Json::object();
    for (const auto& arg : a.GetAll("label")) {
      auto eq = arg.find('=');
      if (eq == std::string::npos) return UsageError(env, "--label takes KEY=VALUE, not " + arg);
      std::string key = arg.substr(0, eq), value = arg.substr(eq + 1);
      std::string why = LabelKeyError(key);
      if (why.empty()) why = LabelValueError(value);
      if (!why.empty()) return UsageError(env, "--label " + arg + ": " + why);
      labels[key] = value;
    }
    body["labels"] = labels;
  }

  bool dry_run = a.Has("dry-run");
  ApiResult r =
      env.Api().Post(std::string("/api/v1/clusters") + (dry_run ? "?dry_run=true" : ""), body);
  if (!r.ok()) return Fail(env, *r.error);
  const Json& cluster = Field(r.body, "cluster");
  const Json& op = Field(r.body, "operation");
  if (dry_run) {
    if (env.json) {
      PrintJson(env, r.body);
    } else {
      PrintPlan(env, cluster, op);
    }
    return 0;
  }
  if (env.json) {
    if (!a.Has("watch")) PrintJson(env, r.body);
  } else {
    env.io.out << "Creating cluster " << Str(cluster, "name") << " in team " << Str(cluster, "team")
               << "\n"
               << "  cluster:   " << Str(cluster, "id") << "\n"
               << "  operation: " << Str(op, "id") << "\n";
    if (!a.Has("watch")) {
      env.io.out << "Follow it with: kaas operation show " << Str(op, "id") << " --watch\n";
    }
  }
  return a.Has("watch") ? WatchOperation(env, Str(op, "id")) : 0;
}

int CmdClusterShow(Env& env) {
  ApiResult r = ResolveCluster(env, env.args.positional[0]);
  if (!r.ok()) return Fail(env, *r.error);
  const Json& c = r.body;
  if (env.json) {
    PrintJson(env, c);
    return 0;
  }
  ApiResult ops = env.Api().Get("/api/v1/clusters/" + UrlEncode(Str(c, "id")) + "/operations");
  if (!ops.ok()) return Fail(env, *ops.error);

  std::ostream& out = env.io.out;
  std::string status = Str(c, "status");
  if (!Str(c, "status_reason").empty()) status += " (" + Str(c, "status_reason") + ")";
  out << RenderTable({
      {"Cluster:", Str(c, "name") + " (" + Str(c, "id") + ")"},
      {"Team:", Str(c, "team")},
      {"Purpose:", Str(c, "purpose")},
      {"Status:", status},
      {"Kubernetes:", Str(c, "kubernetes_version")},
      {"Masters:",
       CountTimesFlavor(Field(c, "masters")) + " (" + Str(Field(c, "masters"), "kind") + ")"},
      {"Workers:",
       CountTimesFlavor(Field(c, "workers")) + " (" + Str(Field(c, "workers"), "kind") + ")"},
      {"Labels:", LabelsText(c).empty() ? "<none>" : LabelsText(c)},
      {"Auto repair:", c.value("auto_repair", true) ? "on" : "off"},
      {"Created:", Str(c, "created_at") + " by " + Str(c, "created_by")},
  });
  const Json& nodes = c.value("nodes", Json::array());
  out << "\nNodes (" << nodes.size() << "):\n";
  if (!nodes.empty()) out << NodeTable(nodes, true);

  const Json items = ops.body.value("items", Json::array());
  if (items.empty()) return 0;
  const Json& op = items[0];  // newest first
  out << "\nLatest operation: " << Str(op, "id") << " " << Str(op, "type") << " "
      << Str(op, "state") << " " << ProgressBar(op.value("progress", 0)) << "\n";
  if (!Str(op, "error").empty()) out << "  error: " << Str(op, "error") << "\n";
  if (Str(op, "state") == "pending" || Str(op, "state") == "running") {
    out << "  follow it with: kaas operation show " << Str(op, "id") << " --watch\n";
  }
  return 0;
}

// kubectl label's arguments: KEY=VALUE sets, KEY- removes. Changing a label that has another
// value needs --overwrite, as with kubectl. Sent as one merge patch, so other labels stay.
int CmdClusterLabel(Env& env) {
  const auto& args = env.args.positional;
  Json patch = Json::object();
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto eq = arg.find('=');
    if (eq == std::string::npos && !arg.empty() && arg.back() == '-') {
      std::string key = arg.substr(0, arg.size() - 1);
      if (std::string why = LabelKeyError(key); !why.empty()) {
        return UsageError(env, arg + ": " + why);
      }
      patch[key] = nullptr;
      continue;
    }
    if (eq == std::string::npos) {
      return UsageError(env, "'" + arg + "' is neither KEY=VALUE (set) nor KEY- (remove)");
    }
    std::string key = arg.substr(0, eq), value = arg.substr(eq + 1);
    std::string why = LabelKeyError(key);
    if (why.empty()) why = LabelValueError(value);
    if (!why.empty()) return UsageError(env, arg + ": " + why);
    patch[key] = value;
  }
  ApiResult found = ResolveCluster(env, args[0]);
  if (!found.ok()) return Fail(env, *found.error);
  const Json& now = Field(found.body, "labels");
  if (!env.args.Has("overwrite")) {
    for (const auto& [key, value] : patch.items()) {
      if (value.is_null() || !now.is_object() || !now.contains(key)) continue;
      if (now[key] != value) {
        return Fail(env, "label " + key + " of cluster " + Str(found.body, "name") +
                             " already has a value (" + now[key].get<std::string>() +
                             "); add --overwrite to change it");
      }
    }
  }
  ApiResult r = env.Api().Patch("/api/v1/clusters/" + UrlEncode(Str(found.body, "id")),
                                Json{{"labels", patch}});
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  std::string labels = LabelsText(r.body);
  env.io.out << "Cluster " << Str(r.body, "name")
             << " labeled: " << (labels.empty() ? "<none>" : labels) << "\n";
  return 0;
}

}  // namespace kaas::cli
