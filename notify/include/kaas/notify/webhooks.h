#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kaas/common/clock.h"
#include "kaas/common/status.h"
#include "kaas/pki/secret_box.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"

namespace kaas::notify {

// Where a webhook may post. Only http and https; a host that is or resolves to a loopback,
// link-local or unspecified address is refused unless `allow_loopback` (tests, demos), so a
// webhook cannot reach kaasd's own machine or a cloud metadata service. kInvalidArgument
// (field "url") saying why.
Status CheckTarget(const std::string& url, bool allow_loopback);

// CheckTarget, keeping what the host resolved to: the delivery connects to exactly the address
// that was checked (no second lookup a rebinding DNS server could answer differently).
// `address` is "" when `allow_loopback` skipped the lookup.
struct CheckedTarget {
  std::string host;
  std::string address;
};
Result<CheckedTarget> ResolveTarget(const std::string& url, bool allow_loopback);

struct WebhookRequest {
  std::string team_id;  // "" = platform-wide
  std::string url;
  std::string format;  // slack | json
  std::vector<std::string> events;
  std::string secret;  // "" = deliveries are not signed; stored sealed
  std::string created_by;
};

// Registration of webhooks and their delivery log. Who may do it is decided by the caller
// (auth::Authorizer); this owns the rules on the values.
class WebhookService {
 public:
  // Secrets are sealed under `box` (kaasd's master key) before they are stored.
  WebhookService(store::Database& db, const Clock& clock, const pki::SecretBox& box,
                 bool allow_loopback)
      : db_(db), clock_(clock), box_(box), allow_loopback_(allow_loopback) {}

  // kInvalidArgument naming the field: url (CheckTarget, ≤ 1,000 bytes), format, events (known
  // types, at least one), secret (≤ 256).
  Result<store::Webhook> Create(const WebhookRequest& request);
  // team_id "": the platform-wide ones.
  Result<std::vector<store::Webhook>> List(const std::string& team_id);
  Result<store::Webhook> Find(const std::string& id);
  Status Delete(const std::string& id);
  // Queues a `webhook.test` notification to this webhook only; returns its payload id.
  Result<std::string> Test(const std::string& id, const std::string& actor);
  // Notifications waiting in the outbox (all webhooks): /metrics.
  Result<int64_t> Pending();
  // Every attempt, newest first.
  Result<std::vector<store::Delivery>> Deliveries(const std::string& id, int64_t limit);

 private:
  store::Database& db_;
  const Clock& clock_;
  const pki::SecretBox& box_;
  bool allow_loopback_;
};

}  // namespace kaas::notify
