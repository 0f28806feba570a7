#include "kaas/cli/cli.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>

#include "commands.h"
#include "kaas/cli/render.h"

namespace kaas::cli {
namespace {

struct Command {
  Command(std::string name, size_t min_args, size_t max_args, int (*run)(Env&),
          std::string synopsis, std::string summary, std::vector<FlagSpec> flags = {})
      : name(std::move(name)),
        min_args(min_args),
        max_args(max_args),
        run(run),
        synopsis(std::move(synopsis)),
        summary(std::move(summary)),
        flags(std::move(flags)) {}

  std::string name;  // "cluster create"
  size_t min_args;   // positional arguments
  size_t max_args;
  int (*run)(Env&);
  std::string synopsis;  // what follows the name in the usage line
  std::string summary;
  std::vector<FlagSpec> flags;
};

const std::vector<FlagSpec>& GlobalFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"server", "URL",
       "kaasd base URL (default: the one you logged in to, else " + std::string(kDefaultServer) +
           ")"},
      {"output", "FORMAT", "table (default) or json, the API's raw JSON for scripts", 'o'},
      {"help", "", "show help", 'h'},
  };
  return kFlags;
}

const std::vector<Command>& Commands() {
  static const FlagSpec kTeam{"team", "T", "the cluster's team, when the name alone is ambiguous"};
  static const FlagSpec kWatch{"watch", "", "follow the operation until it finishes"};
  static const FlagSpec kDryRun{"dry-run", "",
                                "show the plan (new nodes, steps) without changing anything"};
  static const FlagSpec kYes{"yes", "",
                             "do it without showing the plan and asking (needed in scripts)", 'y'};
  static const FlagSpec kComment{"comment", "TEXT", "a note for the requester"};
  static const FlagSpec kSelector{"selector", "SELECTOR",
                                  "only clusters whose labels match, as kubectl's -l: "
                                  "env=prod,tier!=db,region in (a,b),!legacy",
                                  'l'};
  static const FlagSpec kExec{"exec", "",
                              "the user runs 'kaas credential' (kubectl's exec plugin), which "
                              "renews the certificate by itself"};
  static const FlagSpec kTtl{"ttl-hours", "N",
                             "lifetime of the client certificate in hours (default: the server's)"};
  static const std::vector<Command> kCommands = {
      Command("login", 0, 0, CmdLogin,
              "[--server URL] [--user NAME] [--password-stdin] [--ca-file FILE]",
              "Log in to kaasd and remember the session token",
              {{"user", "NAME", "user to log in as (default: admin)"},
               {"ca-file", "FILE",
                "PEM CA certificate(s) kaasd's https certificate must chain to (a private CA); "
                "remembered for later commands"},
               {"password-stdin", "", "read the password from stdin instead of prompting"}}),
      Command("logout", 0, 0, CmdLogout, "", "Revoke the session token and forget it"),
      Command("whoami", 0, 0, CmdWhoami, "", "Show the logged-in user, their teams and roles"),
      Command("clusters", 0, 0, CmdClusters, "[--team T] [-l SELECTOR]", "List clusters",
              {{"team", "T", "only the clusters of team T"}, kSelector}),
      Command("cluster create", 1, 1, CmdClusterCreate,
              "NAME --team T --purpose P [--workers N] [--worker-flavor F]\n"
              "           [--worker-kind vm|physical] [--masters N] [--version V]\n"
              "           [--label KEY=VALUE]... [--dry-run] [--watch]",
              "Create a cluster",
              {{"team", "T", "team that owns the cluster (required)"},
               {"purpose", "P", "personal, dev or prod (required); sets the default master count"},
               {"workers", "N", "number of worker nodes"},
               {"worker-flavor", "F", "worker flavor (see kaas flavors)"},
               {"worker-kind", "KIND", "vm or physical"},
               {"masters", "N", "number of masters: 1, 3 or 5 (default from the purpose)"},
               {"version", "V", "Kubernetes version (default: see kaas versions)"},
               {"label", "KEY=VALUE", "a label (Kubernetes syntax); repeat the flag for more"},
               {"dry-run", "", "show the plan (nodes, placement, steps) without creating anything"},
               kWatch}),
      Command("cluster show", 1, 1, CmdClusterShow, "NAME|ID [--team T]",
              "Show a cluster, its nodes and latest operation", {kTeam}),
      Command("cluster delete", 0, 1, CmdClusterDelete,
              "(NAME|ID | -l SELECTOR) [--team T] [--dry-run] [--yes] [--watch]",
              "Delete a cluster, or every cluster a selector matches (shows the plan and asks "
              "unless --yes)",
              {kTeam, kSelector, kDryRun, kYes, kWatch}),
      Command(
          "cluster label", 2, 1000, CmdClusterLabel,
          "CLUSTER KEY=VALUE... KEY-... [--overwrite] [--team T]",
          "Set (KEY=VALUE) and remove (KEY-) a cluster's labels, as kubectl label does",
          {{"overwrite", "", "allow changing the value of a label that is already set"}, kTeam}),
      Command("kubeconfig", 0, 1, CmdKubeconfig,
              "(CLUSTER | -l SELECTOR) [--team T] [--ttl-hours N] [--exec]",
              "Print a cluster's kubeconfig (YAML) with a short-lived client certificate",
              {kTeam, kSelector, kTtl, kExec}),
      Command("use", 0, 1, CmdUse, "(CLUSTER | -l SELECTOR) [--team T] [--ttl-hours N] [--exec]",
              "Merge a cluster's kubeconfig into kubectl's config and switch to it",
              {kTeam, kSelector, kTtl, kExec}),
      Command("credential", 1, 1, CmdCredential, "CLUSTER [--team T] [--renew]",
              "Print a client.authentication.k8s.io/v1 ExecCredential for kubectl (cached)",
              {kTeam, {"renew", "", "fetch a new certificate even when the cached one is fresh"}}),
      Command(
          "cluster scale", 1, 1, CmdClusterScale,
          "CLUSTER (--workers N | --masters N [--allow-colocated-masters]) [--team T]\n"
          "           [--dry-run] [--yes] [--watch]",
          "Change a cluster's number of workers or masters",
          {{"workers", "N", "the number of workers to have"},
           {"masters", "N", "the number of masters to have: 1, 3 or 5"},
           {"allow-colocated-masters", "", "let masters share a hypervisor when there are too few"},
           kTeam,
           kDryRun,
           kYes,
           kWatch}),
      Command("cluster resize-masters", 1, 1, CmdClusterResizeMasters,
              "CLUSTER --flavor F [--team T] [--dry-run] [--yes] [--watch]",
              "Replace a cluster's masters, one at a time, with masters of another flavor",
              {{"flavor", "F", "the master flavor to have (see kaas flavors; required)"},
               kTeam,
               kDryRun,
               kYes,
               kWatch}),
      Command("cluster upgrade", 1, 1, CmdClusterUpgrade,
              "CLUSTER --version V [--max-unavailable N] [--team T] [--dry-run] [--yes]\n"
              "           [--watch]",
              "Upgrade a cluster's Kubernetes by one minor version, node by node",
              {{"version", "V", "the version to upgrade to (see kaas versions; required)"},
               {"max-unavailable", "N", "workers upgraded at the same time (default 1)"},
               kTeam,
               kDryRun,
               kYes,
               kWatch}),
      Command("cluster repair", 2, 2, CmdClusterRepair,
              "CLUSTER NODE [--team T] [--dry-run] [--yes] [--watch]",
              "Replace a node (as kaas does on its own for a dead one, see auto repair)",
              {kTeam, kDryRun, kYes, kWatch}),
      Command("operations", 1, 1, CmdOperations, "CLUSTER [--team T]",
              "List a cluster's operations, newest first", {kTeam}),
      Command("operation show", 1, 1, CmdOperationShow, "ID [--watch]",
              "Show an operation's steps and progress", {kWatch}),
      Command("operation cancel", 1, 1, CmdOperationCancel, "ID",
              "Cancel a pending or running operation"),
      Command("operation retry", 1, 1, CmdOperationRetry, "ID [--watch]",
              "Run a failed or cancelled operation again from its first unfinished step", {kWatch}),
      Command("versions", 0, 0, CmdVersions, "", "List the supported Kubernetes versions"),
      Command("flavors", 0, 0, CmdFlavors, "", "List node flavors and master sizing"),
      Command("teams", 0, 0, CmdTeams, "", "List your teams"),
      Command("team create", 1, 1, CmdTeamCreate, "NAME", "Create a team (platform admin)"),
      Command("team members", 1, 1, CmdTeamMembers, "TEAM", "List a team's members and roles"),
      Command("team add-member", 2, 2, CmdTeamAddMember, "TEAM USER --role R",
              "Add a user to a team or change their role (team admin)",
              {{"role", "R", "admin, member or viewer (required)"}}),
      Command("team remove-member", 2, 2, CmdTeamRemoveMember, "TEAM USER",
              "Remove a user from a team (team admin)"),
      Command("quota", 0, 1, CmdQuota, "[TEAM]",
              "Show quota limits and usage, of TEAM or of each of your teams"),
      Command("quota request", 1, 1, CmdQuotaRequest,
              "TEAM [--clusters N] [--vcpus N] [--memory-gib N] [--physical-hosts N]\n"
              "           --reason TEXT",
              "Ask the platform admins for new quota limits for a team",
              {{"clusters", "N", "the number of clusters to allow"},
               {"vcpus", "N", "the vCPUs to allow"},
               {"memory-gib", "N", "the memory to allow, in GiB"},
               {"physical-hosts", "N", "the physical hosts to allow"},
               {"reason", "TEXT", "why the team needs it (required)"}}),
      Command("quota requests", 0, 0, CmdQuotaRequests, "[--state pending|approved|rejected]",
              "List quota requests: your teams', or all of them for a platform admin",
              {{"state", "S", "only the requests in state S: pending, approved or rejected"}}),
      Command("quota approve", 1, 1, CmdQuotaApprove, "ID [--comment TEXT]",
              "Approve a quota request: its limits take effect at once (platform admin)",
              {kComment}),
      Command("quota reject", 1, 1, CmdQuotaReject, "ID [--comment TEXT]",
              "Reject a quota request (platform admin)", {kComment}),
      Command("users", 0, 0, CmdUsers, "", "List users (platform admin)"),
      Command("user create", 1, 1, CmdUserCreate, "NAME [--admin] [--password-stdin]",
              "Create a user (platform admin)",
              {{"admin", "", "make the user a platform admin"},
               {"password-stdin", "", "read the password from stdin instead of prompting"}}),
      Command("user disable", 1, 1, CmdUserDisable, "NAME",
              "Disable a user: their sessions and API tokens stop working at once and they "
              "cannot log in (platform admin)"),
      Command("user enable", 1, 1, CmdUserEnable, "NAME",
              "Let a disabled user log in again (platform admin)"),
      Command("passwd", 0, 1, CmdPasswd, "[NAME] [--password-stdin]",
              "Change your password (asks for the current one), or as a platform admin set "
              "NAME's; the user's other sessions are logged out",
              {{"password-stdin", "",
                "read from stdin: the current and the new password, one per line (only the new "
                "one for another user)"}}),
      Command("token create", 1, 1, CmdTokenCreate,
              "NAME [--ttl-hours N] [--deployer --team T --selector S]",
              "Create an API token for automation; it is shown only once",
              {{"ttl-hours", "N", "lifetime in hours (default: 720, 30 days)"},
               {"deployer", "",
                "a deploy token for a pipeline: it only lists the team's clusters matching the "
                "selector and fetches their kubeconfigs (team admin)"},
               {"team", "T", "the deploy token's team"},
               {"selector", "SELECTOR",
                "the deploy token's clusters, a label selector (env=prod,region in (a,b)); "
                "evaluated at each request",
                'l'}}),
      Command("token list", 0, 0, CmdTokenList, "[--user NAME]",
              "List your API tokens (a platform admin: anyone's with --user)",
              {{"user", "NAME", "the tokens of another user (platform admin)"}}),
      Command("deploy-targets", 0, 0, CmdDeployTargets, "[--kubeconfigs DIR]",
              "With a deploy token (KAAS_TOKEN): the clusters it may deploy to, with their API "
              "server",
              {{"kubeconfigs", "DIR", "write each target's kubeconfig to DIR/NAME.yaml"}}),
      Command("token revoke", 1, 1, CmdTokenRevoke, "ID", "Revoke an API token"),
      Command("hypervisors", 0, 0, CmdHypervisors, "",
              "List hypervisors with their capacity and use (platform admin)"),
      Command("hypervisor add", 1, 1, CmdHypervisorAdd, "NAME --uri URI --vcpus N --memory-gib N",
              "Register a hypervisor; it takes new nodes at once (platform admin)",
              {{"uri", "URI", "libvirt URI, such as qemu+ssh://hv7/system (required)"},
               {"vcpus", "N", "vCPUs it offers to nodes (required)"},
               {"memory-gib", "N", "memory it offers to nodes, in GiB (required)"}}),
      Command("hypervisor drain", 1, 1, CmdHypervisorDrain, "NAME",
              "Stop placing new nodes on a hypervisor; its nodes stay (platform admin)"),
      Command("hypervisor activate", 1, 1, CmdHypervisorActivate, "NAME",
              "Place new nodes on a hypervisor again (platform admin)"),
      Command("hypervisor remove", 1, 1, CmdHypervisorRemove, "NAME",
              "Unregister a hypervisor that carries no nodes (platform admin)"),
      Command("hosts", 0, 0, CmdHosts, "",
              "List physical hosts, their state and cluster (platform admin)"),
      Command("host add", 1, 1, CmdHostAdd,
              "NAME --address A --vcpus N --memory-gib N [--label KEY=VALUE]... [--host-key K]",
              "Register a physical host; it is available to clusters at once (platform admin)",
              {{"address", "A", "its management address (required)"},
               {"vcpus", "N", "its vCPUs (required)"},
               {"memory-gib", "N", "its memory in GiB (required)"},
               {"label", "KEY=VALUE", "a label; repeat the flag for more"},
               {"host-key", "K",
                "its SSH host key, the line of /etc/ssh/ssh_host_ed25519_key.pub (without it "
                "kaas pins the key it sees at its first contact)"}}),
      Command("host key", 2, 2, CmdHostKey, "NAME 'TYPE BASE64'",
              "Give kaas a host's new SSH host key, e.g. after a reinstall: kaas refuses to "
              "connect to a host whose key is not the one it knows (platform admin)"),
      Command("host maintenance", 1, 1, CmdHostMaintenance, "NAME",
              "Take an unallocated host out of service (platform admin)"),
      Command("host available", 1, 1, CmdHostAvailable, "NAME",
              "Put a host back into service (platform admin)"),
      Command("host remove", 1, 1, CmdHostRemove, "NAME",
              "Unregister a host no cluster holds (platform admin)"),
      Command("orphans", 0, 0, CmdOrphans, "",
              "List VMs and hosts that kaas owns but no cluster accounts for (platform admin)"),
      Command("webhook add", 1, 1, CmdWebhookAdd,
              "URL (--team T | --platform) --events E,... [--format json|slack] [--secret-stdin]",
              "Post the team's (or, platform admin, every team's) events to URL (team admin)",
              {{"team", "T", "the team whose events are posted"},
               {"platform", "", "a platform-wide webhook: every team's events (platform admin)"},
               {"events", "E,...",
                "event types, comma-separated: operation.succeeded|failed|cancelled, "
                "cluster.created|deleted, quota_request.created|approved|rejected, "
                "quota.nearly_full, node.unhealthy|repaired, webhook.disabled (required)"},
               {"format", "F", "json (the structured event, default) or slack ({\"text\"})"},
               {"secret-stdin", "",
                "read a secret from stdin: each post carries X-Kaas-Signature: sha256=HMAC"}}),
      Command("webhook list", 0, 0, CmdWebhookList, "(--team T | --platform)",
              "List a team's webhooks, or the platform-wide ones",
              {{"team", "T", "the team's webhooks"},
               {"platform", "", "the platform-wide webhooks (platform admin)"}}),
      Command("webhook remove", 1, 1, CmdWebhookRemove, "ID", "Remove a webhook"),
      Command("webhook test", 1, 1, CmdWebhookTest, "ID", "Send a webhook a test notification"),
      Command("webhook deliveries", 1, 1, CmdWebhookDeliveries, "ID [--limit N]",
              "Show a webhook's delivery attempts, newest first: status, error, next retry",
              {{"limit", "N", "at most N attempts (default 100)"}}),
      Command("audit", 0, 0, CmdAudit, "[--team T] [--limit N]",
              "Show the audit log: who did what, when, from where (platform or team admin)",
              {{"team", "T", "only the entries about team T"},
               {"limit", "N", "at most N entries (default 100, at most 1000)"}}),
  };
  return kCommands;
}

