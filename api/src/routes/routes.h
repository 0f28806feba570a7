#pragma once

// Internal to api/: the handlers of the route table (route_table.cc), one file per resource
// in this folder. A handler parses and validates the request, finds the object's team and
// asks auth::Authorizer (the helpers below), calls one domain service, and renders the answer
// with views.h. Rules about the data live in the services, not here.

#include "../http.h"
#include "../views.h"

namespace kaas::api {

// ---- tenancy: find an object's team, then let auth::Authorizer decide (access.cc) ----
// Unknown objects and those of teams the caller is not in are both kNotFound.
Result<store::Team> TeamFor(Context& ctx, const std::string& name, auth::Action action);
Result<lifecycle::ClusterRecord> ClusterFor(Context& ctx, const std::string& id,
                                            auth::Action action);
// The operation named by the path's {id}; sets the audit team and object.
Result<store::Operation> OperationFor(Context& ctx, auth::Action action);

// ---- auth.cc: sessions, the caller, users, API tokens ----
Result<Reply> Login(Context& ctx);
Result<Reply> Logout(Context& ctx);
Result<Reply> Me(Context& ctx);
Result<Reply> CreateUser(Context& ctx);
Result<Reply> ListUsers(Context& ctx);
Result<Reply> PatchUser(Context& ctx);
Result<Reply> PutPassword(Context& ctx);
Result<Reply> CreateToken(Context& ctx);
Result<Reply> ListTokens(Context& ctx);
Result<Reply> DeleteToken(Context& ctx);

// ---- teams.cc: teams, members, the audit log ----
Result<Reply> CreateTeam(Context& ctx);
Result<Reply> ListTeams(Context& ctx);
Result<Reply> ListMembers(Context& ctx);
Result<Reply> PutMember(Context& ctx);
Result<Reply> DeleteMember(Context& ctx);
Result<Reply> ListAudit(Context& ctx);

// ---- quota.cc: limits and quota requests ----
Result<Reply> GetQuota(Context& ctx);
Result<Reply> PutQuota(Context& ctx);
Result<Reply> CreateQuotaRequest(Context& ctx);
Result<Reply> ListQuotaRequests(Context& ctx);
Result<Reply> ApproveQuotaRequest(Context& ctx);
Result<Reply> RejectQuotaRequest(Context& ctx);

// ---- webhooks.cc: team and platform-wide webhooks, their tests and delivery logs ----
Result<Reply> CreateTeamWebhook(Context& ctx);
Result<Reply> ListTeamWebhooks(Context& ctx);
Result<Reply> CreatePlatformWebhook(Context& ctx);
Result<Reply> ListPlatformWebhooks(Context& ctx);
Result<Reply> GetWebhook(Context& ctx);
Result<Reply> DeleteWebhook(Context& ctx);
Result<Reply> TestWebhook(Context& ctx);
Result<Reply> ListWebhookDeliveries(Context& ctx);

// ---- clusters.cc: catalogs, clusters, their changes, kubeconfig, events ----
Result<Reply> Versions(Context& ctx);
Result<Reply> Flavors(Context& ctx);
Result<Reply> CreateCluster(Context& ctx);
Result<Reply> ListClusters(Context& ctx);
Result<Reply> GetCluster(Context& ctx);
Result<Reply> PatchCluster(Context& ctx);
Result<Reply> DeleteCluster(Context& ctx);
Result<Reply> ScaleWorkers(Context& ctx);
Result<Reply> ChangeMasters(Context& ctx);
Result<Reply> RepairNode(Context& ctx);
Result<Reply> UpgradeCluster(Context& ctx);
Result<Reply> GetKubeconfig(Context& ctx);
// The clusters a deploy token may deploy to, with their API server and CA (deploy tokens only).
Result<Reply> DeployTargets(Context& ctx);
Result<Reply> ClusterEvents(Context& ctx);

// ---- operations.cc ----
Result<Reply> ListClusterOperations(Context& ctx);
Result<Reply> GetOperation(Context& ctx);
Result<Reply> CancelOperation(Context& ctx);
Result<Reply> RetryOperation(Context& ctx);

// ---- inventory.cc: hypervisors, physical hosts, orphans ----
Result<Reply> ListHypervisors(Context& ctx);
Result<Reply> CreateHypervisor(Context& ctx);
Result<Reply> UpdateHypervisor(Context& ctx);
Result<Reply> DeleteHypervisor(Context& ctx);
Result<Reply> ListHosts(Context& ctx);
Result<Reply> CreateHost(Context& ctx);
Result<Reply> UpdateHost(Context& ctx);
Result<Reply> DeleteHost(Context& ctx);
Result<Reply> ListOrphans(Context& ctx);

// ---- health.cc: liveness, readiness, Prometheus metrics ----
Result<Reply> Healthz(Context& ctx);
Result<Reply> Readyz(Context& ctx);
Result<Reply> Metrics(Context& ctx);

// ---- faults.cc: fault injection (404 unless kaasd runs with it) ----
Result<Reply> GetFaults(Context& ctx);
Result<Reply> PutFaults(Context& ctx);

}  // namespace kaas::api
