#pragma once

// What every command sees, and the commands themselves; cli.cc holds the table that maps
// command lines to them.

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "client.h"
#include "kaas/cli/args.h"
#include "kaas/cli/cli.h"
#include "kaas/cli/config.h"

namespace kaas::cli {

inline constexpr const char* kDefaultServer = "http://127.0.0.1:8080";

struct Env {
  Env(Io& io, std::string command) : io(io), command(std::move(command)) {}

  Io& io;
  std::string command;  // "cluster create", for messages
  ParsedArgs args;
  std::string config_path;
  ClientConfig config;
  std::string server;  // --server, else the logged-in server, else kDefaultServer
  bool json = false;   // --output json: print the API's JSON instead of tables

  // The client for `server`. The saved token goes only to the server it was issued by.
  ApiClient& Api();

 private:
  std::unique_ptr<ApiClient> api_;
};

// Prints `error: <message> (<code>)` and what the details add (the field of an
// invalid_argument, each exceeded resource of a quota refusal, how to log in after a 401);
// returns exit code 1.
int Fail(Env& env, const ApiError& error);
int Fail(Env& env, const std::string& message);

// Prints the usage error and where to read more; returns exit code 2.
int UsageError(Env& env, const std::string& message);

void PrintJson(Env& env, const Json& body);

// The answer of a list call (`{items: [...]}`): its error, the JSON as is with `-o json`,
// `empty` when there are no items, else a table of `header` and `row(item)` per item.
// Returns the exit code.
int PrintList(Env& env, const ApiResult& r, const std::string& empty,
              std::vector<std::string> header,
              const std::function<std::vector<std::string>(const Json&)>& row);

// Follows operation `id` until it finishes, drawing its steps and progress as they change:
// through the server-sent events of its cluster, else by polling it every 300 ms. Returns 0
// when it succeeded, 1 when it failed or was cancelled (after printing why).
int WatchOperation(Env& env, const std::string& id);

// Nodes as a table: NAME ROLE KIND PLACEMENT VCPU MEM, and STATE when `with_state`.
std::string NodeTable(const Json& nodes, bool with_state);

// "3×m.small" for a {count, flavor, kind} object.
std::string CountTimesFlavor(const Json& group);

// Every cluster visible to the caller, following next_cursor: of `team` and matching the label
// `selector` when they are not empty.
ApiResult ListAllClusters(Env& env, const std::string& team, const std::string& selector = "");

// "env=prod,tier=web" for a cluster's labels object; "" when it has none.
std::string LabelsText(const Json& cluster);

// The cluster `ref` names, as GET /clusters/{id} returns it (nodes included). `ref` is an id,
// or a name that must be unique among the caller's clusters, or within --team when given.
ApiResult ResolveCluster(Env& env, const std::string& ref);

// The password for `what` ("alice at http://h:1"): all of stdin with --password-stdin, else
// typed at the terminal without echo (twice when `confirm`). A usage error's message when
// there is no way to ask or the two typings differ.
Result<std::string> ReadPassword(Env& env, const std::string& what, bool confirm);

// The ids among `clusters` (list items) of the cluster kubectl's current context points at,
// when `kaas use` made that context: empty when there is none or it is someone else's.
std::set<std::string> CurrentClusterIds(Env& env, const Json& clusters);

// session.cc
int CmdLogin(Env& env);
int CmdLogout(Env& env);
int CmdWhoami(Env& env);
// clusters.cc
int CmdClusters(Env& env);
int CmdClusterCreate(Env& env);
int CmdClusterShow(Env& env);
int CmdClusterLabel(Env& env);
// changes.cc
int CmdClusterScale(Env& env);
int CmdClusterResizeMasters(Env& env);
int CmdClusterUpgrade(Env& env);
int CmdClusterRepair(Env& env);
int CmdClusterDelete(Env& env);
// contexts.cc
int CmdKubeconfig(Env& env);
int CmdCredential(Env& env);
int CmdUse(Env& env);
// accounts.cc
int CmdTokenCreate(Env& env);
int CmdTokenList(Env& env);
int CmdTokenRevoke(Env& env);
int CmdDeployTargets(Env& env);
int CmdUsers(Env& env);
int CmdUserCreate(Env& env);
int CmdUserDisable(Env& env);
int CmdUserEnable(Env& env);
int CmdPasswd(Env& env);
int CmdTeamMembers(Env& env);
int CmdTeamAddMember(Env& env);
int CmdTeamRemoveMember(Env& env);
int CmdAudit(Env& env);
// operations.cc
int CmdOperationShow(Env& env);
int CmdOperationCancel(Env& env);
int CmdOperationRetry(Env& env);
int CmdOperations(Env& env);
// catalog.cc
int CmdVersions(Env& env);
int CmdFlavors(Env& env);
int CmdTeams(Env& env);
int CmdTeamCreate(Env& env);
// quota.cc
int CmdQuota(Env& env);
int CmdQuotaRequest(Env& env);
int CmdQuotaRequests(Env& env);
int CmdQuotaApprove(Env& env);
int CmdQuotaReject(Env& env);
// inventory.cc
int CmdHypervisors(Env& env);
int CmdHypervisorAdd(Env& env);
int CmdHypervisorDrain(Env& env);
int CmdHypervisorActivate(Env& env);
int CmdHypervisorRemove(Env& env);
int CmdHosts(Env& env);
int CmdHostAdd(Env& env);
int CmdHostMaintenance(Env& env);
int CmdHostAvailable(Env& env);
int CmdHostRemove(Env& env);
int CmdHostKey(Env& env);
int CmdOrphans(Env& env);
// webhooks.cc
int CmdWebhookAdd(Env& env);
int CmdWebhookList(Env& env);
int CmdWebhookRemove(Env& env);
int CmdWebhookTest(Env& env);
int CmdWebhookDeliveries(Env& env);

}  // namespace kaas::cli
