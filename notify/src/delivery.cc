#include "kaas/notify/delivery.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "kaas/common/ids.h"
#include "kaas/common/log.h"
#include "kaas/notify/notify.h"
#include "kaas/notify/webhooks.h"
#include "kaas/store/repositories.h"

namespace kaas::notify {
namespace {

using Json = nlohmann::json;

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Num(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? std::to_string(it->get<int64_t>()) : "?";
}

// "cluster *billing-dev* (team payments)" or "team payments".
std::string Subject(const Json& p) {
  std::string team = "team " + Str(p, "team");
  if (!p.contains("cluster") || !p["cluster"].is_object()) return team;
  return "cluster *" + Str(p["cluster"], "name") + "* (" + team + ")";
}

std::string Link(const Json& p, const std::string& portal_url) {
  if (portal_url.empty()) return "";
  if (p.contains("cluster") && p["cluster"].is_object()) {
    return " <" + portal_url + "/clusters/" + Str(p["cluster"], "id") + "|Open in kaas>";
  }
  const std::string type = Str(p, "type");
  if (type.rfind("quota", 0) == 0)
    return " <" + portal_url + "/quota/" + Str(p, "team") + "|Open in kaas>";
  return "";
}

std::string Limits(const Json& limits) {
  std::string out;
  if (!limits.is_object()) return out;
  for (const auto& [k, v] : limits.items()) {
    if (!v.is_number() || v.get<int64_t>() < 0) continue;
    out += (out.empty() ? "" : ", ") + k + " " + std::to_string(v.get<int64_t>());
  }
  return out;
}

std::string SlackText(const Json& p, const std::string& portal_url) {
  const std::string type = Str(p, "type");
  const std::string actor = Str(p, "actor");
  const Json& d = p.contains("data") && p["data"].is_object() ? p["data"] : Json::object();
  std::string by = actor.empty() ? "" : " — by " + actor;
  std::string text;
  if (type == "operation.succeeded") {
    text = ":white_check_mark: " + Str(d, "type") + " of " + Subject(p) + " succeeded" + by;
  } else if (type == "operation.failed") {
    text = ":x: " + Str(d, "type") + " of " + Subject(p) + " failed: " + Str(d, "error") + by;
  } else if (type == "operation.cancelled") {
    text = ":no_entry_sign: " + Str(d, "type") + " of " + Subject(p) + " was cancelled" + by;
  } else if (type == "cluster.created") {
    text = ":new: " + Subject(p) + " is ready" + by;
  } else if (type == "cluster.deleted") {
    text = ":wastebasket: " + Subject(p) + " was deleted" + by;
  } else if (type == "node.unhealthy") {
    text = ":warning: node " + Str(d, "node") + " of " + Subject(p) +
           " is unhealthy: " + Str(d, "reason");
  } else if (type == "node.repaired") {
    text = ":wrench: node " + Str(d, "node") + " of " + Subject(p) + " was repaired";
  } else if (type == "quota_request.created") {
    text = ":memo: " + actor + " asks for more quota for team " + Str(p, "team") + " (" +
           Limits(d["limits"]) + "): \"" + Str(d, "reason") + "\"";
  } else if (type == "quota_request.approved" || type == "quota_request.rejected") {
    bool approved = type == "quota_request.approved";
    text = std::string(approved ? ":white_check_mark:" : ":x:") + " quota request of team " +
           Str(p, "team") + " " + (approved ? "approved" : "rejected") + by;
    if (!Str(d, "comment").empty()) text += ": \"" + Str(d, "comment") + "\"";
  } else if (type == "quota.nearly_full") {
    text = ":warning: team " + Str(p, "team") + " uses " + Num(d, "percent") + " % of its " +
           Str(d, "resource") + " quota (" + Num(d, "used") + " of " + Num(d, "limit") + ")" + by;
  } else if (type == kWebhookTest) {
    text = ":wave: test notification from kaas for " + Subject(p) + by;
  } else if (type == kWebhookDisabled) {
    text = ":mute: webhook " + Str(d, "url") + " of " + Subject(p) +
           " was disabled after failing for 24 h: " + Str(d, "error");
  } else {
    text = type + " on " + Subject(p) + by;
  }
  return text + Link(p, portal_url);
}

struct Target {
  std::string origin;  // scheme://host:port
  std::string path;    // "/…" with the query
};

Target Split(const std::string& url) {
  auto sep = url.find("://");
  auto path = url.find_first_of("/?#", sep + 3);
  Target t{url.substr(0, path), path == std::string::npos ? "/" : url.substr(path)};
  if (t.path[0] != '/') t.path = "/" + t.path;
  if (auto hash = t.path.find('#'); hash != std::string::npos) t.path.resize(hash);
  return t;
}

struct Outcome {
  int64_t status_code = 0;
  std::string error;
  bool ok() const { return error.empty(); }
};

// Posts `body` to `w`, signed with `secret` when it is not empty.
Outcome Post(const store::Webhook& w, const std::string& secret, const std::string& event_id,
             const std::string& type, const std::string& body, const DeliveryOptions& o) {
  auto checked = ResolveTarget(w.url, o.allow_loopback);
  if (!checked.ok()) return {0, checked.status().message()};
  Target t = Split(w.url);
  httplib::Client cli(t.origin);
  if (!cli.is_valid()) return {0, "invalid url"};
  // Connect to the address that was checked; TLS still verifies the certificate for the name.
  if (!checked->address.empty()) cli.set_hostname_addr_map({{checked->host, checked->address}});
  const time_t sec = o.timeout_ms / 1000;
  const time_t usec = (o.timeout_ms % 1000) * 1000;
  cli.set_connection_timeout(sec, usec);
  cli.set_read_timeout(sec, usec);
  cli.set_write_timeout(sec, usec);
  cli.set_follow_location(false);
  cli.enable_server_certificate_verification(true);
  httplib::Headers headers{
      {"User-Agent", "kaas-webhooks/1"}, {"X-Kaas-Event", type}, {"X-Kaas-Delivery", event_id}};
  if (!secret.empty()) headers.emplace("X-Kaas-Signature", Signature(secret, body));
  auto res = cli.Post(t.path, headers, body, "application/json");
  if (!res) return {0, "no answer: " + httplib::to_string(res.error())};
  if (res->status < 200 || res->status > 299) {
    return {res->status, "HTTP " + std::to_string(res->status)};
  }
  return {res->status, ""};
}

}  // namespace

std::string RenderBody(const std::string& format, const std::string& payload,
                       const std::string& portal_url) {
  if (format != "slack") return payload;
  Json p = Json::parse(payload, nullptr, false);
  if (p.is_discarded()) p = Json::object();
  return Json{{"text", SlackText(p, portal_url)}}.dump();
}

std::string Signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

int64_t RetryDelayMs(const DeliveryOptions& o, int64_t attempt) {
  int64_t delay = std::max<int64_t>(o.retry_base_ms, 1);
  for (int64_t i = 1; i < attempt && delay < o.retry_max_ms; ++i) delay *= 2;
  return std::min(delay, o.retry_max_ms);
}

DeliveryWorkers::DeliveryWorkers(store::Database& db, const Clock& clock, const pki::SecretBox& box,
                                 DeliveryOptions options)
    : db_(db), clock_(clock), box_(box), options_(std::move(options)) {}

DeliveryWorkers::~DeliveryWorkers() { Stop(); }

void DeliveryWorkers::Start() {
  for (size_t i = 0; i < std::max<size_t>(options_.workers, 1); ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

void DeliveryWorkers::Stop() {
  stopping_ = true;
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void DeliveryWorkers::Run() {
  while (!stopping_) {
    bool worked = false;
    try {
      worked = Pass();
    } catch (const std::exception& e) {
      log::Error("webhook delivery failed", {{"error", e.what()}});
    }
    if (worked) continue;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                 [&] { return stopping_.load(); });
  }
}

bool DeliveryWorkers::Pass() {
  std::vector<store::OutboxEntry> due;
  const int64_t now = clock_.NowMs();
  // Held for longer than an attempt can take (three timeouts), so two workers or replicas
  // never post the same entry at once; a killed worker's entries are free again after it.
  const int64_t lease = now + 3 * options_.timeout_ms + 5000;
  bool any = false;
  Status st = db_.Read([&](store::Tx& tx) {
    any = store::outbox::AnyDue(tx, now);
    return Status::Ok();
  });
  if (st.ok() && !any) return false;
  if (st.ok()) {
    st = db_.Write([&](store::Tx& tx) {
      due = store::outbox::Claim(tx, now, lease, 4);
      return Status::Ok();
    });
  }
  if (!st.ok()) {
    log::Warn("cannot read the webhook outbox", {{"error", st.ToString()}});
    return false;
  }
  for (const auto& e : due) {
    if (stopping_) break;
    Attempt(e);
  }
  return !due.empty();
}

void DeliveryWorkers::Attempt(const store::OutboxEntry& e) {
  std::optional<store::Webhook> hook;
  Status st = db_.Read([&](store::Tx& tx) {
    hook = store::webhooks::Find(tx, e.webhook_id);
    return Status::Ok();
  });
  if (!st.ok()) return;  // the lease expires and the entry is taken again
  if (!hook || !hook->enabled) {
    Status dropped = db_.Write([&](store::Tx& tx) {
      store::outbox::Delete(tx, e.id);
      return Status::Ok();
    });
    if (!dropped.ok()) log::Warn("cannot drop outbox entry", {{"error", dropped.ToString()}});
    return;
  }
  const std::string body = RenderBody(hook->format, e.payload, options_.portal_url);
  Outcome out;
  std::string secret;
  if (!hook->secret.empty()) {
    auto opened = box_.Open(hook->secret);
    if (opened.ok()) secret = std::move(opened).value();
    if (!opened.ok()) out.error = "cannot open the webhook's secret: " + opened.status().message();
  }
  // Never unsigned when a secret was set: an unreadable secret is a failed attempt.
  if (out.ok()) out = Post(*hook, secret, e.event_id, e.type, body, options_);
  const int64_t now = clock_.NowMs();
  const int64_t attempt = e.attempts + 1;
  store::Delivery d{NewId("dl"), hook->id,        e.event_id, e.type, attempt,
                    now,         out.status_code, out.error,  0};
  st = db_.Write([&](store::Tx& tx) {
    if (!store::webhooks::Find(tx, hook->id)) {  // removed while we posted
      store::outbox::Delete(tx, e.id);
      return Status::Ok();
    }
    if (out.ok()) {
      store::outbox::Delete(tx, e.id);
      store::deliveries::Insert(tx, d);
      if (hook->failing_since) store::webhooks::SetFailingSince(tx, hook->id, 0);
      return Status::Ok();
    }
    const bool give_up = now - e.created_at >= options_.give_up_after_ms;
    if (give_up) {
      d.error += " (given up: not delivered within 24 h)";
      store::outbox::Delete(tx, e.id);
    } else {
      d.next_retry_at = now + RetryDelayMs(options_, attempt);
      store::outbox::Reschedule(tx, e.id, attempt, d.next_retry_at);
    }
    store::deliveries::Insert(tx, d);
    auto current = store::webhooks::Find(tx, hook->id);
    if (!current || !current->enabled) return Status::Ok();
    if (!current->failing_since) {
      store::webhooks::SetFailingSince(tx, hook->id, now);
    } else if (now - current->failing_since >= options_.give_up_after_ms) {
      store::webhooks::Disable(tx, hook->id, "failing for 24 h: " + out.error);
      Notification n{kWebhookDisabled,
                     hook->team_id,
                     "",
                     "",
                     "",
                     "kaas",
                     Json{{"webhook", hook->id}, {"url", hook->url}, {"error", out.error}}.dump()};
      Enqueue(tx, n, now);
      log::Warn("webhook disabled", {{"webhook", hook->id}, {"error", out.error}});
    }
    return Status::Ok();
  });
  if (!st.ok()) log::Warn("cannot record webhook delivery", {{"error", st.ToString()}});
}

}  // namespace kaas::notify
