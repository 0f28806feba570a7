// Liveness, readiness and Prometheus metrics: open to anyone, for load balancers and scrapers.

#include <chrono>

#include "routes.h"

namespace kaas::api {

Result<Reply> Healthz(Context&) { return Reply{200, {{"status", "ok"}}}; }

Result<Reply> Readyz(Context& ctx) {
  Status db = ctx.deps.db.Ping();
  auto version = ctx.deps.db.SchemaVersion();
  bool migrated = version.ok() && *version == store::Database::LatestSchemaVersion();
  bool engine = ctx.deps.engine.running();
  Json checks = {{"database", db.ok() ? "ok" : db.message()},
                 {"migrations", migrated ? "ok" : "pending"},
                 {"engine", engine ? "ok" : "stopped"}};
  bool ready = db.ok() && migrated && engine;
  for (const auto& [name, check] : ctx.deps.readiness_checks) {
    Status st = check();
    checks[name] = st.ok() ? "ok" : st.message();
    ready = ready && st.ok();
  }
  return Reply{ready ? 200 : 503,
               {{"status", ready ? "ready" : "not ready"},
                {"replica", ctx.deps.engine.replica_id()},
                {"checks", checks}}};
}

namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

// Gauges read from the database at scrape time: a fixed number of aggregate queries however
// many clusters there are (store::stats, quota::TeamQuotas::All, the inventory's lists).
// Returns false when the database did not answer.
bool DatabaseGauges(Context& ctx, metrics::Exposition& out) {
  const int64_t now = ctx.deps.clock.NowMs();
  auto stats = ctx.deps.queries.Stats();
  auto hypervisors = ctx.deps.inventory.ListHypervisors();
  auto quotas = ctx.deps.quotas.All();
  if (stats.ok()) {
    out.Family("kaas_operations", "Operations in the database by type and state.", "gauge");
    int64_t queued = 0;
    for (const auto& [key, n] : stats->operations) {
      out.Sample("kaas_operations", {{"type", key.first}, {"state", key.second}}, n);
      if (key.second == "pending") queued += n;
    }
    out.Family("kaas_operations_queued", "Operations waiting to start (pending).", "gauge");
    out.Sample("kaas_operations_queued", {}, queued);
    auto age = [now](int64_t since) { return since > 0 ? (now - since) / 1000.0 : 0.0; };
    out.Family("kaas_operation_oldest_pending_age_seconds",
               "Age of the oldest pending operation (0: none).", "gauge");
    out.Sample("kaas_operation_oldest_pending_age_seconds", {},
               age(stats->oldest_pending_created_at));
    out.Family("kaas_operation_oldest_running_age_seconds",
               "How long the longest-running operation has been running (0: none).", "gauge");
    out.Sample("kaas_operation_oldest_running_age_seconds", {}, age(stats->oldest_running_since));
    // Every status and state has a sample, 0 included: "no host available" is a value an
    // alert can compare, not a missing series.
    out.Family("kaas_clusters", "Clusters by status.", "gauge");
    auto clusters = stats->clusters_by_status;
    for (std::string_view status : lifecycle::EnumNames<lifecycle::ClusterStatus>::kNames) {
      clusters.try_emplace(std::string(status), 0);
    }
    for (const auto& [status, n] : clusters) out.Sample("kaas_clusters", {{"status", status}}, n);
    out.Family("kaas_hosts", "Physical hosts by state.", "gauge");
    auto hosts = stats->hosts_by_state;
    for (const char* state : {"available", "allocated", "wiping", "maintenance"}) {
      hosts.try_emplace(state, 0);
    }
    for (const auto& [state, n] : hosts) out.Sample("kaas_hosts", {{"state", state}}, n);
  }
  if (hypervisors.ok()) {
    out.Family("kaas_hypervisor_vcpus", "vCPU capacity of a hypervisor.", "gauge");
    for (const auto& h : *hypervisors) {
      out.Sample("kaas_hypervisor_vcpus",
                 {{"hypervisor", h.hypervisor.name}, {"state", h.hypervisor.state}},
                 h.hypervisor.vcpus);
    }
    out.Family("kaas_hypervisor_vcpus_allocated",
               "vCPUs of the live nodes placed on a hypervisor (reserved ones included).", "gauge");
    for (const auto& h : *hypervisors) {
      out.Sample("kaas_hypervisor_vcpus_allocated", {{"hypervisor", h.hypervisor.name}},
                 h.used.vcpus);
    }
    out.Family("kaas_hypervisor_memory_bytes", "Memory capacity of a hypervisor.", "gauge");
    for (const auto& h : *hypervisors) {
      out.Sample("kaas_hypervisor_memory_bytes",
                 {{"hypervisor", h.hypervisor.name}, {"state", h.hypervisor.state}},
                 h.hypervisor.memory_gib * kGiB);
    }
    out.Family("kaas_hypervisor_memory_allocated_bytes",
               "Memory of the live nodes placed on a hypervisor.", "gauge");
    for (const auto& h : *hypervisors) {
      out.Sample("kaas_hypervisor_memory_allocated_bytes", {{"hypervisor", h.hypervisor.name}},
                 h.used.memory_gib * kGiB);
    }
  }
  if (quotas.ok()) {
    // memory in bytes (base units); the API's memory_gib times 2^30.
    auto resources = [](const quota::Limits& l) {
      return std::vector<std::pair<std::string, double>>{
          {"clusters", static_cast<double>(l.clusters)},
          {"vcpus", static_cast<double>(l.vcpus)},
          {"memory_bytes", l.memory_gib * kGiB},
          {"physical_hosts", static_cast<double>(l.physical_hosts)}};
    };
    out.Family("kaas_quota_limit", "A team's quota limit by resource.", "gauge");
    for (const auto& [team, q] : *quotas) {
      for (const auto& [resource, v] : resources(q.limits)) {
        out.Sample("kaas_quota_limit", {{"team", team}, {"resource", resource}}, v);
      }
    }
    out.Family("kaas_quota_usage", "A team's quota usage by resource.", "gauge");
    for (const auto& [team, q] : *quotas) {
      quota::Limits used{q.usage.clusters, q.usage.vcpus, q.usage.memory_gib,
                         q.usage.physical_hosts};
      for (const auto& [resource, v] : resources(used)) {
        out.Sample("kaas_quota_usage", {{"team", team}, {"resource", resource}}, v);
      }
    }
  }
  return stats.ok() && hypervisors.ok() && quotas.ok();
}

}  // namespace

