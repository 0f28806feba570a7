// kubeconfig, use, and which cluster kubectl's current context points at.

#include <fstream>
#include <iterator>
#include <optional>
#include <ostream>

#include "commands.h"
#include "kaas/cli/kubeconfig.h"

namespace kaas::cli {
namespace {

// Fetches the kubeconfig of the cluster named by the first argument (and --team) into
// `yaml`, its cluster into `cluster`; an exit code when that failed.
std::optional<int> FetchKubeconfig(Env& env, std::string& yaml, Json& cluster) {
  std::string query;
  if (env.args.Has("ttl-hours")) {
    auto hours = ParseInt(env.args.Get("ttl-hours"));
    if (!hours || *hours < 1) return UsageError(env, "--ttl-hours must be a positive whole number");
    query = "?ttl_hours=" + std::to_string(*hours);
  }
  ApiResult found = ResolveCluster(env, env.args.positional[0]);
  if (!found.ok()) return Fail(env, *found.error);
  cluster = found.body;
  ApiResult r =
      env.Api().GetText("/api/v1/clusters/" + UrlEncode(Str(cluster, "id")) + "/kubeconfig" + query,
                        "application/yaml", yaml);
  if (!r.ok()) return Fail(env, *r.error);
  return std::nullopt;
}

}  // namespace

int CmdKubeconfig(Env& env) {
  if (env.json) return UsageError(env, "kaas kubeconfig prints YAML only; drop --output json");
  std::string yaml;
  Json cluster;
  if (auto failed = FetchKubeconfig(env, yaml, cluster)) return *failed;
  env.io.out << yaml;
  if (!yaml.empty() && yaml.back() != '\n') env.io.out << "\n";
  return 0;
}

int CmdUse(Env& env) {
  std::string yaml;
  Json cluster;
  if (auto failed = FetchKubeconfig(env, yaml, cluster)) return *failed;
  std::string path = KubeconfigPath();
  auto context = MergeIntoKubeconfigFile(path, yaml);
  if (!context.ok()) return Fail(env, context.status().message());
  if (env.json) {
    PrintJson(env, {{"context", *context},
                    {"kubeconfig", path},
                    {"cluster",
                     {{"id", Str(cluster, "id")},
                      {"name", Str(cluster, "name")},
                      {"team", Str(cluster, "team")}}}});
    return 0;
  }
  env.io.out << "Switched to context \"" << *context << "\" (cluster " << Str(cluster, "name")
             << " of team " << Str(cluster, "team") << ") in " << path << "\n";
  return 0;
}

std::set<std::string> CurrentClusterIds(Env& env, const Json& clusters) {
  std::ifstream in(KubeconfigPath(), std::ios::binary);
  if (!in.is_open()) return {};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A kubeconfig kubectl cannot read either is not this command's business.
  auto current = ReadCurrentContext(text);
  if (!current.ok() || current->cluster.empty()) return {};
  // `kaas use` names the context "<user>@<cluster name>" and the cluster entry after the
  // cluster; a context of another tool that merely shares a cluster name is not ours.
  const std::string suffix = "@" + current->cluster;
  const std::string& ctx = current->context;
  if (ctx.size() <= suffix.size() ||
      ctx.compare(ctx.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return {};
  }
  std::vector<std::string> candidates;
  for (const auto& c : clusters) {
    if (Str(c, "name") == current->cluster) candidates.push_back(Str(c, "id"));
  }
  if (candidates.size() <= 1) return {candidates.begin(), candidates.end()};
  // The same name in several teams: the entry's server URL names the master it talks to.
  std::set<std::string> ids;
  for (const auto& id : candidates) {
    ApiResult r = env.Api().Get("/api/v1/clusters/" + UrlEncode(id));
    if (!r.ok()) continue;
    for (const auto& n : r.body.value("nodes", Json::array())) {
      std::string address = Str(n, "address");
      if (Str(n, "role") == "master" && !address.empty() &&
          current->server.find("//" + address + ":") != std::string::npos) {
        ids.insert(id);
      }
    }
  }
  return ids;
}

}  // namespace kaas::cli