// Words that are the start of a two-word command ("cluster create").
bool IsGroup(const std::string& word) {
  return word == "cluster" || word == "operation" || word == "team" || word == "token" ||
         word == "user" || word == "quota" || word == "hypervisor" || word == "host" ||
         word == "webhook";
}

const Command* FindCommand(const std::string& name) {
  static const std::map<std::string, std::string> kAliases = {
      {"cluster list", "clusters"},     {"team list", "teams"},
      {"user list", "users"},           {"tokens", "token list"},
      {"operation list", "operations"}, {"hypervisor list", "hypervisors"},
      {"host list", "hosts"},           {"webhooks", "webhook list"}};
  std::string canonical = name;
  if (auto it = kAliases.find(name); it != kAliases.end()) canonical = it->second;
  for (const auto& c : Commands()) {
    if (c.name == canonical) return &c;
  }
  return nullptr;
}

void PrintFlags(std::ostream& out, const std::vector<FlagSpec>& flags) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : flags) {
    std::string name = f.short_name ? std::string("-") + f.short_name + ", " : "    ";
    name += "--" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    rows.push_back({"  " + name, f.help});
  }
  out << RenderTable(rows);
}

void PrintOverview(std::ostream& out, const std::string& program) {
  out << "kaas: the command-line client of the kaas Kubernetes-as-a-Service platform\n\n"
         "Usage: "
      << program << " [--server URL] [--output json] COMMAND [ARGS]\n\nCommands:\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : Commands()) rows.push_back({"  " + c.name, c.summary});
  out << RenderTable(rows) << "\nGlobal flags:\n";
  PrintFlags(out, GlobalFlags());
  out << "\nRun '" << program << " help COMMAND' for a command's flags.\n";
}

