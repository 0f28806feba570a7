// Notifications through the real kaasd and a real HTTP receiver on loopback (DESIGN.md §6.4):
// signed deliveries, chat-readable texts, retries after 5xx and timeouts visible in the delivery
// log, an outbox that survives kill -9, who may manage webhooks, safe targets, and an API that
// a slow receiver does not slow down.

#include <gtest/gtest.h>

#include <chrono>

#include "kaasd_clusters.h"
#include "kaasd_process.h"
#include "webhook_receiver.h"

namespace kaas::testing {
namespace {

constexpr const char* kPassword = "a-long-enough-password";

using Requests = std::vector<ReceivedRequest>;

class WebhooksTest : public ::testing::Test {
 protected:
  // Loopback receivers need the flag; retries start after 300 ms, an attempt times out after 1 s.
  void Start(std::vector<std::string> args = {"--webhook-allow-loopback", "true",
                                              "--webhook-retry-base-ms", "300",
                                              "--webhook-timeout-ms", "1000"}) {
    kaasd_ = std::make_unique<KaasdProcess>(std::move(args));
    ASSERT_TRUE(kaasd_->Start());
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    for (const char* team : {"payments", "search"}) {
      ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", Json{{"name", team}}.dump()).status, 201);
    }
    for (const char* user : {"alice", "bob", "vic", "mallory"}) {
      auto r = kaasd_->Call("POST", "/api/v1/users",
                            Json{{"username", user}, {"password", kPassword}}.dump());
      ASSERT_EQ(r.status, 201) << r.raw;
    }
    Member("payments", "alice", "admin");
    Member("payments", "bob", "member");
    Member("payments", "vic", "viewer");
    Member("search", "mallory", "admin");
    alice_ = kaasd_->Login("alice", kPassword);
    ASSERT_FALSE(alice_.empty());
  }

