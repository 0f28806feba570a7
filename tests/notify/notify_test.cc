// Notifications (notify/) on a real SQLite database: the outbox is part of the caller's
// transaction, the texts and signatures, the backoff, refused targets, and delivery workers
// against a real receiver on loopback with a clock the test moves (24 h without waiting).

#include "kaas/notify/notify.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "../support/sqlite_database.h"
#include "../support/webhook_receiver.h"
#include "kaas/notify/delivery.h"
#include "kaas/notify/webhooks.h"
#include "kaas/store/repositories.h"

namespace kaas::notify {
namespace {

using Json = nlohmann::json;
using testing::WebhookReceiver;

class MovableClock : public Clock {
 public:
  int64_t NowMs() const override { return now.load(); }
  std::atomic<int64_t> now{1'700'000'000'000};
};

constexpr int64_t kHour = 3600 * 1000;

TEST(NotifyTest, SignatureIsTheHexHmacSha256OfTheBody) {
  // RFC 4231-style known answer (the Wikipedia HMAC example).
  EXPECT_EQ(Signature("key", "The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(NotifyTest, RetryDelayDoublesUpToItsCap) {
  DeliveryOptions o;
  o.retry_base_ms = 10'000;
  o.retry_max_ms = kHour;
  EXPECT_EQ(RetryDelayMs(o, 1), 10'000);
  EXPECT_EQ(RetryDelayMs(o, 2), 20'000);
  EXPECT_EQ(RetryDelayMs(o, 5), 160'000);
  EXPECT_EQ(RetryDelayMs(o, 9), 2'560'000);
  EXPECT_EQ(RetryDelayMs(o, 10), kHour);
  EXPECT_EQ(RetryDelayMs(o, 500), kHour);
}

TEST(NotifyTest, TargetsAreHttpOrHttpsAndNeverLoopbackOrLinkLocal) {
  struct Case {
    const char* url;
    bool ok;
  };
  for (const Case& c : std::vector<Case>{{"https://192.0.2.1/hook", true},
                                         {"http://192.0.2.1:8080/a?b=c", true},
                                         {"http://[2001:db8::1]/", true},
                                         {"http://127.0.0.1/", false},
                                         {"http://127.8.9.10:80/", false},
                                         {"http://localhost/", false},
                                         {"http://[::1]:8080/", false},
                                         {"http://169.254.169.254/", false},
                                         {"http://[fe80::1]/", false},
                                         {"http://[::ffff:169.254.1.1]/", false},
                                         {"http://0.0.0.0/", false},
                                         {"gopher://192.0.2.1/", false},
                                         {"http:///nohost", false},
                                         {"http://a@192.0.2.1/", false}}) {
    EXPECT_EQ(CheckTarget(c.url, false).ok(), c.ok) << c.url;
  }
  EXPECT_TRUE(CheckTarget("http://127.0.0.1:9/", true).ok()) << "allowed by the flag";
  EXPECT_FALSE(CheckTarget("ftp://127.0.0.1/", true).ok()) << "the flag never allows ftp";
  // The delivery connects to the address that was checked, not to a second lookup's answer.
  auto v4 = ResolveTarget("http://192.0.2.1:8080/x", false);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "192.0.2.1");
  EXPECT_EQ(v4->address, "192.0.2.1");
  auto v6 = ResolveTarget("https://[2001:db8::1]/", false);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->address, "2001:db8::1");
}

TEST(NotifyTest, SlackTextSaysWhatToWhichClusterOfWhichTeamByWhomWithALink) {
  Json p{{"id", "nt-1"},
         {"type", "operation.failed"},
         {"at", 1},
         {"team", "payments"},
         {"cluster", {{"id", "cl-9"}, {"name", "billing-dev"}}},
         {"operation", "op-3"},
         {"actor", "alice"},
         {"data", {{"type", "upgrade"}, {"error", "step 'join_master' failed"}}}};
  Json body = Json::parse(RenderBody("slack", p.dump(), "https://kaas.example"));
  ASSERT_EQ(body.size(), 1u);
  std::string text = body["text"];
  for (const char* part : {"upgrade", "billing-dev", "payments", "failed", "join_master", "alice",
                           "https://kaas.example/clusters/cl-9"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << " in " << text;
  }
  EXPECT_EQ(RenderBody("json", p.dump(), "https://kaas.example"), p.dump());
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_->Write([&](store::Tx& tx) {
                     store::teams::Insert(tx, {"tm-1", "payments", 1});
                     store::teams::Insert(tx, {"tm-2", "search", 1});
                     return Status::Ok();
                   })
                    .ok());
  }

  std::string Add(const std::string& team, const std::string& url, std::vector<std::string> events,
                  const std::string& secret = "") {
    auto w = hooks_.Create({team, url, "json", std::move(events), secret, "alice"});
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? w->id : "";
  }

  int64_t Pending() {
    int64_t n = 0;
    EXPECT_TRUE(db_->Read([&](store::Tx& tx) {
                     n = store::outbox::CountPending(tx);
                     return Status::Ok();
                   })
                    .ok());
    return n;
  }

  static pki::SecretBox Box() {
    auto path = std::filesystem::temp_directory_path() /
                ("kaas-notify-key-" + std::to_string(getpid()) + "-" + std::to_string(rand()));
    auto box = pki::SecretBox::LoadOrCreate(path.string());
    std::filesystem::remove(path);
    if (!box.ok()) throw std::runtime_error(box.status().ToString());
    return std::move(box).value();
  }

  testing::SqliteDatabase db_{"notify"};
  MovableClock clock_;
  pki::SecretBox box_ = Box();
  WebhookService hooks_{*db_, clock_, box_, true};
};

TEST_F(OutboxTest, ANotificationIsQueuedOnlyWhenTheChangeCommits) {
  Add("tm-1", "http://192.0.2.1/", {"cluster.created"});
  Add("", "http://192.0.2.2/", {"cluster.created"});  // platform-wide: hears every team
  Add("tm-2", "http://192.0.2.3/", {"cluster.created"});
  Add("tm-1", "http://192.0.2.4/", {"cluster.deleted"});
  Notification n{"cluster.created", "tm-1", "cl-1", "billing", "op-1", "alice", "{}"};
  Status failed = db_->Write([&](store::Tx& tx) {
    Enqueue(tx, n, clock_.NowMs());
    return Internal("the change failed");
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(Pending(), 0) << "rolled back with the change";
  ASSERT_TRUE(db_->Write([&](store::Tx& tx) {
                   Enqueue(tx, n, clock_.NowMs());
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(Pending(), 2) << "the team's subscribed hook and the platform-wide one";
}

TEST_F(OutboxTest, AWebhookFailingFor24HoursIsDisabledAndTheTeamIsTold) {
  WebhookReceiver receiver;
  receiver.Then({500, 0});
  std::string failing = Add("tm-1", receiver.url("/failing"), {"operation.failed"}, "k3y");
  // The team's other webhook hears that the first one was disabled.
  std::string watcher = Add("tm-1", receiver.url("/watcher"), {"webhook.disabled"});
  DeliveryOptions o;
  o.retry_base_ms = kHour;
  o.poll_ms = 20;
  o.timeout_ms = 2000;
  o.allow_loopback = true;
  DeliveryWorkers workers(*db_, clock_, box_, o);
  workers.Start();
  ASSERT_TRUE(db_->Write([&](store::Tx& tx) {
                   Enqueue(tx, {"operation.failed", "tm-1", "cl-1", "billing", "op-1", "bob", "{}"},
                           clock_.NowMs());
                   return Status::Ok();
                 })
                  .ok());
  auto count = [](size_t n) {
    return [n](const std::vector<testing::ReceivedRequest>& r) { return r.size() >= n; };
  };
  ASSERT_TRUE(receiver.WaitFor(count(1), 10000));
  // The secret is sealed at rest, and the post is signed with the secret itself.
  auto first = receiver.received()[0];
  EXPECT_EQ(first.headers["X-Kaas-Signature"], testing::HmacSha256Signature("k3y", first.body));
  ASSERT_TRUE(db_->Read([&](store::Tx& tx) {
                   auto row = store::webhooks::Find(tx, failing);
                   EXPECT_NE(row->secret, "k3y");
                   EXPECT_EQ(box_.Open(row->secret).value(), "k3y");
                   return Status::Ok();
                 })
                  .ok());
  // Nothing more until the retry is due (an hour later on this clock).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(receiver.received().size(), 1u);
  auto hook = hooks_.Find(failing);
  ASSERT_TRUE(hook.ok());
  EXPECT_TRUE(hook->enabled);
  EXPECT_EQ(hook->failing_since, clock_.NowMs());

  clock_.now += 23 * kHour;  // still failing, not yet 24 h
  ASSERT_TRUE(receiver.WaitFor(count(2), 10000));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(hooks_.Find(failing)->enabled);

  receiver.Then({200, 0});  // the watcher answers; the failing one keeps failing below
  receiver.Script({{500, 0}});
  clock_.now += 2 * kHour;  // failing for 25 h; the notification is also past 24 h: given up
  ASSERT_TRUE(receiver.WaitFor(
      [](const std::vector<testing::ReceivedRequest>& r) {
        return std::any_of(r.begin(), r.end(), [](const auto& x) { return x.path == "/watcher"; });
      },
      10000));
  workers.Stop();
  hook = hooks_.Find(failing);
  EXPECT_FALSE(hook->enabled);
  EXPECT_NE(hook->disabled_reason.find("24 h"), std::string::npos) << hook->disabled_reason;
  for (const auto& r : receiver.received()) {
    if (r.path != "/watcher") continue;
    EXPECT_EQ(r.json["type"], "webhook.disabled");
    EXPECT_EQ(r.json["data"]["webhook"], failing);
    EXPECT_EQ(r.json["team"], "payments");
  }
  auto log = hooks_.Deliveries(failing, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ((*log)[0].next_retry_at, 0) << "given up: no further retry";
  EXPECT_NE((*log)[0].error.find("given up"), std::string::npos) << (*log)[0].error;
  EXPECT_EQ((*log)[2].status_code, 500);
  EXPECT_EQ(Pending(), 0);
}

}  // namespace
}  // namespace kaas::notify