// Destructive changes: scale-in, resize, upgrade, delete.
constexpr const char* kAsks =
    "Destructive changes (fewer workers or masters, resize, upgrade, delete) print their plan\n"
    "(steps, nodes added and removed, warnings) and ask before they run; delete and fewer masters\n"
    "than the purpose's default ask for the cluster's name. The plan is asked for again before\n"
    "the change is sent: if the cluster changed meanwhile, the new plan is shown instead. When\n"
    "stdin is not a terminal they refuse (exit 2) unless --yes is given.\n";

// More than the one-line summary, for the commands that need it.
std::string Details(const std::string& command) {
  static const std::map<std::string, std::string> kDetails = {
      {"clusters",
       "A '*' in the CURRENT column marks the cluster of kubectl's current context (see kaas "
       "use).\n"},
      {"deploy-targets",
       "For pipelines: run with the deploy token in KAAS_TOKEN (it takes the place of a login)\n"
       "and --server. --kubeconfigs DIR also writes each target's kubeconfig to DIR/NAME.yaml\n"
       "(mode 0600), with a client certificate of the server's default lifetime.\n"
       "Issue the token with: kaas token create NAME --deployer --team T --selector S\n"},
      {"kubeconfig",
       "The kubeconfig has one cluster, one user and one context, \"<user>@<cluster>\", and\n"
       "selects it. Save it with: kaas kubeconfig CLUSTER > FILE\n"},
      {"use",
       "Like kubectx: fetches the cluster's kubeconfig and merges it into the first file of\n"
       "$KUBECONFIG, else ~/.kube/config (created with mode 0600 when missing). Its cluster,\n"
       "user and context entries replace the entries of the same name; current-context becomes\n"
       "\"<user>@<cluster>\". Every other entry and setting in the file is kept.\n"},
      {"credential",
       "What kubectl's exec plugin mechanism runs for a user that 'kaas kubeconfig --exec' or\n"
       "'kaas use --exec' wrote: prints status.clientCertificateData, clientKeyData and\n"
       "expirationTimestamp (5 minutes before the certificate's end). The credential is cached\n"
       "(mode 0600) under the config file's directory, in credentials/, until then; after that\n"
       "it is renewed through the cluster's kubeconfig endpoint, with the session of kaas "
       "login.\n"},
      {"token create",
       "The token is printed once and cannot be retrieved later. Send it as\n"
       "'Authorization: Bearer <token>'.\n"},
      {"audit", "Columns: TIME ACTOR TEAM ACTION OBJECT FROM (the client address) STATUS.\n"},
      {"quota",
       "Each resource shows a bar of its use, then used/limit. Without TEAM: each team you are\n"
       "a member of. Ask for more with 'kaas quota request'.\n"},
      {"quota request",
       "Only the limits named change when a platform admin approves; see the request with\n"
       "'kaas quota requests'.\n"},
      {"cluster scale",
       "Workers are added or removed (the highest-numbered first); masters follow the sizing\n"
       "policy and are re-sized first when the cluster grows. Masters change one etcd member at\n"
       "a time and always rest at an odd count. --dry-run prints the steps it would run.\n" +
           std::string(kAsks)},
      {"cluster resize-masters", kAsks},
      {"cluster delete",
       "With -l, every cluster of yours whose labels match the selector: the list is shown,\n"
       "--dry-run asks kaasd whether each delete would be admitted, and without --yes kaas asks\n"
       "for the number of clusters before deleting any. A list that changed meanwhile is not\n"
       "deleted. " +
           std::string(kAsks)},
      {"cluster label",
       "KEY=VALUE sets a label, KEY- removes it; other labels stay. Keys are [prefix/]name (name\n"
       "up to 63 of [A-Za-z0-9_.-], prefix a DNS subdomain), values up to 63 of the same or\n"
       "empty. Find clusters by label with: kaas clusters -l KEY=VALUE\n"},
      {"cluster repair",
       "A worker: a new one joins, then the old one is drained and removed (a dead physical\n"
       "host goes to maintenance). A dead master leaves etcd first, then a new one joins as a\n"
       "learner and is promoted; the only master of a cluster is never replaced. kaas does this\n"
       "on its own for a node unhealthy longer than its grace period, unless the cluster's\n"
       "auto repair is off (PATCH /api/v1/clusters/ID {\"auto_repair\": false}).\n" +
           std::string(kAsks)},
      {"cluster upgrade",
       "Masters first, one at a time, then the workers in batches of --max-unavailable.\n"
       "One minor version at a time: see kaas versions.\n" +
           std::string(kAsks)},
      {"operation show",
       "--watch follows the cluster's event stream (falling back to polling when there is\n"
       "none) until the operation ends; it exits 0 only when it succeeded. Many commands take\n"
       "--watch too.\n"},
  };
  auto it = kDetails.find(command);
  return it == kDetails.end() ? "" : "\n" + it->second;
}