  void Member(const std::string& team, const std::string& user, const std::string& role) {
    auto r = kaasd_->Call("PUT", "/api/v1/teams/" + team + "/members/" + user,
                          Json{{"role", role}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
  }

  // Registers a webhook of team payments as its admin alice; returns its id.
  std::string AddHook(const std::string& url, const std::string& format, Json events,
                      const std::string& secret = "") {
    Json body{{"url", url}, {"format", format}, {"events", events}};
    if (!secret.empty()) body["secret"] = secret;
    auto r = kaasd_->Call("POST", "/api/v1/teams/payments/webhooks", body.dump(), alice_);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  Json Deliveries(const std::string& hook) {
    auto r = kaasd_->Call("GET", "/api/v1/webhooks/" + hook + "/deliveries", "", alice_);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body["items"];
  }

  // Polls the delivery log until `done` holds.
  Json WaitDeliveries(const std::string& hook, const std::function<bool(const Json&)>& done,
                      int timeout_ms = 20000) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    Json items;
    while (std::chrono::steady_clock::now() < until) {
      items = Deliveries(hook);
      if (done(items)) return items;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return items;
  }

  static std::function<bool(const Requests&)> AtLeast(size_t n) {
    return [n](const Requests& r) { return r.size() >= n; };
  }

  std::unique_ptr<KaasdProcess> kaasd_;
  std::string alice_;
};

TEST_F(WebhooksTest, SignedJsonAndReadableSlackDeliveriesOfAClusterCreate) {
  // Attempts may take up to 10 s here: on a loaded machine a 1 s timeout would retry a
  // delivery the receiver did get, and this test checks first attempts.
  Start({"--webhook-allow-loopback", "true", "--webhook-retry-base-ms", "300",
         "--webhook-timeout-ms", "10000"});
  WebhookReceiver receiver;
  const std::string secret = "s3cret-for-hmac";
  std::string json_hook =
      AddHook(receiver.url("/json"), "json",
              {"operation.succeeded", "cluster.created", "quota.nearly_full"}, secret);
  std::string slack_hook = AddHook(receiver.url("/slack"), "slack", {"cluster.created"});
  // One cluster allowed: creating it takes the team past 90 % of that limit.
  ASSERT_EQ(
      kaasd_->Call("PUT", "/api/v1/teams/payments/quota", R"({"limits":{"clusters":1}})").status,
      200);
  auto r = kaasd_->Call("POST", "/api/v1/clusters",
                        R"({"name":"billing","team":"payments","purpose":"personal"})", alice_);
  ASSERT_EQ(r.status, 202) << r.raw;
  std::string cluster = r.body["cluster"]["id"], op = r.body["operation"]["id"];
  ASSERT_EQ(kaasd_->WaitOperation(op)["state"], "succeeded");

  // Three distinct JSON notifications and the Slack one (an at-least-once retry may repeat one).
  ASSERT_TRUE(receiver.WaitFor(
      [](const Requests& r) {
        std::set<std::string> types;
        bool slack = false;
        for (const auto& req : r) {
          if (req.path == "/slack")
            slack = true;
          else
            types.insert(req.json.value("type", ""));
        }
        return slack && types.size() >= 3;
      },
      30000))
      << receiver.received().size();
  std::map<std::string, ReceivedRequest> json_by_type;
  ReceivedRequest slack;
  for (const auto& req : receiver.received()) {
    EXPECT_EQ(req.headers.at("Content-Type"), "application/json");
    if (req.path == "/slack") {
      slack = req;
      EXPECT_EQ(req.headers.count("X-Kaas-Signature"), 0u) << "no secret, no signature";
      continue;
    }
    // The signature is the HMAC of the exact body, recomputed here with OpenSSL.
    EXPECT_EQ(req.headers.at("X-Kaas-Signature"), HmacSha256Signature(secret, req.body));
    EXPECT_NE(req.headers.at("X-Kaas-Signature"), HmacSha256Signature("wrong", req.body));
    json_by_type[req.json.value("type", "")] = req;
  }
  ASSERT_EQ(json_by_type.size(), 3u);
  const Json& done = json_by_type["operation.succeeded"].json;
  EXPECT_TRUE(done["id"].get<std::string>().rfind("nt-", 0) == 0) << done;
  EXPECT_EQ(done["team"], "payments");
  EXPECT_EQ(done["cluster"]["id"], cluster);
  EXPECT_EQ(done["cluster"]["name"], "billing");
  EXPECT_EQ(done["operation"], op);
  EXPECT_EQ(done["actor"], "alice");
  EXPECT_EQ(done["data"]["type"], "create");
  EXPECT_TRUE(done["at"].is_number());
  EXPECT_EQ(json_by_type["operation.succeeded"].headers.at("X-Kaas-Delivery"), done["id"]);
  EXPECT_EQ(json_by_type["cluster.created"].json["cluster"]["name"], "billing");
  const Json& full = json_by_type["quota.nearly_full"].json;
  EXPECT_EQ(full["data"]["resource"], "clusters");
  EXPECT_EQ(full["data"]["used"], 1);
  EXPECT_EQ(full["data"]["limit"], 1);

  // A person reads what happened, to which cluster of which team, by whom, and where to look.
  std::string text = slack.json.value("text", "");
  EXPECT_NE(text.find("billing"), std::string::npos) << text;
  EXPECT_NE(text.find("payments"), std::string::npos) << text;
  EXPECT_NE(text.find("alice"), std::string::npos) << text;
  EXPECT_NE(text.find(kaasd_->base_url() + "/clusters/" + cluster), std::string::npos) << text;

  Json log = Deliveries(json_hook);
  ASSERT_EQ(log.size(), 3u) << log;
  for (const auto& d : log) {
    EXPECT_EQ(d["status_code"], 200);
    EXPECT_EQ(d["attempt"], 1);
    EXPECT_EQ(d["error"], "");
    EXPECT_EQ(d["next_retry_at"], "");
  }
  EXPECT_EQ(Deliveries(slack_hook).size(), 1u);
}

TEST_F(WebhooksTest, RetriesAfter5xxAndATimeoutAreInTheDeliveryLog) {
  Start();
  WebhookReceiver receiver;
  // 500, then an answer later than kaasd's 1 s timeout, then 200.
  receiver.Script({{500, 0}, {200, 2500}});
  std::string hook = AddHook(receiver.url(), "json", {"operation.failed"}, "k");
  auto t = kaasd_->Call("POST", "/api/v1/webhooks/" + hook + "/test", "", alice_);
  ASSERT_EQ(t.status, 202) << t.raw;
  std::string event = t.body["event_id"];

  Json log = WaitDeliveries(
      hook, [](const Json& items) { return !items.empty() && items[0]["status_code"] == 200; });
  ASSERT_EQ(log.size(), 3u) << log;  // newest first
  EXPECT_EQ(log[0]["attempt"], 3);
  EXPECT_EQ(log[0]["next_retry_at"], "");
  EXPECT_EQ(log[1]["attempt"], 2);
  EXPECT_TRUE(log[1]["status_code"].is_null()) << log[1];
  EXPECT_NE(log[1]["error"].get<std::string>().find("no answer"), std::string::npos) << log[1];
  EXPECT_NE(log[1]["next_retry_at"], "");
  EXPECT_EQ(log[2]["attempt"], 1);
  EXPECT_EQ(log[2]["status_code"], 500);
  EXPECT_EQ(log[2]["error"], "HTTP 500");
  EXPECT_NE(log[2]["next_retry_at"], "");
  for (const auto& d : log) {
    EXPECT_EQ(d["event_id"], event);
    EXPECT_EQ(d["type"], "webhook.test");
  }
  // Backoff doubles: the second wait is longer than the first (300 ms, then 600 ms).
  // Every attempt carried the same payload id, so the receiver can de-duplicate.
  ASSERT_TRUE(receiver.WaitFor(AtLeast(3), 5000));
  for (const auto& req : receiver.received()) EXPECT_EQ(req.json["id"], event);
}

TEST_F(WebhooksTest, ANotificationQueuedBeforeKill9ArrivesAfterTheRestart) {
  Start();
  const int port = FreePort();  // nothing listens there yet: attempts fail
  std::string hook = AddHook("http://127.0.0.1:" + std::to_string(port) + "/hook", "json",
                             {"operation.succeeded"});
  auto [cluster, op] = CreateDevCluster(*kaasd_, "queued", 1);
  ASSERT_EQ(kaasd_->WaitOperation(op)["state"], "succeeded");
  Json log = WaitDeliveries(hook, [](const Json& items) { return !items.empty(); });
  ASSERT_FALSE(log.empty());
  EXPECT_TRUE(log[0]["status_code"].is_null());
  EXPECT_NE(log[0]["next_retry_at"], "");
  std::string event = log[0]["event_id"];
  auto metrics = kaasd_->Call("GET", "/metrics", "", "");
  EXPECT_NE(metrics.raw.find("kaas_webhook_outbox_pending 1\n"), std::string::npos) << metrics.raw;

  ASSERT_TRUE(kaasd_->Kill());
  WebhookReceiver receiver(port);
  ASSERT_EQ(receiver.port(), port);
  ASSERT_TRUE(kaasd_->Start());
  alice_ = kaasd_->Login("alice", kPassword);
  ASSERT_TRUE(receiver.WaitFor(AtLeast(1), 20000));
  auto got = receiver.received();
  EXPECT_EQ(got[0].json["id"], event);
  EXPECT_EQ(got[0].json["type"], "operation.succeeded");
  EXPECT_EQ(got[0].json["cluster"]["id"], cluster);
  log = WaitDeliveries(
      hook, [](const Json& items) { return !items.empty() && items[0]["status_code"] == 200; });
  EXPECT_EQ(log[0]["event_id"], event);
}

TEST_F(WebhooksTest, ViewersMembersAndOtherTeamsCannotManageOrSeeWebhooks) {
  Start();
  std::string hook = AddHook("http://192.0.2.1/hook", "json", {"operation.failed"});
  std::string platform =
      kaasd_
          ->Call(
              "POST", "/api/v1/webhooks",
              R"({"url":"http://192.0.2.2/","format":"slack","events":["quota_request.created"]})")
          .body.value("id", "");
  ASSERT_FALSE(platform.empty());
  const std::string body =
      R"({"url":"http://192.0.2.3/","format":"json","events":["cluster.created"]})";
  for (const char* user : {"vic", "bob"}) {  // viewer, member: 403
    std::string token = kaasd_->Login(user, kPassword);
    EXPECT_EQ(kaasd_->Call("POST", "/api/v1/teams/payments/webhooks", body, token).status, 403);
    EXPECT_EQ(kaasd_->Call("GET", "/api/v1/teams/payments/webhooks", "", token).status, 403);
    EXPECT_EQ(kaasd_->Call("POST", "/api/v1/webhooks/" + hook + "/test", "", token).status, 403);
    EXPECT_EQ(kaasd_->Call("GET", "/api/v1/webhooks/" + hook + "/deliveries", "", token).status,
              403);
    EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/webhooks/" + hook, "", token).status, 403);
  }
  // Another team's admin: they do not exist.
  std::string mallory = kaasd_->Login("mallory", kPassword);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/teams/payments/webhooks", "", mallory).status, 404);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/webhooks/" + hook, "", mallory).status, 404);
  EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/webhooks/" + hook, "", mallory).status, 404);
  auto own = kaasd_->Call("GET", "/api/v1/teams/search/webhooks", "", mallory);
  EXPECT_EQ(own.status, 200);
  EXPECT_TRUE(own.body["items"].empty());
  // Platform-wide webhooks are a platform admin's.
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/webhooks/" + platform, "", alice_).status, 404);
  EXPECT_EQ(kaasd_->Call("POST", "/api/v1/webhooks", body, alice_).status, 403);
  // The team admin sees the hook (never its secret) and removes it.
  auto list = kaasd_->Call("GET", "/api/v1/teams/payments/webhooks", "", alice_);
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_FALSE(list.body["items"][0].contains("secret"));
  EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/webhooks/" + hook, "", alice_).status, 204);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/webhooks/" + hook, "", alice_).status, 404);
}

TEST_F(WebhooksTest, LoopbackAndLinkLocalTargetsAreRefusedWithoutTheFlag) {
  Start({});
  auto add = [&](const std::string& url) {
    return kaasd_->Call(
        "POST", "/api/v1/teams/payments/webhooks",
        Json{{"url", url}, {"format", "json"}, {"events", {"cluster.created"}}}.dump(), alice_);
  };
  for (const char* url :
       {"http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/",
        "http://169.254.169.254/latest/meta-data", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/",
        "ftp://192.0.2.1/", "file:///etc/passwd", "http://user:pw@192.0.2.1/", "not a url"}) {
    auto r = add(url);
    EXPECT_EQ(r.status, 400) << url << ": " << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "invalid_argument") << url;
    EXPECT_EQ(r.body["error"]["details"]["field"], "url") << url << ": " << r.raw;
  }
  EXPECT_EQ(add("https://192.0.2.1/hook").status, 201);
  auto bad = kaasd_->Call(
      "POST", "/api/v1/teams/payments/webhooks",
      R"({"url":"http://192.0.2.1/","format":"xml","events":["cluster.created"]})", alice_);
  EXPECT_EQ(bad.status, 400);
  bad = kaasd_->Call("POST", "/api/v1/teams/payments/webhooks",
                     R"({"url":"http://192.0.2.1/","format":"json","events":["cluster.exploded"]})",
                     alice_);
  EXPECT_EQ(bad.status, 400);
}

TEST_F(WebhooksTest, ASlowReceiverDoesNotSlowPostClusters) {
  Start({"--webhook-allow-loopback", "true", "--webhook-timeout-ms", "10000"});
  WebhookReceiver receiver;
  receiver.Then({200, 4000});  // every answer takes 4 s
  for (int i = 0; i < 10; ++i) {
    AddHook(receiver.url("/" + std::to_string(i)), i % 2 ? "slack" : "json",
            {"operation.succeeded", "quota_request.created"});
  }
  // A request whose notifications go to the ten sleeping webhooks.
  auto q = kaasd_->Call("POST", "/api/v1/teams/payments/quota-requests",
                        R"({"limits":{"clusters":9},"reason":"more"})", alice_);
  ASSERT_EQ(q.status, 201) << q.raw;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (receiver.in_flight() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(receiver.in_flight(), 0) << "the receiver should be busy answering slowly";
  auto start = std::chrono::steady_clock::now();
  auto r = kaasd_->Call("POST", "/api/v1/clusters",
                        R"({"name":"while-slow","team":"payments","purpose":"personal"})", alice_);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  ASSERT_EQ(r.status, 202) << r.raw;
  // The create was answered while a delivery was still sleeping in the receiver.
  EXPECT_GT(receiver.in_flight(), 0);
  std::cout << "POST /clusters took " << took << " ms while the receiver slept\n";
}

TEST_F(WebhooksTest, ADeadNodeAndItsRepairAreTold) {
  Start({"--webhook-allow-loopback", "true", "--fault-injection", "true", "--health-interval-s",
         "1", "--repair-grace-s", "1"});
  WebhookReceiver receiver;
  AddHook(receiver.url(), "slack", {"node.unhealthy", "node.repaired"});
  auto [cluster, op] = CreateDevCluster(*kaasd_, "healing", 2);
  ASSERT_EQ(kaasd_->WaitOperation(op)["state"], "succeeded");
  auto r = kaasd_->Call(
      "PUT", "/api/v1/faults",
      Json{{"rules", {{{"on", "node"}, {"match", cluster + "/worker-1"}, {"action", "crash"}}}}}
          .dump());
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_TRUE(receiver.WaitFor(AtLeast(2), 60000)) << receiver.received().size();
  auto got = receiver.received();
  std::string first = got[0].json["text"], second = got[1].json["text"];
  EXPECT_NE(first.find("node worker-1 of cluster *healing* (team payments) is unhealthy"),
            std::string::npos)
      << first;
  EXPECT_NE(second.find("node worker-1 of cluster *healing* (team payments) was repaired"),
            std::string::npos)
      << second;
}

}  // namespace
}  // namespace kaas::testing
