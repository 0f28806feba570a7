#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kaas/store/database.h"

// Notifications (DESIGN.md §6.4): what happened, written to a durable outbox in the
// transaction of the change that caused it, and delivered to webhooks by DeliveryWorkers
// (delivery.h).
namespace kaas::notify {

// The event types a webhook may subscribe to (the REST contract's strings).
const std::vector<std::string>& EventTypes();
bool IsEventType(const std::string& type);

// Types kaas sends without a subscription: a test asked for, a webhook disabled.
inline constexpr const char* kWebhookTest = "webhook.test";
inline constexpr const char* kWebhookDisabled = "webhook.disabled";

struct Notification {
  std::string type;  // one of EventTypes(), or the two above
  std::string team_id;
  std::string cluster_id;  // "" when the event is not about a cluster
  std::string cluster_name;
  std::string operation_id;  // "" when not about an operation
  std::string actor;         // who caused it ("kaas" when the platform itself did)
  std::string data = "{}";   // JSON object: the rest of what the event says
};

// Puts `n` in the outbox of every enabled webhook subscribed to its type — the team's own and
// the platform-wide ones — on the caller's transaction, so that it is delivered exactly when
// the change commits (and never lost by a crash after the commit). Returns the payload's id
// ("" when nobody is subscribed).
std::string Enqueue(store::Tx& tx, const Notification& n, int64_t now);

// Puts `n` in the outbox of `webhook_id` only, whatever it subscribed to (a test).
std::string EnqueueFor(store::Tx& tx, const std::string& webhook_id, const Notification& n,
                       int64_t now);

}  // namespace kaas::notify
