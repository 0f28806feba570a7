#include <algorithm>
#include <nlohmann/json.hpp>

#include "kaas/common/ids.h"
#include "kaas/common/strings.h"
#include "kaas/notify/notify.h"
#include "kaas/store/repositories.h"

namespace kaas::notify {
namespace {

// {id, type, at, team, cluster: {id, name}, operation?, actor, data}: the `json` format's body.
nlohmann::json Payload(store::Tx& tx, const std::string& id, const Notification& n, int64_t now) {
  auto team = store::teams::FindById(tx, n.team_id);
  nlohmann::json p{{"id", id},
                   {"type", n.type},
                   {"at", now},
                   {"team", team ? team->name : ""},
                   {"cluster", nullptr},
                   {"actor", n.actor},
                   {"data", nlohmann::json::parse(n.data, nullptr, false)}};
  if (p["data"].is_discarded()) p["data"] = nlohmann::json::object();
  if (!n.cluster_id.empty()) p["cluster"] = {{"id", n.cluster_id}, {"name", n.cluster_name}};
  if (!n.operation_id.empty()) p["operation"] = n.operation_id;
  return p;
}

bool Subscribed(const store::Webhook& w, const std::string& type) {
  auto events = Split(w.events, ',');
  return std::find(events.begin(), events.end(), type) != events.end();
}

void Insert(store::Tx& tx, const store::Webhook& w, const std::string& id, const std::string& type,
            const std::string& payload, int64_t now) {
  store::outbox::Insert(tx, {NewId("ob"), w.id, id, type, payload, 0, now, 0, now});
}

}  // namespace

const std::vector<std::string>& EventTypes() {
  static const std::vector<std::string> kTypes = {
      "operation.succeeded",    "operation.failed",      "operation.cancelled",
      "cluster.created",        "cluster.deleted",       "node.unhealthy",
      "node.repaired",          "quota_request.created", "quota_request.approved",
      "quota_request.rejected", "quota.nearly_full",     kWebhookDisabled,
  };
  return kTypes;
}

bool IsEventType(const std::string& type) {
  const auto& t = EventTypes();
  return std::find(t.begin(), t.end(), type) != t.end();
}

std::string Enqueue(store::Tx& tx, const Notification& n, int64_t now) {
  std::vector<store::Webhook> hooks;
  for (auto& w : store::webhooks::ListEnabledFor(tx, n.team_id)) {
    if (Subscribed(w, n.type)) hooks.push_back(std::move(w));
  }
  if (hooks.empty()) return "";
  std::string id = NewId("nt");
  std::string payload = Payload(tx, id, n, now).dump();
  for (const auto& w : hooks) Insert(tx, w, id, n.type, payload, now);
  return id;
}

std::string EnqueueFor(store::Tx& tx, const std::string& webhook_id, const Notification& n,
                       int64_t now) {
  auto w = store::webhooks::Find(tx, webhook_id);
  if (!w) return "";
  std::string id = NewId("nt");
  Insert(tx, *w, id, n.type, Payload(tx, id, n, now).dump(), now);
  return id;
}

}  // namespace kaas::notify