void PrintGroup(std::ostream& out, const std::string& group);

void PrintCommandHelp(std::ostream& out, const Command& c) {
  out << "Usage: kaas " << c.name << (c.synopsis.empty() ? "" : " " + c.synopsis) << "\n\n"
      << c.summary << ".\n"
      << Details(c.name);
  if (IsGroup(c.name)) {  // a command that heads a group of its own ("quota")
    out << "\n";
    PrintGroup(out, c.name);
  }
  if (!c.flags.empty()) {
    out << "\nFlags:\n";
    PrintFlags(out, c.flags);
  }
  out << "\nGlobal flags:\n";
  PrintFlags(out, GlobalFlags());
}

void PrintGroup(std::ostream& out, const std::string& group) {
  out << "Commands:\n";
  for (const auto& c : Commands()) {
    if (c.name.rfind(group + " ", 0) == 0) out << "  kaas " << c.name << "\n";
  }
}

// Whether `arg` is a global flag that consumes the next argument as its value.
bool TakesGlobalValue(const std::string& arg) {
  return arg == "--server" || arg == "--output" || arg == "-o";
}

std::string Trimmed(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

int Help(Io& io, const std::vector<std::string>& words) {
  if (words.empty()) {
    PrintOverview(io.out, io.program);
    return 0;
  }
  std::string name = words[0];
  if (words.size() > 1) name += " " + words[1];
  if (const Command* c = FindCommand(name)) {
    PrintCommandHelp(io.out, *c);
    return 0;
  }
  if (IsGroup(words[0])) {
    PrintGroup(io.out, words[0]);
    return 0;
  }
  io.err << "error: unknown command '" << name << "'; run 'kaas --help'\n";
  return 2;
}

}  // namespace

