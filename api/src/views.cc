#include "views.h"

#include "kaas/common/clock.h"
#include "kaas/common/strings.h"

namespace kaas::api {

Json UserJson(const store::User& u) {
  Json j = {{"username", u.username},
            {"is_admin", u.is_admin},
            {"created_at", FormatTime(u.created_at)},
            {"disabled", u.disabled_at != 0},
            {"source", u.source}};
  if (u.disabled_at != 0) j["disabled_at"] = FormatTime(u.disabled_at);
  return j;
}

Json TokenJson(const store::Token& t, const std::string& team_name) {
  Json out = {{"id", t.id},
              {"name", t.name},
              {"created_at", FormatTime(t.created_at)},
              {"expires_at", FormatTime(t.expires_at)}};
  if (!t.role.empty()) {
    out["role"] = t.role;
    out["team"] = team_name;
    out["selector"] = t.selector;
  }
  return out;
}

Json DeployTargetJson(const store::Cluster& c, const lifecycle::ClusterEndpoint& endpoint) {
  Json labels = Json::object();
  for (const auto& [key, value] : c.labels) labels[key] = value;
  return {{"cluster", {{"id", c.id}, {"name", c.name}, {"labels", labels}}},
          {"server", endpoint.server},
          {"certificate_authority", endpoint.certificate_authority}};
}

Json MeJson(const auth::Principal& p) {
  Json teams = Json::array();
  for (const auto& m : p.memberships) teams.push_back({{"name", m.team_name}, {"role", m.role}});
  return {{"username", p.username}, {"is_admin", p.is_admin}, {"teams", teams}};
}

Json TeamJson(const store::Team& t) {
  return {{"name", t.name}, {"created_at", FormatTime(t.created_at)}};
}

Json MemberJson(const store::Membership& m) { return {{"username", m.username}, {"role", m.role}}; }

Json AuditJson(const auth::AuditRecord& r) {
  const store::AuditEntry& e = r.entry;
  return {{"at", FormatTime(e.at)}, {"actor", e.actor},   {"team", r.team_name},
          {"action", e.action},     {"object", e.object}, {"remote_addr", e.remote_addr},
          {"status", e.status},     {"result", e.result}};
}

Json LimitsJson(const quota::Limits& l) {
  return {{"clusters", l.clusters},
          {"vcpus", l.vcpus},
          {"memory_gib", l.memory_gib},
          {"physical_hosts", l.physical_hosts}};
}

Json UsageJson(const quota::Usage& u) {
  return {{"clusters", u.clusters},
          {"vcpus", u.vcpus},
          {"memory_gib", u.memory_gib},
          {"physical_hosts", u.physical_hosts}};
}

Json TeamQuotaJson(const std::string& team_name, const quota::TeamQuota& q) {
  return {{"team", team_name}, {"limits", LimitsJson(q.limits)}, {"usage", UsageJson(q.usage)}};
}

Json QuotaRequestJson(const quota::QuotaRequestRecord& record) {
  const store::QuotaRequest& r = record.request;
  Json limits = Json::object();
  auto put = [&](const char* k, int64_t v) {
    if (v >= 0) limits[k] = v;  // -1: the request leaves this limit as it is
  };
  put("clusters", r.limits.clusters);
  put("vcpus", r.limits.vcpus);
  put("memory_gib", r.limits.memory_gib);
  put("physical_hosts", r.limits.physical_hosts);
  return {{"id", r.id},
          {"team", record.team_name},
          {"limits", limits},
          {"reason", r.reason},
          {"state", r.state},
          {"requested_by", r.requested_by},
          {"decided_by", r.decided_by},
          {"comment", r.comment},
          {"created_at", FormatTime(r.created_at)},
          {"decided_at", FormatTime(r.decided_at)}};
}

Json WebhookJson(const store::Webhook& w, const std::string& team_name) {
  Json events = Json::array();
  for (const auto& e : Split(w.events, ',')) events.push_back(e);
  return {{"id", w.id},
          {"team", team_name.empty() ? Json(nullptr) : Json(team_name)},
          {"url", w.url},
          {"format", w.format},
          {"events", events},
          {"signed", !w.secret.empty()},
          {"enabled", w.enabled},
          {"disabled_reason", w.disabled_reason},
          {"failing_since", FormatTime(w.failing_since)},
          {"created_by", w.created_by},
          {"created_at", FormatTime(w.created_at)}};
}

Json DeliveryJson(const store::Delivery& d) {
  return {{"id", d.id},
          {"event_id", d.event_id},
          {"type", d.type},
          {"attempt", d.attempt},
          {"at", FormatTime(d.at)},
          {"status_code", d.status_code ? Json(d.status_code) : Json(nullptr)},
          {"error", d.error},
          {"next_retry_at", FormatTime(d.next_retry_at)}};
}

Json FlavorJson(const lifecycle::Flavor& f) {
  return {{"name", f.name},
          {"kind", lifecycle::ToString(f.kind)},
          {"vcpus", f.vcpus},
          {"memory_gib", f.memory_gib}};
}

Json SizingRuleJson(const lifecycle::SizingRule& rule, const lifecycle::Flavor& master) {
  return {{"min_workers", rule.min_workers},
          {"max_workers", rule.max_workers},
          {"master_flavor", master.name},
          {"master_kind", lifecycle::ToString(master.kind)}};
}

Json NodeJson(const store::Node& n) {
  Json j = {{"name", n.name},
            {"role", n.role},
            {"kind", n.kind},
            {"flavor", n.flavor},
            {"state", n.state},
            {"vcpus", n.vcpus},
            {"memory_gib", n.memory_gib},
            {"address", n.address},
            {"kubernetes_version", n.kubernetes_version},
            {"health", n.health},
            {"health_reason", n.health_reason},
            {"unhealthy_since",
             n.unhealthy_since > 0 ? Json(FormatTime(n.unhealthy_since)) : Json(nullptr)}};
  if (lifecycle::KindOf(n) == lifecycle::NodeKind::kVm) {
    j["hypervisor"] = n.hypervisor;
  } else {
    j["host"] = n.host;
  }
  return j;
}

Json OperationJson(const store::Operation& op) {
  Json steps = Json::array();
  for (const auto& s : op.steps) {
    steps.push_back({{"name", s.name},
                     {"state", s.state},
                     {"message", s.message},
                     {"started_at", FormatTime(s.started_at)},
                     {"finished_at", FormatTime(s.finished_at)},
                     {"attempts", s.attempts}});
  }
  return {
      {"id", op.id},
      {"cluster_id", op.cluster_id},
      {"type", op.type},
      {"state", op.state},
      {"requested_by", op.requested_by},
      {"error", op.error},
      {"created_at", FormatTime(op.created_at)},
      {"updated_at", FormatTime(op.updated_at)},
      {"finished_at", FormatTime(op.finished_at)},
      {"progress", lifecycle::Progress(op)},
      {"cancel_requested", op.cancel_requested},
      {"lease", {{"owner", op.owner}, {"epoch", op.epoch}, {"until", FormatTime(op.lease_until)}}},
      {"steps", steps}};
}

Json ClusterJson(const store::Cluster& c, const std::string& team_name) {
  Json labels = Json::object();
  for (const auto& [key, value] : c.labels) labels[key] = value;
  return {{"id", c.id},
          {"name", c.name},
          {"team", team_name},
          {"purpose", c.purpose},
          {"kubernetes_version", c.kubernetes_version},
          {"status", c.status},
          {"status_reason", c.status_reason},
          {"masters",
           {{"count", c.master_count}, {"flavor", c.master_flavor}, {"kind", c.master_kind}}},
          {"workers",
           {{"count", c.worker_count}, {"kind", c.worker_kind}, {"flavor", c.worker_flavor}}},
          {"labels", labels},
          {"auto_repair", c.auto_repair != 0},
          {"created_by", c.created_by},
          {"created_at", FormatTime(c.created_at)},
          {"updated_at", FormatTime(c.updated_at)}};
}

namespace {

Json NodesJson(const std::vector<store::Node>& nodes) {
  Json list = Json::array();
  for (const auto& n : nodes) list.push_back(NodeJson(n));
  return list;
}

}  // namespace

Json ClusterDetailJson(const lifecycle::ClusterDetail& d) {
  Json out = ClusterJson(d.record.cluster, d.record.team_name);
  out["nodes"] = NodesJson(d.nodes);
  out["active_operation"] = d.active_operation.empty() ? Json(nullptr) : Json(d.active_operation);
  return out;
}

Json AdmittedJson(const lifecycle::Admitted& a, const std::string& team_name, bool dry_run) {
  Json cluster = ClusterJson(a.cluster, team_name);
  cluster["nodes"] = NodesJson(a.nodes);
  Json out = {{"cluster", cluster}, {"operation", OperationJson(a.operation)}};
  if (dry_run) out["dry_run"] = true;
  return out;
}

std::string EventChunk(const store::Event& e) {
  return "id: " + e.id + "\nevent: " + e.kind + "\ndata: " + e.data + "\n\n";
}

Json HypervisorJson(const store::Hypervisor& hv) {
  return {{"name", hv.name},
          {"uri", hv.uri},
          {"state", hv.state},
          {"vcpus", hv.vcpus},
          {"memory_gib", hv.memory_gib}};
}

Json HypervisorJson(const provisioner::HypervisorRecord& r) {
  Json out = HypervisorJson(r.hypervisor);
  out["used"] = {
      {"vcpus", r.used.vcpus}, {"memory_gib", r.used.memory_gib}, {"nodes", r.used.domains}};
  return out;
}

Json HostRecordJson(const store::Host& h) {
  Json labels = Json::parse(h.labels, nullptr, /*allow_exceptions=*/false);
  return {{"name", h.name},
          {"address", h.address},
          {"vcpus", h.vcpus},
          {"memory_gib", h.memory_gib},
          {"labels", labels.is_discarded() ? Json::object() : labels},
          {"state", h.state},
          {"host_key", h.host_key}};
}

Json HostJson(const store::Host& h) {
  Json out = HostRecordJson(h);
  out["cluster_id"] = h.cluster_id;
  return out;
}

Json OrphansJson(const lifecycle::OrphanReport& report) {
  Json domains = Json::array(), hosts = Json::array();
  for (const auto& d : report.domains) {
    domains.push_back({{"hypervisor", d.hypervisor},
                       {"domain", d.domain},
                       {"cluster_id", d.cluster_id},
                       {"node", d.node}});
  }
  for (const auto& h : report.hosts) {
    hosts.push_back({{"host", h.host}, {"cluster_id", h.cluster_id}});
  }
  return {{"domains", domains}, {"hosts", hosts}, {"unreachable", report.unreachable}};
}

Json FaultRuleJson(const lifecycle::FaultRule& f) {
  return {{"on", f.on},      {"match", f.match}, {"action", f.action},     {"code", f.code},
          {"nth", f.nth},    {"times", f.times}, {"delay_ms", f.delay_ms}, {"seen", f.seen},
          {"fired", f.fired}};
}

}  // namespace kaas::api
