// A team's limits and quota requests (quota::TeamQuotas).

#include "routes.h"

namespace kaas::api {
namespace {

using auth::Action;

std::optional<int64_t>* Slot(quota::LimitsChange& change, const std::string& key) {
  return key == "clusters"         ? &change.clusters
         : key == "vcpus"          ? &change.vcpus
         : key == "memory_gib"     ? &change.memory_gib
         : key == "physical_hosts" ? &change.physical_hosts
                                   : nullptr;
}

// PUT /quota's limits: unknown keys first, then each limit's type; null or absent = unchanged.
Result<quota::LimitsChange> ParseNewLimits(const Json& limits) {
  quota::LimitsChange change;
  for (const auto& [key, value] : limits.items()) {
    if (!Slot(change, key)) return InvalidArgument("limits." + key, "unknown field limits." + key);
  }
  for (const char* key : {"clusters", "vcpus", "memory_gib", "physical_hosts"}) {
    auto it = limits.find(key);
    if (it == limits.end() || it->is_null()) continue;
    KAAS_ASSIGN_OR_RETURN(int64_t v, GetInt(limits, key, true, 0, "limits."));
    *Slot(change, key) = v;
  }
  return change;
}

// A quota request's limits: every key a known limit with an integer (the service checks >= 0).
Result<quota::LimitsChange> ParseRequestedLimits(const Json& limits) {
  quota::LimitsChange change;
  for (const auto& [key, value] : limits.items()) {
    std::optional<int64_t>* slot = Slot(change, key);
    std::string field = "limits." + key;
    if (!slot) return InvalidArgument(field, "unknown field " + field);
    if (!value.is_number_integer())
      return InvalidArgument(field, field + " must be an integer >= 0");
    *slot = value.get<int64_t>();
  }
  return change;
}

Result<Reply> Decide(Context& ctx, quota::Decision decision) {
  const std::string& id = ctx.params["id"];
  ctx.audit_object = id;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body.empty() ? "{}" : ctx.body, {"comment"}));
  KAAS_ASSIGN_OR_RETURN(std::string comment, GetText(body, "comment", false));
  KAAS_ASSIGN_OR_RETURN(store::QuotaRequest request, ctx.deps.quotas.FindRequest(id));
  ctx.audit_team_id = request.team_id;
  KAAS_ASSIGN_OR_RETURN(auto decided,
                        ctx.deps.quotas.Decide(id, decision, ctx.principal.username, comment));
  return Reply{200, QuotaRequestJson(decided)};
}

}  // namespace

Result<Reply> GetQuota(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kRead));
  KAAS_ASSIGN_OR_RETURN(quota::TeamQuota q, ctx.deps.quotas.Get(team.id));
  return Reply{200, TeamQuotaJson(team.name, q)};
}

Result<Reply> PutQuota(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kPlatformAdmin));
  ctx.audit_team_id = team.id;
  ctx.audit_object = team.name;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"limits"}));
  auto it = body.find("limits");
  if (it == body.end() || !it->is_object()) {
    return InvalidArgument("limits", "limits must be an object");
  }
  KAAS_ASSIGN_OR_RETURN(quota::LimitsChange change, ParseNewLimits(*it));
  KAAS_ASSIGN_OR_RETURN(quota::TeamQuota q, ctx.deps.quotas.Set(team.id, change));
  return Reply{200, TeamQuotaJson(team.name, q)};
}

Result<Reply> CreateQuotaRequest(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kOperate));
  ctx.audit_team_id = team.id;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"limits", "reason"}));
  auto it = body.find("limits");
  if (it == body.end() || !it->is_object() || it->empty()) {
    return InvalidArgument("limits", "limits must be an object with at least one limit");
  }
  KAAS_ASSIGN_OR_RETURN(quota::LimitsChange change, ParseRequestedLimits(*it));
  KAAS_ASSIGN_OR_RETURN(std::string reason, GetText(body, "reason", true));
  KAAS_ASSIGN_OR_RETURN(auto created,
                        ctx.deps.quotas.Request(team, change, reason, ctx.principal.username));
  ctx.audit_object = created.request.id;
  return Reply{201, QuotaRequestJson(created)};
}

Result<Reply> ListQuotaRequests(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto requests,
                        ctx.deps.quotas.ListRequests(ctx.Query("state"), ctx.principal.TeamIds(),
                                                     ctx.principal.is_admin));
  return Reply{200, Items(requests, QuotaRequestJson)};
}

Result<Reply> ApproveQuotaRequest(Context& ctx) { return Decide(ctx, quota::Decision::kApprove); }
Result<Reply> RejectQuotaRequest(Context& ctx) { return Decide(ctx, quota::Decision::kReject); }

}  // namespace kaas::api