ApiClient& Env::Api() {
  if (!api_) {
    bool own_server = Trimmed(config.server) == server;
    // The CA from login goes with the server it was given for; --ca-file overrides it.
    std::string ca = args.Get("ca-file", own_server ? config.ca_file : "");
    // KAAS_TOKEN (a pipeline's API or deploy token) instead of a saved session.
    const char* token = std::getenv("KAAS_TOKEN");
    api_ = std::make_unique<ApiClient>(server,
                                       token && *token ? std::string(token)
                                       : own_server    ? config.token
                                                       : "",
                                       ca);
  }
  return *api_;
}

int Fail(Env& env, const ApiError& error) {
  std::ostream& err = env.io.err;
  err << "error: " << error.message;
  if (!error.code.empty()) err << " (" << error.code << ")";
  err << "\n";
  const Json& d = error.details;
  if (error.code == "invalid_argument" && d.contains("field") && d["field"].is_string()) {
    err << "  field: " << d["field"].get<std::string>() << "\n";
  }
  if (error.code == "quota_exceeded" || error.code == "insufficient_capacity") {
    Json exceeded =
        d.contains("exceeded") && d["exceeded"].is_array() ? d["exceeded"] : Json::array({d});
    for (const auto& e : exceeded) {
      if (!e.contains("resource")) continue;
      err << "  " << e.value("resource", "") << ": requested " << e.value("requested", 0)
          << ", used " << e.value("used", 0) << ", limit " << e.value("limit", 0) << "\n";
    }
  }
  if (error.http_status == 401 && env.command != "login") {
    err << "  run 'kaas login --server " << env.server << "' to log in\n";
  }
  return 1;
}

