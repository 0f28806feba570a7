#pragma once

// The JSON views of kaas's records: every response body field is rendered here, once, so that
// the REST contract (DESIGN.md §3, docs/openapi.yaml) can be read in one file.

#include <nlohmann/json.hpp>
#include <string>

#include "kaas/auth/audit.h"
#include "kaas/auth/auth.h"
#include "kaas/lifecycle/catalog.h"
#include "kaas/lifecycle/cluster_queries.h"
#include "kaas/lifecycle/cluster_service.h"
#include "kaas/lifecycle/credentials.h"
#include "kaas/lifecycle/faults.h"
#include "kaas/lifecycle/reconciler.h"
#include "kaas/notify/webhooks.h"
#include "kaas/provisioner/inventory.h"
#include "kaas/quota/team_quotas.h"
#include "kaas/store/records.h"

namespace kaas::api {

using Json = nlohmann::json;

// {"items": [view(x) for each x of list]}: the shape of every list response.
template <typename List, typename View>
Json Items(const List& list, View view) {
  Json items = Json::array();
  for (const auto& x : list) items.push_back(view(x));
  return {{"items", items}};
}

// Accounts.
Json UserJson(const store::User& u);
// team_name: the deploy token's team ("" for other tokens).
Json TokenJson(const store::Token& t, const std::string& team_name);
// One item of GET /deploy-targets.
Json DeployTargetJson(const store::Cluster& c, const lifecycle::ClusterEndpoint& endpoint);
Json MeJson(const auth::Principal& p);
Json TeamJson(const store::Team& t);
Json MemberJson(const store::Membership& m);
Json AuditJson(const auth::AuditRecord& r);

// Quota.
Json LimitsJson(const quota::Limits& l);
Json UsageJson(const quota::Usage& u);
Json TeamQuotaJson(const std::string& team_name, const quota::TeamQuota& q);
Json QuotaRequestJson(const quota::QuotaRequestRecord& r);

// Webhooks (team_name "" = platform-wide: team null). The secret is never shown.
Json WebhookJson(const store::Webhook& w, const std::string& team_name);
Json DeliveryJson(const store::Delivery& d);

// Catalogs.
Json FlavorJson(const lifecycle::Flavor& f);
Json SizingRuleJson(const lifecycle::SizingRule& rule, const lifecycle::Flavor& master);

// Clusters and operations.
Json NodeJson(const store::Node& n);
Json OperationJson(const store::Operation& op);
Json ClusterJson(const store::Cluster& c, const std::string& team_name);
Json ClusterDetailJson(const lifecycle::ClusterDetail& d);
// {cluster (with nodes), operation}, plus dry_run: true for a dry run.
Json AdmittedJson(const lifecycle::Admitted& a, const std::string& team_name, bool dry_run);
std::string EventChunk(const store::Event& e);  // one server-sent event

// Inventory and faults.
Json HypervisorJson(const store::Hypervisor& hv);
Json HypervisorJson(const provisioner::HypervisorRecord& r);  // with what is used of it
Json HostJson(const store::Host& h);                          // with cluster_id
Json HostRecordJson(const store::Host& h);  // the 201 of POST /hosts: no cluster_id yet
Json OrphansJson(const lifecycle::OrphanReport& report);
Json FaultRuleJson(const lifecycle::FaultRule& f);

}  // namespace kaas::api
