// kubeconfig, use, and which cluster kubectl's current context points at.

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <ostream>

#include "commands.h"
#include "kaas/cli/credential.h"
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
  std::string ref;
  if (env.args.Has("selector")) {
    // kubectl-style -l: the selector must name exactly one of the caller's clusters.
    if (!env.args.positional.empty()) {
      return UsageError(env, "give either a cluster or -l SELECTOR, not both");
    }
    std::string selector = env.args.Get("selector");
    ApiResult list = ListAllClusters(env, env.args.Get("team"), selector);
    if (!list.ok()) return Fail(env, *list.error);
    const Json items = list.body.value("items", Json::array());
    if (items.size() != 1) {
      std::string names;
      for (const auto& c : items) names += (names.empty() ? "" : ", ") + Str(c, "name");
      return Fail(env, "selector " + selector + " matches " + std::to_string(items.size()) +
                           " clusters" + (names.empty() ? "" : " (" + names + ")") +
                           "; it must match exactly one");
    }
    ref = Str(items[0], "id");
  } else if (env.args.positional.empty()) {
    return UsageError(env, "missing argument (or -l SELECTOR)");
  } else {
    ref = env.args.positional[0];
  }
  ApiResult found = ResolveCluster(env, ref);
  if (!found.ok()) return Fail(env, *found.error);
  cluster = found.body;
  ApiResult r =
      env.Api().GetText("/api/v1/clusters/" + UrlEncode(Str(cluster, "id")) + "/kubeconfig" + query,
                        "application/yaml", yaml);
  if (!r.ok()) return Fail(env, *r.error);
  return std::nullopt;
}

// This very binary, for kubectl to run (kaas or kubectl-kaas, wherever it is installed).
std::string SelfPath() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("kaas") : self.string();
}

std::string CachePathFor(Env& env, const std::string& cluster) {
  std::string dir = std::filesystem::path(env.config_path).parent_path().string();
  return CredentialCachePath(dir, env.server, env.config.username, env.args.Get("team"), cluster);
}

// With --exec: the fetched kubeconfig's user becomes `kaas credential <cluster id>` (against
// this server and config file), and the credential just fetched goes into that command's cache.
std::optional<int> ExecKubeconfig(Env& env, const Json& cluster, std::string& yaml) {
  const std::string id = Str(cluster, "id");
  auto credential = ReadClientCredential(yaml);
  if (!credential.ok()) return Fail(env, credential.status().message());
  // The exec entry names the cluster by id, without --team: the cache key of that command.
  std::string dir = std::filesystem::path(env.config_path).parent_path().string();
  std::string cache = CredentialCachePath(dir, env.server, env.config.username, "", id);
  if (Status st = WritePrivateFile(cache, ExecCredential(*credential).dump(2) + "\n"); !st.ok()) {
    return Fail(env, st.message());
  }
  auto rewritten =
      WithExecUser(yaml, {SelfPath(), "--server", env.server, "credential", id},
                   {{"KAAS_CONFIG", std::filesystem::absolute(env.config_path).string()}},
                   "kubectl runs 'kaas credential' for this cluster: install the kaas CLI and run "
                   "'kaas login --server " +
                       env.server + "'");
  if (!rewritten.ok()) return Fail(env, rewritten.status().message());
  yaml = *rewritten;
  return std::nullopt;
}

}  // namespace

int CmdCredential(Env& env) {
  const std::string ref = env.args.positional[0];
  const std::string cache = CachePathFor(env, ref);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (!env.args.Has("renew")) {
    if (auto cached = FreshCachedCredential(cache, now)) {
      env.io.out << cached->dump() << "\n";
      return 0;
    }
  }
  std::string yaml;
  Json cluster;
  if (auto failed = FetchKubeconfig(env, yaml, cluster)) return *failed;
  auto credential = ReadClientCredential(yaml);
  if (!credential.ok()) return Fail(env, credential.status().message());
  Json exec = ExecCredential(*credential);
  // kubectl gets the credential even when it cannot be cached; the next call then asks again.
  if (Status st = WritePrivateFile(cache, exec.dump(2) + "\n"); !st.ok()) {
    env.io.err << "warning: cannot cache the credential in " << cache << ": " << st.message()
               << "\n";
  }
  env.io.out << exec.dump() << "\n";
  return 0;
}

int CmdKubeconfig(Env& env) {
  if (env.json) return UsageError(env, "kaas kubeconfig prints YAML only; drop --output json");
  std::string yaml;
  Json cluster;
  if (auto failed = FetchKubeconfig(env, yaml, cluster)) return *failed;
  if (env.args.Has("exec")) {
    if (auto failed = ExecKubeconfig(env, cluster, yaml)) return *failed;
  }
  env.io.out << yaml;
  if (!yaml.empty() && yaml.back() != '\n') env.io.out << "\n";
  return 0;
}

int CmdUse(Env& env) {
  std::string yaml;
  Json cluster;
  if (auto failed = FetchKubeconfig(env, yaml, cluster)) return *failed;
  if (env.args.Has("exec")) {
    if (auto failed = ExecKubeconfig(env, cluster, yaml)) return *failed;
  }
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
