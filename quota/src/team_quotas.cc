#include "kaas/quota/team_quotas.h"

#include <map>
#include <nlohmann/json.hpp>

#include "kaas/common/ids.h"
#include "kaas/notify/notify.h"
#include "kaas/store/repositories.h"

namespace kaas::quota {
namespace {

// A quota request stores -1 for a limit it leaves unchanged.
Limits ToRequested(const LimitsChange& c) {
  return {c.clusters.value_or(-1), c.vcpus.value_or(-1), c.memory_gib.value_or(-1),
          c.physical_hosts.value_or(-1)};
}

LimitsChange FromRequested(const Limits& l) {
  auto set = [](int64_t v) { return v >= 0 ? std::optional<int64_t>(v) : std::nullopt; };
  return {set(l.clusters), set(l.vcpus), set(l.memory_gib), set(l.physical_hosts)};
}

// What a quota request's webhooks are told (limits of -1 are unchanged ones).
notify::Notification RequestNotification(const std::string& type, const store::QuotaRequest& r,
                                         const std::string& actor, const std::string& comment) {
  nlohmann::json limits{{"clusters", r.limits.clusters},
                        {"vcpus", r.limits.vcpus},
                        {"memory_gib", r.limits.memory_gib},
                        {"physical_hosts", r.limits.physical_hosts}};
  return {type,
          r.team_id,
          "",
          "",
          "",
          actor,
          nlohmann::json{{"request", r.id},
                         {"state", r.state},
                         {"limits", limits},
                         {"reason", r.reason},
                         {"comment", comment}}
              .dump()};
}

}  // namespace

Limits Apply(Limits limits, const LimitsChange& change) {
  limits.clusters = change.clusters.value_or(limits.clusters);
  limits.vcpus = change.vcpus.value_or(limits.vcpus);
  limits.memory_gib = change.memory_gib.value_or(limits.memory_gib);
  limits.physical_hosts = change.physical_hosts.value_or(limits.physical_hosts);
  return limits;
}

Result<TeamQuota> TeamQuotas::Get(const std::string& team_id) {
  TeamQuota q;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    q.limits = quota_.LimitsOf(tx, team_id);
    q.usage = quota_.UsageOf(tx, team_id);
    return Status::Ok();
  }));
  return q;
}

Result<std::map<std::string, TeamQuota>> TeamQuotas::All() {
  std::map<std::string, TeamQuota> out;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    auto limits = store::quotas::ListAll(tx);
    auto usage = store::quotas::UsageByTeam(tx);
    for (const auto& team : store::teams::List(tx)) {
      TeamQuota& q = out[team.name];
      auto l = limits.find(team.id);
      q.limits = l != limits.end() ? l->second : quota_.defaults();
      auto u = usage.find(team.id);
      if (u != usage.end()) q.usage = u->second;
    }
    return Status::Ok();
  }));
  return out;
}

Result<TeamQuota> TeamQuotas::Set(const std::string& team_id, const LimitsChange& change) {
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    Limits limits = Apply(quota_.LimitsOf(tx, team_id), change);
    KAAS_RETURN_IF_ERROR(QuotaService::Validate(limits));
    store::quotas::Put(tx, team_id, limits, clock_.NowMs());
    return Status::Ok();
  }));
  return Get(team_id);
}

Result<QuotaRequestRecord> TeamQuotas::Request(const store::Team& team, const LimitsChange& change,
                                               const std::string& reason,
                                               const std::string& requested_by) {
  if (change.empty()) {
    return InvalidArgument("limits", "limits must be an object with at least one limit");
  }
  const std::pair<const char*, std::optional<int64_t>> values[] = {
      {"clusters", change.clusters},
      {"vcpus", change.vcpus},
      {"memory_gib", change.memory_gib},
      {"physical_hosts", change.physical_hosts}};
  for (const auto& [name, value] : values) {
    if (value && *value < 0) {
      std::string field = std::string("limits.") + name;
      return InvalidArgument(field, field + " must be an integer >= 0");
    }
  }
  if (reason.empty() || reason.size() > 2000) {
    return InvalidArgument("reason", "reason must be 1-2000 characters");
  }
  store::QuotaRequest r;
  r.id = NewId("qr");
  r.team_id = team.id;
  r.limits = ToRequested(change);
  r.reason = reason;
  r.state = "pending";
  r.requested_by = requested_by;
  r.created_at = clock_.NowMs();
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    store::quota_requests::Insert(tx, r);
    notify::Enqueue(tx, RequestNotification("quota_request.created", r, requested_by, ""),
                    r.created_at);
    return Status::Ok();
  }));
  return QuotaRequestRecord{r, team.name};
}

Result<std::vector<QuotaRequestRecord>> TeamQuotas::ListRequests(
    const std::string& state, const std::vector<std::string>& team_ids, bool all_teams) {
  if (!state.empty() && state != "pending" && state != "approved" && state != "rejected") {
    return InvalidArgument("state", "state must be pending, approved or rejected");
  }
  std::vector<QuotaRequestRecord> out;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    std::map<std::string, std::string> names;
    for (const auto& t : store::teams::List(tx)) names[t.id] = t.name;
    for (auto& r : store::quota_requests::List(tx, state, team_ids, all_teams)) {
      std::string team_name = names[r.team_id];
      out.push_back({std::move(r), std::move(team_name)});
    }
    return Status::Ok();
  }));
  return out;
}

Result<store::QuotaRequest> TeamQuotas::FindRequest(const std::string& id) {
  std::optional<store::QuotaRequest> r;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    r = store::quota_requests::Find(tx, id);
    return Status::Ok();
  }));
  if (!r) return NotFound("quota request " + id + " not found");
  return *r;
}

Result<QuotaRequestRecord> TeamQuotas::Decide(const std::string& id, Decision decision,
                                              const std::string& decided_by,
                                              const std::string& comment) {
  QuotaRequestRecord decided;
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    auto r = store::quota_requests::Find(tx, id);
    if (!r) return NotFound("quota request " + id + " not found");
    if (r->state != "pending") return Conflict("quota request " + id + " is already " + r->state);
    int64_t now = clock_.NowMs();
    bool approve = decision == Decision::kApprove;
    store::quota_requests::Decide(tx, id, approve ? "approved" : "rejected", decided_by, comment,
                                  now);
    if (approve) {
      Limits limits = Apply(quota_.LimitsOf(tx, r->team_id), FromRequested(r->limits));
      store::quotas::Put(tx, r->team_id, limits, now);
    }
    decided.request = *store::quota_requests::Find(tx, id);
    notify::Enqueue(
        tx,
        RequestNotification(approve ? "quota_request.approved" : "quota_request.rejected",
                            decided.request, decided_by, comment),
        now);
    auto team = store::teams::FindById(tx, r->team_id);
    decided.team_name = team ? team->name : "";
    return Status::Ok();
  }));
  return decided;
}

}  // namespace kaas::quota
