#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kaas/api/client_address.h"
#include "kaas/auth/audit.h"
#include "kaas/auth/auth.h"
#include "kaas/auth/teams.h"
#include "kaas/common/clock.h"
#include "kaas/common/metrics.h"
#include "kaas/lifecycle/cluster_queries.h"
#include "kaas/lifecycle/cluster_service.h"
#include "kaas/lifecycle/credentials.h"
#include "kaas/lifecycle/engine.h"
#include "kaas/lifecycle/faults.h"
#include "kaas/lifecycle/reconciler.h"
#include "kaas/notify/webhooks.h"
#include "kaas/provisioner/inventory.h"
#include "kaas/quota/team_quotas.h"
#include "kaas/store/database.h"

namespace kaas::api {

// The domain services the handlers call; api/ itself reads and writes no table.
struct ApiDeps {
  store::Database& db;  // for /readyz only (ping, schema version)
  auth::AuthService& auth;
  auth::TeamService& teams;
  auth::AuditLog& audit;
  quota::TeamQuotas& quotas;
  provisioner::Inventory& inventory;
  lifecycle::ClusterService& clusters;
  lifecycle::ClusterQueries& queries;
  lifecycle::Engine& engine;
  lifecycle::CredentialService& credentials;
  lifecycle::Reconciler& reconciler;
  // Fault injection for tests and demos (GET/PUT /api/v1/faults); nullptr = disabled.
  lifecycle::FaultInjector* faults;
  const Clock& clock;
  // Where request metrics are recorded and what GET /metrics renders (with the database's
  // gauges, which the handler adds).
  metrics::Registry& metrics;
  notify::WebhookService& webhooks;
  // Extra /readyz checks by name (e.g. "ansible": the playbooks passed --syntax-check).
  std::map<std::string, std::function<Status()>> readiness_checks = {};
};

struct ApiOptions {
  size_t max_body_bytes = 1 << 20;  // larger bodies get 413 payload_too_large
  size_t http_threads = 32;
  // Server-sent event streams run outside the request threads; these bound how many.
  size_t max_event_streams_per_user = 8;
  size_t max_event_streams = 256;
  // The web portal's files (web/ in the source tree), served for GET requests outside /api/;
  // "" serves no portal.
  std::string web_dir;
  // PEM files: with both set kaasd serves HTTPS only (DESIGN.md §6.1); "" serves plain HTTP.
  std::string tls_cert;
  std::string tls_key;
  // Proxies whose X-Forwarded-For names the client (login throttling, audit); none by default.
  TrustedProxies trusted_proxies;
};

// Who may call a route at all. Finer, per-team decisions are made by auth::Authorizer inside
// the handler, once the object's team is known.
enum class Access { kAnyone, kUser, kPlatformAdmin };

struct RouteInfo {
  std::string method;
  std::string pattern;  // "/api/v1/clusters/{id}"
  Access access;
  // Audited although it is a GET (it hands out a credential); every other method always is.
  bool audit_get = false;
  // Open to deploy tokens (DESIGN.md §6.5); every other route answers them 403.
  bool deploy_token = false;
};

// The HTTP front of kaasd: the REST API v1 (DESIGN.md §3), health, metrics and the portal's
// static files (any GET no route matches, outside /api/). Every API route is
// in one table (route_table.cc, handlers in routes/); authentication and the coarse access check
// happen once, in the dispatcher, before any handler runs.
class ApiServer {
 public:
  ApiServer(ApiDeps deps, ApiOptions options);
  ~ApiServer();

  // Binds host:port (port 0 picks a free one). False when the address is taken, or when TLS
  // was asked for and the certificate or key could not be loaded.
  bool Bind(const std::string& host, int port);
  int port() const;
  // Serves until Stop(); blocks.
  void Serve();
  void Stop();

  // Every route, for documentation and the authorization test.
  static std::vector<RouteInfo> Routes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kaas::api
