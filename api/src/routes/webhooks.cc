// Webhooks (DESIGN.md §6.4): a team's, managed by its admins; platform-wide ones, by platform
// admins (notify::WebhookService). A platform-wide webhook has no team: to anyone but a platform
// admin it does not exist.

#include "kaas/notify/notify.h"
#include "routes.h"

namespace kaas::api {
namespace {

using auth::Action;

Result<notify::WebhookRequest> ParseWebhook(Context& ctx, const std::string& team_id) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"url", "format", "events", "secret"}));
  notify::WebhookRequest r;
  r.team_id = team_id;
  r.created_by = ctx.principal.username;
  KAAS_ASSIGN_OR_RETURN(r.url, GetString(body, "url", true));
  KAAS_ASSIGN_OR_RETURN(r.format, GetString(body, "format", true));
  KAAS_ASSIGN_OR_RETURN(r.secret, GetString(body, "secret", false, 256));
  auto events = body.find("events");
  if (events == body.end() || !events->is_array()) {
    return InvalidArgument("events", "events must be an array of event types");
  }
  for (const auto& e : *events) {
    if (!e.is_string()) return InvalidArgument("events", "events must be an array of strings");
    r.events.push_back(e.get<std::string>());
  }
  return r;
}

// The webhook named by the path's {id}, if the caller may manage it; sets the audit fields.
Result<store::Webhook> WebhookFor(Context& ctx) {
  const std::string& id = ctx.params["id"];
  ctx.audit_object = id;
  auto found = ctx.deps.webhooks.Find(id);
  if (!found.ok()) return found.status();
  Status st = auth::Authorizer::Check(ctx.principal, Action::kManageTeam, found->team_id);
  if (st.code() == Code::kNotFound) return NotFound("webhook " + id + " not found");
  KAAS_RETURN_IF_ERROR(st);
  ctx.audit_team_id = found->team_id;
  return *found;
}

std::string TeamName(Context& ctx, const std::string& team_id) {
  if (team_id.empty()) return "";
  auto team = ctx.deps.teams.FindById(team_id);
  return team.ok() ? team->name : "";
}

}  // namespace

Result<Reply> CreateTeamWebhook(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kManageTeam));
  ctx.audit_team_id = team.id;
  KAAS_ASSIGN_OR_RETURN(notify::WebhookRequest request, ParseWebhook(ctx, team.id));
  KAAS_ASSIGN_OR_RETURN(store::Webhook w, ctx.deps.webhooks.Create(request));
  ctx.audit_object = w.id;
  return Reply{201, WebhookJson(w, team.name)};
}

Result<Reply> ListTeamWebhooks(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, TeamFor(ctx, ctx.params["team"], Action::kManageTeam));
  KAAS_ASSIGN_OR_RETURN(auto hooks, ctx.deps.webhooks.List(team.id));
  return Reply{200,
               Items(hooks, [&](const store::Webhook& w) { return WebhookJson(w, team.name); })};
}

Result<Reply> CreatePlatformWebhook(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(notify::WebhookRequest request, ParseWebhook(ctx, ""));
  KAAS_ASSIGN_OR_RETURN(store::Webhook w, ctx.deps.webhooks.Create(request));
  ctx.audit_object = w.id;
  return Reply{201, WebhookJson(w, "")};
}

Result<Reply> ListPlatformWebhooks(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto hooks, ctx.deps.webhooks.List(""));
  return Reply{200, Items(hooks, [](const store::Webhook& w) { return WebhookJson(w, ""); })};
}

Result<Reply> GetWebhook(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Webhook w, WebhookFor(ctx));
  return Reply{200, WebhookJson(w, TeamName(ctx, w.team_id))};
}

Result<Reply> DeleteWebhook(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Webhook w, WebhookFor(ctx));
  KAAS_RETURN_IF_ERROR(ctx.deps.webhooks.Delete(w.id));
  return Reply{204, nullptr};
}

Result<Reply> TestWebhook(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Webhook w, WebhookFor(ctx));
  KAAS_ASSIGN_OR_RETURN(std::string event_id, ctx.deps.webhooks.Test(w.id, ctx.principal.username));
  return Reply{202, Json{{"event_id", event_id}, {"type", notify::kWebhookTest}}};
}

Result<Reply> ListWebhookDeliveries(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Webhook w, WebhookFor(ctx));
  KAAS_ASSIGN_OR_RETURN(int64_t limit, ctx.QueryInt("limit", 100, 1, 1000));
  KAAS_ASSIGN_OR_RETURN(auto deliveries, ctx.deps.webhooks.Deliveries(w.id, limit));
  return Reply{200, Items(deliveries, DeliveryJson)};
}

}  // namespace kaas::api
