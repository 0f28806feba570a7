#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kaas/common/clock.h"
#include "kaas/pki/secret_box.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"

namespace kaas::notify {

struct DeliveryOptions {
  size_t workers = 2;
  // Bounds each of connect, send and receive of one attempt.
  int64_t timeout_ms = 5000;
  // The first retry waits this long, each next one twice as long, at most retry_max_ms.
  int64_t retry_base_ms = 10000;
  int64_t retry_max_ms = 3600 * 1000;
  // A notification not delivered this long after it was written is given up; a webhook whose
  // every attempt failed for this long is disabled (and a `webhook.disabled` event says so).
  int64_t give_up_after_ms = 24 * 3600 * 1000;
  // How often idle workers look at the outbox.
  int64_t poll_ms = 250;
  bool allow_loopback = false;
  // Links in slack texts ("" = none): `<portal_url>/clusters/<id>`.
  std::string portal_url;
};

// The body posted to a webhook of `format` for the structured event `payload` (JSON text):
// `json` posts the payload as is, `slack` posts {"text": …} a person reads at a glance.
std::string RenderBody(const std::string& format, const std::string& payload,
                       const std::string& portal_url);
// "sha256=" + hex HMAC-SHA256 of `body` under `secret` (OpenSSL): X-Kaas-Signature.
std::string Signature(const std::string& secret, const std::string& body);
// How long to wait after failed attempt number `attempt` (1-based): base·2^(attempt-1), capped.
int64_t RetryDelayMs(const DeliveryOptions& options, int64_t attempt);

// Delivery workers: their own threads (never the API's or the engine's), taking due entries
// from the outbox in the database and posting them. At least once: an entry leaves the outbox
// only after its webhook answered 2xx (or it was given up), so a kill -9 at any moment means at
// worst one more delivery of the same payload id. Every attempt is in the delivery log.
class DeliveryWorkers {
 public:
  // `box` opens the webhooks' sealed secrets.
  DeliveryWorkers(store::Database& db, const Clock& clock, const pki::SecretBox& box,
                  DeliveryOptions options);
  ~DeliveryWorkers();

  void Start();
  // Stops taking entries and joins the workers (an attempt in flight ends within its timeout).
  void Stop();

 private:
  void Run();
  // Claims due entries and attempts each; false when none was due.
  bool Pass();
  void Attempt(const store::OutboxEntry& entry);

  store::Database& db_;
  const Clock& clock_;
  const pki::SecretBox& box_;
  DeliveryOptions options_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
};

}  // namespace kaas::notify
