// cluster scale|resize-masters|upgrade: changes to a running cluster, each with --dry-run
// (the plan) and --watch.

#include <ostream>

#include "commands.h"
#include "kaas/cli/render.h"

namespace kaas::cli {
namespace {

struct Change {
  std::string endpoint;  // "workers", "masters" or "upgrade"
  Json body;
  std::string what;   // "scale workers to 5", for the plan
  std::string doing;  // "Scaling workers to 5", for the reply
};

void PrintChangePlan(Env& env, const Change& change, const Json& reply) {
  std::ostream& out = env.io.out;
  const Json& cluster = Field(reply, "cluster");
  out << "Plan to " << change.what << " in cluster " << Str(cluster, "name") << " of team "
      << Str(cluster, "team") << " (dry run: nothing was changed)\n";
  Json added = Json::array();
  for (const auto& n : cluster.value("nodes", Json::array())) {
    if (Str(n, "state") == "reserved") added.push_back(n);
  }
  if (!added.empty()) out << "\nNew nodes:\n" << NodeTable(added, false);
  out << "\nSteps:\n";
  int i = 0;
  for (const auto& s : Field(reply, "operation").value("steps", Json::array())) {
    out << "  " << ++i << ". " << Str(s, "name") << "\n";
  }
}

// Sends `change` to the cluster named by the first argument; prints the plan (--dry-run),
// or the operation it started and follows it (--watch).
int Apply(Env& env, const Change& change) {
  ApiResult found = ResolveCluster(env, env.args.positional[0]);
  if (!found.ok()) return Fail(env, *found.error);
  const Json& c = found.body;
  bool dry_run = env.args.Has("dry-run");
  std::string path = "/api/v1/clusters/" + UrlEncode(Str(c, "id")) + "/" + change.endpoint;
  ApiResult r = env.Api().Post(path + (dry_run ? "?dry_run=true" : ""), change.body);
  if (!r.ok()) return Fail(env, *r.error);
  if (dry_run) {
    if (env.json) {
      PrintJson(env, r.body);
    } else {
      PrintChangePlan(env, change, r.body);
    }
    return 0;
  }
  std::string op_id = Str(Field(r.body, "operation"), "id");
  bool watch = env.args.Has("watch");
  if (env.json) {
    if (!watch) PrintJson(env, r.body);
  } else {
    env.io.out << change.doing << " in cluster " << Str(c, "name") << " (" << Str(c, "id")
               << ") of team " << Str(c, "team") << "\n"
               << "  operation: " << op_id << "\n";
    if (!watch) env.io.out << "Follow it with: kaas operation show " << op_id << " --watch\n";
  }
  return watch ? WatchOperation(env, op_id) : 0;
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
  change.doing = "Scaling " + to;
  return Apply(env, change);
}

int CmdClusterResizeMasters(Env& env) {
  if (!env.args.Has("flavor")) return UsageError(env, "--flavor is required");
  std::string flavor = env.args.Get("flavor");
  return Apply(env, {"masters",
                     {{"flavor", flavor}},
                     "resize the masters to " + flavor,
                     "Resizing the masters to " + flavor});
}

int CmdClusterUpgrade(Env& env) {
  const ParsedArgs& a = env.args;
  if (!a.Has("version")) return UsageError(env, "--version is required (see kaas versions)");
  std::string version = a.Get("version");
  Change change{"upgrade",
                {{"kubernetes_version", version}},
                "upgrade Kubernetes to " + version,
                "Upgrading Kubernetes to " + version};
  if (a.Has("max-unavailable")) {
    auto n = ParseInt(a.Get("max-unavailable"));
    if (!n || *n < 1) return UsageError(env, "--max-unavailable must be a positive whole number");
    change.body["max_unavailable"] = *n;
  }
  return Apply(env, change);
}

}  // namespace kaas::cli
