#include "kaas/notify/webhooks.h"

#include "kaas/common/ids.h"
#include "kaas/common/text.h"
#include "kaas/notify/notify.h"
#include "kaas/store/repositories.h"

namespace kaas::notify {
namespace {

constexpr size_t kMaxSecretBytes = 256;

}  // namespace

Result<store::Webhook> WebhookService::Create(const WebhookRequest& r) {
  if (r.url.empty()) return InvalidArgument("url", "url is required");
  KAAS_RETURN_IF_ERROR(CheckText("url", r.url, kMaxTextBytes));
  KAAS_RETURN_IF_ERROR(CheckTarget(r.url, allow_loopback_));
  if (r.format != "slack" && r.format != "json") {
    return InvalidArgument("format", "format must be slack or json");
  }
  if (r.events.empty()) return InvalidArgument("events", "events must name at least one event");
  std::string events;
  for (const auto& e : r.events) {
    if (!IsEventType(e)) return InvalidArgument("events", "unknown event type '" + e + "'");
    if ((',' + events + ',').find(',' + e + ',') != std::string::npos) continue;
    events += (events.empty() ? "" : ",") + e;
  }
  KAAS_RETURN_IF_ERROR(CheckText("secret", r.secret, kMaxSecretBytes));
  std::string sealed;
  if (!r.secret.empty()) {
    KAAS_ASSIGN_OR_RETURN(sealed, box_.Seal(r.secret));
  }
  store::Webhook w{NewId("wh"), r.team_id, r.url, r.format,     events,        sealed,
                   true,        "",        0,     r.created_by, clock_.NowMs()};
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    store::webhooks::Insert(tx, w);
    return Status::Ok();
  }));
  return w;
}

Result<std::vector<store::Webhook>> WebhookService::List(const std::string& team_id) {
  std::vector<store::Webhook> out;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    out = store::webhooks::ListForTeam(tx, team_id);
    return Status::Ok();
  }));
  return out;
}

Result<store::Webhook> WebhookService::Find(const std::string& id) {
  std::optional<store::Webhook> w;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    w = store::webhooks::Find(tx, id);
    return Status::Ok();
  }));
  if (!w) return NotFound("webhook " + id + " not found");
  return *w;
}

Status WebhookService::Delete(const std::string& id) {
  return db_.Write([&](store::Tx& tx) {
    if (!store::webhooks::Find(tx, id)) return NotFound("webhook " + id + " not found");
    store::webhooks::Delete(tx, id);
    return Status::Ok();
  });
}

Result<std::string> WebhookService::Test(const std::string& id, const std::string& actor) {
  std::string event_id;
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    auto w = store::webhooks::Find(tx, id);
    if (!w) return NotFound("webhook " + id + " not found");
    Notification n{kWebhookTest, w->team_id, "", "", "", actor, "{}"};
    event_id = EnqueueFor(tx, id, n, clock_.NowMs());
    return Status::Ok();
  }));
  return event_id;
}

Result<int64_t> WebhookService::Pending() {
  int64_t n = 0;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    n = store::outbox::CountPending(tx);
    return Status::Ok();
  }));
  return n;
}

Result<std::vector<store::Delivery>> WebhookService::Deliveries(const std::string& id,
                                                                int64_t limit) {
  std::vector<store::Delivery> out;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    if (!store::webhooks::Find(tx, id)) return NotFound("webhook " + id + " not found");
    out = store::deliveries::ListForWebhook(tx, id, limit);
    return Status::Ok();
  }));
  return out;
}

}  // namespace kaas::notify