Result<Reply> Metrics(Context& ctx) {
  auto start = std::chrono::steady_clock::now();
  metrics::Exposition out;
  out.Append(ctx.deps.metrics.Render());
  bool db_ok = DatabaseGauges(ctx, out);
  out.Family("kaas_engine_operations_in_flight", "Operations running in this process.", "gauge");
  out.Sample("kaas_engine_operations_in_flight", {},
             static_cast<double>(ctx.deps.engine.InFlight()));
  if (auto pending = ctx.deps.webhooks.Pending(); pending.ok()) {
    out.Family("kaas_webhook_outbox_pending", "Notifications not yet delivered (all webhooks).",
               "gauge");
    out.Sample("kaas_webhook_outbox_pending", {}, static_cast<double>(*pending));
  }
  const store::DatabaseHealth health = ctx.deps.db.health();
  const store::PoolStats pool = ctx.deps.db.pool_stats();
  out.Family("kaas_up", "Whether the database answered this scrape's queries.", "gauge");
  out.Sample("kaas_up", {}, db_ok ? 1 : 0);
  out.Family("kaas_database_up",
             "Whether the database answers (0 during an outage, as /readyz says).", "gauge");
  out.Sample("kaas_database_up", {}, db_ok && health.available ? 1 : 0);
  out.Family("kaas_database_outages_total", "Database outages since kaasd started.", "counter");
  out.Sample("kaas_database_outages_total", {}, static_cast<double>(health.outages));
  out.Family("kaas_db_pool_connections", "Database sessions in the pool.", "gauge");
  out.Sample("kaas_db_pool_connections", {}, static_cast<double>(pool.size));
  out.Family("kaas_db_pool_in_use", "Database sessions in use.", "gauge");
  out.Sample("kaas_db_pool_in_use", {}, static_cast<double>(pool.in_use));
  out.Family("kaas_db_pool_acquisitions_total", "Database sessions taken from the pool.",
             "counter");
  out.Sample("kaas_db_pool_acquisitions_total", {}, static_cast<double>(pool.acquisitions));
  out.Family("kaas_db_pool_waits_total", "Times a request had to wait for a free database session.",
             "counter");
  out.Sample("kaas_db_pool_waits_total", {}, static_cast<double>(pool.waits));
  out.Family("kaas_db_pool_wait_seconds_total", "Time spent waiting for a free database session.",
             "counter");
  out.Sample("kaas_db_pool_wait_seconds_total", {}, pool.wait_seconds);
  out.Family("kaas_build_info", "kaasd's version and database kind; always 1.", "gauge");
  out.Sample(
      "kaas_build_info",
      {{"version", KAAS_VERSION}, {"database", ctx.deps.db.sqlite() ? "sqlite" : "postgresql"}}, 1);
  out.Family("kaas_metrics_collect_seconds", "Time this scrape took to collect its metrics.",
             "gauge");
  out.Sample("kaas_metrics_collect_seconds", {},
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  Reply r;
  r.raw = out.text();
  r.content_type = "text/plain; version=0.0.4";
  return r;
}

}  // namespace kaas::api
