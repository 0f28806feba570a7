// Liveness, readiness and Prometheus metrics: open to anyone, for load balancers and scrapers.

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
  return Reply{ready ? 200 : 503, {{"status", ready ? "ready" : "not ready"}, {"checks", checks}}};
}

Result<Reply> Metrics(Context& ctx) {
  std::string out = RenderHttpMetrics();
  auto ops = ctx.deps.queries.OperationCounts();
  out += "# HELP kaas_operations Operations by type and state.\n# TYPE kaas_operations gauge\n";
  if (ops.ok()) {
    for (const auto& [key, n] : *ops) {
      out += "kaas_operations{type=\"" + key.first + "\",state=\"" + key.second + "\"} " +
             std::to_string(n) + "\n";
    }
  }
  out +=
      "# HELP kaas_engine_operations_in_flight Operations running in this process.\n"
      "# TYPE kaas_engine_operations_in_flight gauge\n"
      "kaas_engine_operations_in_flight " +
      std::to_string(ctx.deps.engine.InFlight()) + "\n";
  out +=
      "# HELP kaas_up Whether the database answered the metrics scrape.\n# TYPE kaas_up gauge\n"
      "kaas_up " +
      std::string(ops.ok() ? "1" : "0") + "\n";
  Reply r;
  r.raw = out;
  r.content_type = "text/plain; version=0.0.4";
  return r;
}

}  // namespace kaas::api
