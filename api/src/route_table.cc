// The one route table: every API route with its coarse access level. Authentication and the
// audit entry are done once, by the dispatcher (server.cc); handlers are in routes/.

#include "routes/routes.h"

namespace kaas::api {

const std::vector<Route>& RouteTable() {
  static const std::vector<Route> kRoutes = {
      {{"POST", "/api/v1/auth/login", Access::kAnyone}, Login},
      {{"POST", "/api/v1/auth/logout", Access::kUser}, Logout},
      {{"GET", "/api/v1/me", Access::kUser}, Me},
      {{"POST", "/api/v1/users", Access::kPlatformAdmin}, CreateUser},
      {{"GET", "/api/v1/users", Access::kPlatformAdmin}, ListUsers},
      {{"POST", "/api/v1/tokens", Access::kUser}, CreateToken},
      {{"GET", "/api/v1/tokens", Access::kUser}, ListTokens},
      {{"DELETE", "/api/v1/tokens/{id}", Access::kUser}, DeleteToken},
      {{"POST", "/api/v1/teams", Access::kPlatformAdmin}, CreateTeam},
      {{"GET", "/api/v1/teams", Access::kUser}, ListTeams},
      {{"GET", "/api/v1/teams/{team}/quota", Access::kUser}, GetQuota},
      {{"PUT", "/api/v1/teams/{team}/quota", Access::kPlatformAdmin}, PutQuota},
      {{"GET", "/api/v1/teams/{team}/members", Access::kUser}, ListMembers},
      {{"PUT", "/api/v1/teams/{team}/members/{username}", Access::kUser}, PutMember},
      {{"DELETE", "/api/v1/teams/{team}/members/{username}", Access::kUser}, DeleteMember},
      {{"GET", "/api/v1/versions", Access::kUser}, Versions},
      {{"GET", "/api/v1/flavors", Access::kUser}, Flavors},
      {{"POST", "/api/v1/clusters", Access::kUser}, CreateCluster},
      {{"GET", "/api/v1/clusters", Access::kUser}, ListClusters},
      {{"GET", "/api/v1/clusters/{id}", Access::kUser}, GetCluster},
      {{"PATCH", "/api/v1/clusters/{id}", Access::kUser}, PatchCluster},
      {{"DELETE", "/api/v1/clusters/{id}", Access::kUser}, DeleteCluster},
      {{"GET", "/api/v1/clusters/{id}/operations", Access::kUser}, ListClusterOperations},
      {{"GET", "/api/v1/clusters/{id}/kubeconfig", Access::kUser}, GetKubeconfig},
      {{"GET", "/api/v1/clusters/{id}/events", Access::kUser}, ClusterEvents},
      {{"POST", "/api/v1/clusters/{id}/workers", Access::kUser}, ScaleWorkers},
      {{"POST", "/api/v1/clusters/{id}/masters", Access::kUser}, ChangeMasters},
      {{"POST", "/api/v1/clusters/{id}/nodes/{name}/repair", Access::kUser}, RepairNode},
      {{"POST", "/api/v1/clusters/{id}/upgrade", Access::kUser}, UpgradeCluster},
      {{"POST", "/api/v1/operations/{id}/cancel", Access::kUser}, CancelOperation},
      {{"POST", "/api/v1/operations/{id}/retry", Access::kUser}, RetryOperation},
      {{"GET", "/api/v1/faults", Access::kPlatformAdmin}, GetFaults},
      {{"PUT", "/api/v1/faults", Access::kPlatformAdmin}, PutFaults},
      {{"GET", "/api/v1/operations/{id}", Access::kUser}, GetOperation},
      {{"GET", "/api/v1/hypervisors", Access::kPlatformAdmin}, ListHypervisors},
      {{"POST", "/api/v1/hypervisors", Access::kPlatformAdmin}, CreateHypervisor},
      {{"PUT", "/api/v1/hypervisors/{name}", Access::kPlatformAdmin}, UpdateHypervisor},
      {{"DELETE", "/api/v1/hypervisors/{name}", Access::kPlatformAdmin}, DeleteHypervisor},
      {{"GET", "/api/v1/hosts", Access::kPlatformAdmin}, ListHosts},
      {{"POST", "/api/v1/hosts", Access::kPlatformAdmin}, CreateHost},
      {{"PUT", "/api/v1/hosts/{name}", Access::kPlatformAdmin}, UpdateHost},
      {{"DELETE", "/api/v1/hosts/{name}", Access::kPlatformAdmin}, DeleteHost},
      {{"GET", "/api/v1/inventory/orphans", Access::kPlatformAdmin}, ListOrphans},
      {{"POST", "/api/v1/teams/{team}/quota-requests", Access::kUser}, CreateQuotaRequest},
      {{"GET", "/api/v1/quota-requests", Access::kUser}, ListQuotaRequests},
      {{"POST", "/api/v1/quota-requests/{id}/approve", Access::kPlatformAdmin},
       ApproveQuotaRequest},
      {{"POST", "/api/v1/quota-requests/{id}/reject", Access::kPlatformAdmin}, RejectQuotaRequest},
      {{"GET", "/api/v1/audit", Access::kUser}, ListAudit},
      {{"POST", "/api/v1/teams/{team}/webhooks", Access::kUser}, CreateTeamWebhook},
      {{"GET", "/api/v1/teams/{team}/webhooks", Access::kUser}, ListTeamWebhooks},
      {{"POST", "/api/v1/webhooks", Access::kPlatformAdmin}, CreatePlatformWebhook},
      {{"GET", "/api/v1/webhooks", Access::kPlatformAdmin}, ListPlatformWebhooks},
      {{"GET", "/api/v1/webhooks/{id}", Access::kUser}, GetWebhook},
      {{"DELETE", "/api/v1/webhooks/{id}", Access::kUser}, DeleteWebhook},
      {{"POST", "/api/v1/webhooks/{id}/test", Access::kUser}, TestWebhook},
      {{"GET", "/api/v1/webhooks/{id}/deliveries", Access::kUser}, ListWebhookDeliveries},
      {{"GET", "/healthz", Access::kAnyone}, Healthz},
      {{"GET", "/readyz", Access::kAnyone}, Readyz},
      {{"GET", "/metrics", Access::kAnyone}, Metrics},
  };
  return kRoutes;
}

}  // namespace kaas::api