int Fail(Env& env, const std::string& message) { return Fail(env, ApiError{0, "", message, {}}); }

int UsageError(Env& env, const std::string& message) {
  env.io.err << "error: " << message << "\n";
  if (const Command* c = FindCommand(env.command)) {
    env.io.err << "usage: " << env.io.program << " " << c->name
               << (c->synopsis.empty() ? "" : " " + c->synopsis) << "\n";
  }
  env.io.err << "Run '" << env.io.program << " help " << env.command << "' for more.\n";
  return 2;
}

void PrintJson(Env& env, const Json& body) { env.io.out << body.dump(2) << "\n"; }

int PrintList(Env& env, const ApiResult& r, const std::string& empty,
              std::vector<std::string> header,
              const std::function<std::vector<std::string>(const Json&)>& row) {
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  const Json& items = Field(r.body, "items");
  if (!items.is_array() || items.empty()) {
    env.io.out << empty << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {std::move(header)};
  for (const auto& item : items) rows.push_back(row(item));
  env.io.out << RenderTable(rows);
  return 0;
}

int Run(const std::vector<std::string>& args, Io& io) {
  // The command is named by the first one or two words that are not flags; global flags may
  // come before it.
  std::vector<std::string> rest;
  std::vector<std::string> words;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    size_t max_words = words.empty() ? 1 : words[0] == "help" ? 3 : IsGroup(words[0]) ? 2 : 1;
    if (!a.empty() && a[0] != '-' && words.size() < max_words) {
      words.push_back(a);
      continue;
    }
    rest.push_back(a);
    if (TakesGlobalValue(a) && i + 1 < args.size()) rest.push_back(args[++i]);
  }
  if (words.empty()) {
    for (const auto& a : rest) {
      if (a == "--help" || a == "-h") return Help(io, {});
    }
    PrintOverview(io.err, io.program);
    return 2;
  }
  if (words[0] == "help") return Help(io, {words.begin() + 1, words.end()});

  std::string name = words[0] + (words.size() > 1 ? " " + words[1] : "");
  const Command* command = FindCommand(name);
  if (!command && words.size() > 1) {
    // A group that is a command of its own too ("kaas quota payments"): the second word is
    // its argument.
    if (const Command* c = FindCommand(words[0]); c && c->max_args > 0) {
      command = c;
      rest.insert(rest.begin(), words[1]);
    }
  }
  if (!command && IsGroup(words[0])) {
    io.err << "error: "
           << (words.size() > 1 ? "unknown command 'kaas " + name + "'" : "missing subcommand")
           << "\n";
    PrintGroup(io.err, words[0]);
    return 2;
  }
  if (!command) {
    io.err << "error: unknown command '" << name << "'; run 'kaas --help'\n";
    return 2;
  }
  std::vector<FlagSpec> specs = command->flags;
  specs.insert(specs.end(), GlobalFlags().begin(), GlobalFlags().end());
  Env env(io, command->name);
  env.config_path = ConfigPath();
  auto parsed = ParseArgs(rest, specs);
  if (!parsed.ok()) return UsageError(env, parsed.status().message());
  env.args = std::move(parsed).value();
  if (env.args.Has("help")) {
    PrintCommandHelp(io.out, *command);
    return 0;
  }
  size_t n = env.args.positional.size();
  if (n < command->min_args || n > command->max_args) {
    if (n < command->min_args) return UsageError(env, "missing argument");
    return UsageError(env, "unexpected argument '" + env.args.positional[command->max_args] + "'");
  }
  std::string output = env.args.Get("output", "table");
  if (output != "json" && output != "table" && output != "text") {
    return UsageError(env, "--output must be table or json");
  }
  env.json = output == "json";

  auto config = LoadConfig(env.config_path);
  if (!config.ok()) return Fail(env, config.status().message());
  env.config = std::move(config).value();
  env.server = Trimmed(env.args.Get("server", env.config.server));
  if (env.server.empty()) env.server = kDefaultServer;
  if (!IsServerUrl(env.server)) {
    return UsageError(env, "server '" + env.server + "' is not a URL like http://host:port");
  }
  try {
    return command->run(env);
  } catch (const Json::exception& e) {
    // A reply whose shape differs from the contract this client was built against.
    return Fail(env, "unexpected reply from " + env.server + ": " + e.what());
  }
}

int Main(int argc, char** argv) {
  // A broken pipe (kaas clusters | head) must not kill us in the middle of an HTTP call.
  signal(SIGPIPE, SIG_IGN);
  Io io{std::cin, std::cout, std::cerr, isatty(STDOUT_FILENO) == 1, 80, isatty(STDIN_FILENO) == 1};
  winsize ws{};
  if (io.out_is_tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    io.terminal_width = ws.ws_col;
  }
  std::string invoked = argc > 0 ? argv[0] : "kaas";
  if (invoked.substr(invoked.rfind('/') + 1) == "kubectl-kaas") io.program = "kubectl kaas";
  std::vector<std::string> args(argv + 1, argv + argc);
  int code = Run(args, io);
  std::cout.flush();
  return code;
}

}  // namespace kaas::cli
