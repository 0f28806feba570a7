// cluster scale|resize-masters|upgrade|delete: changes to a cluster, each with --dry-run (the
// plan), --watch, and, for the destructive ones, a plan to confirm unless --yes.

#include <algorithm>
#include <istream>
#include <ostream>
#include <set>

#include "commands.h"
#include "kaas/cli/render.h"

namespace kaas::cli {
namespace {

struct Change {
  std::string method = "POST";
  std::string endpoint;  // "workers", "masters", "upgrade"; "" for the cluster itself (DELETE)
  Json body;
  std::string what;   // "scale workers to 5", for the plan
  std::string doing;  // "Scaling workers to 5", for the reply
};

int NodeNumber(const std::string& name) {
  auto dash = name.rfind('-');
  return dash == std::string::npos ? 0 : std::atoi(name.c_str() + dash + 1);
}

// The node names of a step label: "worker-4", "worker-3, worker-2", or a long batch
// "worker-60 … worker-3 (58 nodes)" expanded against `nodes`.
std::vector<std::string> LabelNames(const std::string& label, const Json& nodes) {
  std::vector<std::string> out;
  const std::string kEllipsis = " … ";
  if (auto dots = label.find(kEllipsis); dots != std::string::npos && label.back() == ')') {
    std::string a = label.substr(0, dots);
    std::string rest = label.substr(dots + kEllipsis.size());
    std::string b = rest.substr(0, rest.find(' '));
    std::string prefix = a.substr(0, a.rfind('-') + 1);
    int lo = std::min(NodeNumber(a), NodeNumber(b)), hi = std::max(NodeNumber(a), NodeNumber(b));
    for (const auto& n : nodes) {
      std::string name = Str(n, "name");
      if (name.rfind(prefix, 0) == 0 && NodeNumber(name) >= lo && NodeNumber(name) <= hi) {
        out.push_back(name);
      }
    }
    return out;
  }
  size_t start = 0;
  while (start <= label.size()) {
    size_t comma = label.find(", ", start);
    std::string part = label.substr(start, comma == std::string::npos ? comma : comma - start);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
  return out;
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// What a dry-run answer means for the cluster as it is now: the nodes added and removed, the
// masters after, the warnings a person should read first, and whether the cluster's name must
// be typed (delete; fewer masters than the purpose's default).
struct PlanSummary {
  std::vector<std::string> steps;
  Json added = Json::array();
  Json removed = Json::array();
  std::vector<std::string> warnings;
  int masters_after = 0;
  bool confirm_name = false;
};

// `current` is the cluster now (with nodes); `default_masters` the purpose's master count;
// `batch` the workers upgraded at a time.
PlanSummary SummarizePlan(const Json& current, const Json& answer, int default_masters,
                          int64_t batch) {
  PlanSummary p;
  const Json& op = Field(answer, "operation");
  std::string type = Str(op, "type");
  const Json now = current.value("nodes", Json::array());
  const Json after = Field(answer, "cluster").value("nodes", Json::array());
  std::set<std::string> had;
  for (const auto& n : now) had.insert(Str(n, "name"));
  for (const auto& n : after) {
    if (Str(n, "state") == "reserved" || !had.count(Str(n, "name"))) p.added.push_back(n);
  }
  std::vector<std::string> gone;
  auto note_gone = [&](const std::string& name) {
    if (std::find(gone.begin(), gone.end(), name) == gone.end()) gone.push_back(name);
  };
  for (const auto& s : op.value("steps", Json::array())) {
    std::string name = Str(s, "name");
    p.steps.push_back(name);
    if (type == "delete") continue;
    if (name.rfind("destroy ", 0) == 0) {
      for (const auto& x : LabelNames(name.substr(8), after)) note_gone(x);
    } else if (name.rfind("remove ", 0) == 0 && !EndsWith(name, " from etcd")) {
      for (const auto& x : LabelNames(name.substr(7), after)) note_gone(x);
    }
  }
  if (type == "delete") {
    for (const auto& n : after) note_gone(Str(n, "name"));
  }
  for (const auto& name : gone) {
    for (const auto& n : after) {
      if (Str(n, "name") == name) p.removed.push_back(n);
    }
  }
  int masters_now = 0, new_masters = 0, gone_masters = 0, gone_workers = 0, workers_now = 0;
  for (const auto& n : now) {
    masters_now += Str(n, "role") == "master";
    workers_now += Str(n, "role") == "worker";
  }
  for (const auto& n : p.added) new_masters += Str(n, "role") == "master";
  for (const auto& n : p.removed) {
    gone_masters += Str(n, "role") == "master";
    gone_workers += Str(n, "role") == "worker";
  }
  p.masters_after = masters_now + new_masters - gone_masters;
  auto tolerance = [](int n) { return std::max(0, (n - 1) / 2); };
  auto plural = [](int n, const std::string& one) {
    return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
  };
  std::string cluster_name = Str(current, "name");

  if (type == "delete") {
    p.confirm_name = true;
    p.warnings.push_back("every node of " + cluster_name + " is destroyed (" +
                         plural(static_cast<int>(p.removed.size()), "node") +
                         ") and its certificates and keys are deleted; this cannot be undone");
    return p;
  }
  if (p.masters_after < masters_now) {
    int before = tolerance(masters_now), then = tolerance(p.masters_after);
    if (then == 0 && before > 0) {
      p.warnings.push_back("the cluster will no longer survive the loss of a master");
    } else if (then < before) {
      p.warnings.push_back("the cluster will survive the loss of only " + plural(then, "master") +
                           " instead of " + std::to_string(before));
    }
    if (p.masters_after < default_masters) {
      p.confirm_name = true;
      p.warnings.push_back(plural(p.masters_after, "master") + " is fewer than a " +
                           Str(current, "purpose") + " cluster has by default (" +
                           std::to_string(default_masters) + ")");
    }
  }
  std::string kind_now = Str(Field(current, "masters"), "kind");
  for (const auto& n : p.added) {
    if (Str(n, "role") != "master" || gone_masters == 0) continue;
    if (Str(n, "kind") == "physical" && kind_now != "physical") {
      p.warnings.push_back("masters move to physical hosts (replaced one at a time)");
    } else if (Str(n, "kind") == "vm" && kind_now == "physical") {
      p.warnings.push_back("masters move from physical hosts back to VMs (replaced one at a time)");
    }
    break;
  }
  for (const auto& s : p.steps) {
    if (s.find("single master: API briefly unavailable") != std::string::npos) {
      p.warnings.push_back("the Kubernetes API is unavailable while the single master is resized");
      break;
    }
  }
  if (gone_workers) {
    p.warnings.push_back(plural(gone_workers, "worker") + " drained and removed; their pods move" +
                         " to the other workers");
    if (gone_workers == workers_now) p.warnings.push_back("no worker will be left");
  }
  if (type == "upgrade") {
    if (workers_now) {
      p.warnings.push_back("workers are drained and upgraded in batches of " +
                           std::to_string(batch));
    }
    p.warnings.push_back("Kubernetes cannot be downgraded afterwards");
  }
  return p;
}

// What must not change between the plan a person read and the one kaas runs: the operation
// type, the step names in order, and every node (role, kind, flavor, size, added or not).
// Ids, times and placement are not compared: kaas picks the machine.
std::string PlanFingerprint(const Json& answer) {
  const Json& op = Field(answer, "operation");
  Json steps = Json::array();
  for (const auto& s : op.value("steps", Json::array())) steps.push_back(Str(s, "name"));
  std::vector<std::string> nodes;
  for (const auto& n : Field(answer, "cluster").value("nodes", Json::array())) {
    nodes.push_back(
        Json::array({Str(n, "name"), Str(n, "role"), Str(n, "kind"), Str(n, "flavor"),
                     Num(n, "vcpus"), Num(n, "memory_gib"), Str(n, "state") == "reserved"})
            .dump());
  }
  std::sort(nodes.begin(), nodes.end());
  return Json{{"type", Str(op, "type")}, {"steps", steps}, {"nodes", nodes}}.dump();
}

// "scale workers to 2 in cluster web", "delete cluster web".
std::string WhatIn(const Change& change, const std::string& cluster) {
  if (change.method == "DELETE") return "delete cluster " + cluster;
  return change.what + " in cluster " + cluster;
}

void PrintChangePlan(std::ostream& out, const Change& change, const Json& reply,
                     const PlanSummary& p) {
  const Json& cluster = Field(reply, "cluster");
  out << "Plan to " << WhatIn(change, Str(cluster, "name")) << " of team " << Str(cluster, "team")
      << " (dry run: nothing was changed)\n";
  if (!p.warnings.empty()) {
    out << "\nWarnings:\n";
    for (const auto& w : p.warnings) out << "  ! " << w << "\n";
  }
  if (!p.added.empty()) out << "\nNew nodes:\n" << NodeTable(p.added, false);
  if (!p.removed.empty()) out << "\nRemoved nodes:\n" << NodeTable(p.removed, false);
  out << "\nSteps:\n";
  int i = 0;
  for (const auto& s : p.steps) out << "  " << ++i << ". " << s << "\n";
}

int64_t Batch(const Change& change) {
  auto it = change.body.find("max_unavailable");
  return it != change.body.end() && it->is_number() ? it->get<int64_t>() : 1;
}

ApiResult Send(Env& env, const Change& change, const Json& cluster, bool dry_run) {
  std::string path = "/api/v1/clusters/" + UrlEncode(Str(cluster, "id"));
  if (!change.endpoint.empty()) path += "/" + change.endpoint;
  if (dry_run) path += "?dry_run=true";
  if (change.method == "DELETE") return env.Api().Delete(path);
  return env.Api().Post(path, change.body);
}

int DefaultMasters(Env& env, const std::string& purpose) {
  ApiResult f = env.Api().Get("/api/v1/flavors");
  if (!f.ok()) return 1;
  const Json& counts = Field(f.body, "master_counts");
  return counts.is_object() && counts.contains(purpose) && counts[purpose].is_number()
             ? counts[purpose].get<int>()
             : 1;
}

// Reads one answer line; false at the end of input.
bool Ask(Env& env, std::ostream& out, const std::string& prompt, std::string* answer) {
  out << prompt << std::flush;
  if (!std::getline(env.io.in, *answer)) {
    out << "\n";
    return false;
  }
  while (!answer->empty() && (answer->back() == '\r' || answer->back() == ' ')) answer->pop_back();
  return true;
}

// Shows the plan of a destructive change and asks before doing it. Returns -1 when the change
// may go ahead (the plan confirmed is in `*confirmed`), else the exit code.
int ConfirmPlan(Env& env, const Change& change, Json current, Json* confirmed) {
  // With -o json the plan and the question go to stderr: stdout stays the API's JSON.
  std::ostream& out = env.json ? env.io.err : env.io.out;
  int default_masters = 0;
  if (change.endpoint == "masters" && change.body.contains("count")) {
    default_masters = DefaultMasters(env, Str(current, "purpose"));
  }
  ApiResult plan = Send(env, change, current, true);
  if (!plan.ok()) return Fail(env, *plan.error);
  for (int round = 0; round < 3; ++round) {
    PlanSummary p = SummarizePlan(current, plan.body, default_masters, Batch(change));
    PrintChangePlan(out, change, plan.body, p);
    if (!env.io.in_is_tty) {
      env.io.err << "error: refusing to " << WhatIn(change, Str(current, "name"))
                 << " without confirmation: stdin is not a terminal, so kaas cannot ask.\n"
                 << "  Read the plan above, then run the command again with --yes to do it.\n";
      return 2;
    }
    std::string answer;
    std::string name = Str(current, "name");
    bool ok =
        p.confirm_name
            ? Ask(env, out, "\nType the cluster's name (" + name + ") to confirm: ", &answer) &&
                  answer == name
            : Ask(env, out, "\nDo it? [y/N] ", &answer) && (answer == "y" || answer == "yes");
    if (!ok) {
      out << "Nothing was changed.\n";
      return 1;
    }
    // The plan read is the plan that runs: ask again and compare before submitting.
    ApiResult again = Send(env, change, current, true);
    if (!again.ok()) {
      env.io.err << "The cluster changed since the plan was shown; nothing was submitted.\n";
      return Fail(env, *again.error);
    }
    if (PlanFingerprint(again.body) == PlanFingerprint(plan.body)) {
      *confirmed = plan.body;
      return -1;
    }
    out << "\nThe cluster changed since the plan was shown; nothing was submitted. The plan "
           "now:\n\n";
    ApiResult fresh = ResolveCluster(env, Str(current, "id"));
    if (!fresh.ok()) return Fail(env, *fresh.error);
    current = fresh.body;
    plan = again;
  }
  return Fail(env, "the cluster keeps changing; nothing was submitted, try again later");
}

// Sends `change` to the cluster named by the first argument; prints the plan (--dry-run), asks
// before a destructive change (unless --yes), or starts it and follows it (--watch).
int Apply(Env& env, const Change& change, bool destructive_if_fn(const Change&, const Json&)) {
  ApiResult found = ResolveCluster(env, env.args.positional[0]);
  if (!found.ok()) return Fail(env, *found.error);
  Json c = found.body;
  if (env.args.Has("dry-run")) {
    ApiResult r = Send(env, change, c, true);
    if (!r.ok()) return Fail(env, *r.error);
    if (env.json) {
      PrintJson(env, r.body);
    } else {
      int default_masters = change.endpoint == "masters" && change.body.contains("count")
                                ? DefaultMasters(env, Str(c, "purpose"))
                                : 0;
      PrintChangePlan(env.io.out, change, r.body,
                      SummarizePlan(c, r.body, default_masters, Batch(change)));
    }
    return 0;
  }
  Json confirmed;
  bool ask = destructive_if_fn(change, c) && !env.args.Has("yes");
  if (ask) {
    int rc = ConfirmPlan(env, change, c, &confirmed);
    if (rc >= 0) return rc;
  }
  ApiResult r = Send(env, change, c, false);
  if (!r.ok()) return Fail(env, *r.error);
  std::string op_id = Str(Field(r.body, "operation"), "id");
  if (ask && PlanFingerprint(r.body) != PlanFingerprint(confirmed)) {
    env.io.err << "warning: the cluster changed while you confirmed: kaas planned this change "
                  "differently. See the steps with: kaas operation show "
               << op_id << " (cancel it with: kaas operation cancel " << op_id << ")\n";
  }
  bool watch = env.args.Has("watch");
  if (env.json) {
    if (!watch) PrintJson(env, r.body);
  } else {
    env.io.out << change.doing << " " << Str(c, "name") << " (" << Str(c, "id") << ") of team "
               << Str(c, "team") << "\n"
               << "  operation: " << op_id << "\n";
    if (!watch) env.io.out << "Follow it with: kaas operation show " << op_id << " --watch\n";
  }
  return watch ? WatchOperation(env, op_id) : 0;
}

bool Always(const Change&, const Json&) { return true; }

// Scale-in is destructive, scale-out is not.
bool FewerThanNow(const Change& change, const Json& cluster) {
  const Json& group = Field(cluster, change.endpoint.c_str());
  int64_t now = group.is_object() && group.contains("count") && group["count"].is_number()
                    ? group["count"].get<int64_t>()
                    : 0;
  return change.body.value("count", int64_t{0}) < now;
}

}  // namespace

int CmdClusterScale(Env& env) {
  const ParsedArgs& a = env.args;
  if (a.Has("workers") == a.Has("masters")) {
    return UsageError(env, "give either --workers N or --masters N");
  }
  bool masters = a.Has("masters");
  const char* flag = masters ? "masters" : "workers";
  auto n = ParseInt(a.Get(flag));
  if (!n) return UsageError(env, std::string("--") + flag + " must be a whole number");
  if (a.Has("allow-colocated-masters") && !masters) {
    return UsageError(env, "--allow-colocated-masters goes with --masters");
  }
  Change change;
  change.endpoint = flag;
  change.body = {{"count", *n}};
  if (a.Has("allow-colocated-masters")) change.body["allow_colocated_masters"] = true;
  std::string to = std::string(flag) + " to " + std::to_string(*n);
  change.what = "scale " + to;
  change.doing = "Scaling " + to + " in cluster";
  return Apply(env, change, FewerThanNow);
}

int CmdClusterResizeMasters(Env& env) {
  if (!env.args.Has("flavor")) return UsageError(env, "--flavor is required");
  std::string flavor = env.args.Get("flavor");
  Change change;
  change.endpoint = "masters";
  change.body = {{"flavor", flavor}};
  change.what = "resize the masters to " + flavor;
  change.doing = "Resizing the masters to " + flavor + " in cluster";
  return Apply(env, change, Always);
}

// `kaas cluster repair CLUSTER NODE`: the node is replaced (POST .../nodes/NODE/repair), as
// the health monitor does on its own for a node that stays unhealthy.
int CmdClusterRepair(Env& env) {
  const std::string& node = env.args.positional[1];
  Change change;
  change.endpoint = "nodes/" + UrlEncode(node) + "/repair";
  change.body = Json::object();
  change.what = "replace node " + node;
  change.doing = "Replacing node " + node + " in cluster";
  return Apply(env, change, Always);
}

int CmdClusterUpgrade(Env& env) {
  const ParsedArgs& a = env.args;
  if (!a.Has("version")) return UsageError(env, "--version is required (see kaas versions)");
  std::string version = a.Get("version");
  Change change;
  change.endpoint = "upgrade";
  change.body = {{"kubernetes_version", version}};
  change.what = "upgrade Kubernetes to " + version;
  change.doing = "Upgrading Kubernetes to " + version + " in cluster";
  if (a.Has("max-unavailable")) {
    auto n = ParseInt(a.Get("max-unavailable"));
    if (!n || *n < 1) return UsageError(env, "--max-unavailable must be a positive whole number");
    change.body["max_unavailable"] = *n;
  }
  return Apply(env, change, Always);
}

namespace {

// `kaas cluster delete -l SELECTOR`: the matching clusters are listed; --dry-run asks kaasd
// whether each delete would be admitted; else, unless --yes, the number of clusters must be
// typed (stdin not a terminal: refuse, exit 2, as for one cluster) and the list is fetched
// again: if it changed, nothing is deleted. Each delete is then sent; one refused does not
// stop the others (exit 1 when any was).
int DeleteBySelector(Env& env) {
  const std::string selector = env.args.Get("selector");
  // With -o json the list and the question go to stderr: stdout stays the API's JSON.
  std::ostream& out = env.json ? env.io.err : env.io.out;
  ApiResult found = ListAllClusters(env, env.args.Get("team"), selector);
  if (!found.ok()) return Fail(env, *found.error);
  const Json items = found.body.value("items", Json::array());
  auto ids = [](const Json& list) {
    std::set<std::string> s;
    for (const auto& c : list) s.insert(Str(c, "id"));
    return s;
  };
  if (items.empty()) {
    if (env.json) PrintJson(env, Json{{"items", Json::array()}});
    out << "No clusters match " << selector << "; nothing to delete.\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "TEAM", "STATUS", "ID", "LABELS"}};
  for (const auto& c : items) {
    rows.push_back({Str(c, "name"), Str(c, "team"), Str(c, "status"), Str(c, "id"), LabelsText(c)});
  }
  std::string count = std::to_string(items.size());
  std::string clusters = items.size() == 1 ? "1 cluster" : count + " clusters";
  bool dry_run = env.args.Has("dry-run");
  out << (dry_run ? "Would delete " : "To delete: ") << clusters << " matching " << selector
      << (dry_run ? " (dry run: nothing was changed)" : "") << "\n"
      << RenderTable(rows);

  Json answers = Json::array();
  int failed = 0;
  if (dry_run) {
    for (const auto& c : items) {
      ApiResult r =
          env.Api().Delete("/api/v1/clusters/" + UrlEncode(Str(c, "id")) + "?dry_run=true");
      answers.push_back(r.ok() ? r.body : Json{{"error", r.error->message}});
      if (r.ok()) continue;
      ++failed;
      env.io.err << "  " << Str(c, "name") << ": would be refused: " << r.error->message << " ("
                 << r.error->code << ")\n";
    }
    if (env.json) PrintJson(env, Json{{"items", answers}});
    return failed ? 1 : 0;
  }
  if (!env.args.Has("yes")) {
    if (!env.io.in_is_tty) {
      env.io.err << "error: refusing to delete " << clusters
                 << " without confirmation: stdin is not a terminal, so kaas cannot ask.\n"
                 << "  Read the list above, then run the command again with --yes to do it.\n";
      return 2;
    }
    std::string answer;
    if (!Ask(env, out,
             "\nEvery node of these clusters is destroyed; this cannot be undone.\nType the "
             "number of clusters (" +
                 count + ") to confirm: ",
             &answer) ||
        answer != count) {
      out << "Nothing was changed.\n";
      return 1;
    }
    ApiResult again = ListAllClusters(env, env.args.Get("team"), selector);
    if (!again.ok()) return Fail(env, *again.error);
    if (ids(again.body.value("items", Json::array())) != ids(items)) {
      out << "The clusters matching " << selector
          << " changed since the list was shown; nothing was deleted. Run the command again.\n";
      return 1;
    }
  }
  std::vector<std::string> operations;
  for (const auto& c : items) {
    ApiResult r = env.Api().Delete("/api/v1/clusters/" + UrlEncode(Str(c, "id")));
    answers.push_back(r.ok() ? r.body : Json{{"error", r.error->message}});
    if (!r.ok()) {
      ++failed;
      env.io.err << "error: " << Str(c, "name") << " (" << Str(c, "id") << "): " << r.error->message
                 << " (" << r.error->code << ")\n";
      continue;
    }
    std::string op = Str(Field(r.body, "operation"), "id");
    operations.push_back(op);
    if (!env.json) {
      env.io.out << "Deleting cluster " << Str(c, "name") << " (" << Str(c, "id") << ") of team "
                 << Str(c, "team") << "\n  operation: " << op << "\n";
    }
  }
  if (env.json) PrintJson(env, Json{{"items", answers}});
  if (env.args.Has("watch")) {
    for (const auto& op : operations) failed += WatchOperation(env, op) != 0;
  }
  return failed ? 1 : 0;
}

}  // namespace

int CmdClusterDelete(Env& env) {
  if (env.args.Has("selector")) {
    if (!env.args.positional.empty()) {
      return UsageError(env, "give either a cluster or -l SELECTOR, not both");
    }
    // An empty selector matches everything: never a way to delete every cluster by accident.
    if (env.args.Get("selector").find_first_not_of(" \t") == std::string::npos) {
      return UsageError(env, "-l needs a selector; an empty one would match every cluster");
    }
    return DeleteBySelector(env);
  }
  if (env.args.positional.empty()) return UsageError(env, "missing argument (or -l SELECTOR)");
  Change change;
  change.method = "DELETE";
  change.what = "delete";
  change.doing = "Deleting cluster";
  return Apply(env, change, Always);
}

}  // namespace kaas::cli
