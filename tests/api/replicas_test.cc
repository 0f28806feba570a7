// Several kaasd replicas on one PostgreSQL (DESIGN.md §6.2), each a real kaasd process on the
// fixture server (a database of its own per test) and one shared data dir (master key,
// simulated hypervisors' files): operation leases, takeover after kill -9 and after SIGSTOP,
// fencing of the stale replica, event streams served by any replica.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "kaas/store/database.h"
#include "kaas/store/repositories.h"
#include "kaasd_clusters.h"
#include "kaasd_process.h"
#include "scratch_database.h"
#include "status_testing.h"

namespace kaas::testing {
namespace {

constexpr int kReplicas = 3;

class ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresUrl();
    ASSERT_FALSE(server_.empty()) << "KAAS_TEST_POSTGRES_URL is not set (ctest fixture postgres)";
    auto url = CreateScratchDatabase(server_, "replicas");
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
    char tmpl[] = "/tmp/kaas-replicas-XXXXXX";
    shared_ = mkdtemp(tmpl);
    for (int i = 0; i < kReplicas; ++i) {
      const std::string id = "r" + std::to_string(i + 1);
      replicas_.push_back(
          std::make_unique<KaasdProcess>(std::vector<std::string>{"--database",
                                                                  url_,
                                                                  "--data-dir",
                                                                  shared_.string(),
                                                                  "--replica-id",
                                                                  id,
                                                                  "--sim-delay-ms",
                                                                  "300",
                                                                  "--lease-expiry-s",
                                                                  "3",
                                                                  "--lease-poll-ms",
                                                                  "200",
                                                                  "--quota-defaults.clusters",
                                                                  "20",
                                                                  "--quota-defaults.vcpus",
                                                                  "1000",
                                                                  "--quota-defaults.memory_gib",
                                                                  "4000",
                                                                  "--fault-injection",
                                                                  "true"}));
      // One at a time: the first one migrates the database and seeds the datacenter.
      ASSERT_TRUE(replicas_.back()->Start()) << "replica " << id << " did not start";
      ASSERT_FALSE(replicas_.back()->LoginAdmin().empty());
      ASSERT_EQ(replicas_.back()->Call("GET", "/readyz").body["replica"], id);
    }
    ASSERT_EQ(Any().Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
  }
  void TearDown() override {
    replicas_.clear();
    if (!url_.empty()) EXPECT_TRUE(DropScratchDatabase(server_, url_).ok());
    std::error_code ec;
    if (!shared_.empty()) std::filesystem::remove_all(shared_, ec);
  }

  // A replica that runs (the first one still alive).
  KaasdProcess& Any() {
    for (auto& r : replicas_) {
      if (r->running()) return *r;
    }
    throw std::runtime_error("no replica runs");
  }
  KaasdProcess& ByName(const std::string& id) { return *replicas_.at(std::stoi(id.substr(1)) - 1); }

  Json Operation(const std::string& op_id) {
    return Any().Call("GET", "/api/v1/operations/" + op_id).body;
  }
  static int SucceededSteps(const Json& op) {
    int n = 0;
    for (const auto& s : op["steps"]) n += s["state"] == "succeeded";
    return n;
  }
  static bool Active(const Json& op) {
    return op.value("state", "") == "pending" || op.value("state", "") == "running";
  }

  // The value of a counter or gauge on a replica's /metrics (0 when absent).
  double Metric(KaasdProcess& k, const std::string& series) {
    auto r = k.Call("GET", "/metrics", "", "");
    for (size_t p = 0; (p = r.raw.find(series, p)) != std::string::npos; p += series.size()) {
      if (p > 0 && r.raw[p - 1] != '\n') continue;
      size_t space = r.raw.find(' ', p);
      if (space == std::string::npos || space != p + series.size()) continue;
      return std::stod(r.raw.substr(space + 1, r.raw.find('\n', space) - space - 1));
    }
    return 0;
  }

  // Every operation ends; returns the last bodies.
  std::map<std::string, Json> WaitAll(const std::vector<std::string>& ops) {
    std::map<std::string, Json> out;
    for (const auto& op : ops) out[op] = Any().WaitOperation(op, 180000);
    return out;
  }

  // Nothing orphaned and quota equal to allocations: the team's usage is the sum of its live
  // nodes, the hypervisors' allocations are the same sum, and the simulated hypervisors' files
  // hold exactly one domain per live VM node.
  void ExpectConsistent(size_t live_clusters) {
    KaasdProcess& k = Any();
    auto list = k.Call("GET", "/api/v1/clusters?limit=100");
    ASSERT_EQ(list.status, 200) << list.raw;
    int64_t vcpus = 0, vm_nodes = 0;
    size_t live = 0;
    for (const auto& c : list.body["items"]) {
      if (c["status"] == "deleted") continue;
      ++live;
      EXPECT_EQ(c["status"], "running") << c.dump();
      auto full = k.Call("GET", "/api/v1/clusters/" + c["id"].get<std::string>());
      for (const auto& n : full.body["nodes"]) {
        EXPECT_EQ(n["state"], "ready") << n.dump();
        vcpus += n["vcpus"].get<int64_t>();
        vm_nodes += n.value("kind", "vm") == "vm";
      }
    }
    EXPECT_EQ(live, live_clusters);
    auto quota = k.Call("GET", "/api/v1/teams/payments/quota");
    EXPECT_EQ(quota.body["usage"]["clusters"], live_clusters) << quota.raw;
    EXPECT_EQ(quota.body["usage"]["vcpus"], vcpus) << quota.raw;
    int64_t allocated = 0;
    auto hypervisors = k.Call("GET", "/api/v1/hypervisors");
    for (const auto& h : hypervisors.body["items"]) {
      allocated += h["used"]["vcpus"].get<int64_t>();
    }
    EXPECT_EQ(allocated, vcpus);
    size_t domains = 0;
    for (const auto& file : SimFiles(shared_)) domains += SimDomains(file).size();
    EXPECT_EQ(domains, static_cast<size_t>(vm_nodes));
    auto orphans = k.Call("GET", "/api/v1/inventory/orphans");
    ASSERT_EQ(orphans.status, 200) << orphans.raw;
    EXPECT_TRUE(orphans.body["domains"].empty()) << orphans.raw;
    EXPECT_TRUE(orphans.body["hosts"].empty()) << orphans.raw;
  }

  std::string server_, url_;
  std::filesystem::path shared_;
  std::vector<std::unique_ptr<KaasdProcess>> replicas_;
};

// Six creates submitted through different replicas; the replica owning running operations is
// killed with kill -9 while they are at different steps. Every operation converges on the
// others, the killed replica's operations with a new epoch, the others' never taken from their
// live owner; nothing is orphaned and quota equals allocations; deletes leave nothing.
TEST_F(ReplicasTest, KillNineOfTheOwnerMidOperationEveryOperationConverges) {
  std::vector<std::string> clusters, ops;
  for (int i = 0; i < 6; ++i) {
    auto [cluster, op] = CreateDevCluster(*replicas_[i % kReplicas], "c" + std::to_string(i), 1);
    ASSERT_FALSE(op.empty());
    clusters.push_back(cluster);
    ops.push_back(op);
  }
  // Wait until some operation is past its first step and running; its owner is the victim.
  std::string victim;
  for (int i = 0; i < 600 && victim.empty(); ++i) {
    for (const auto& op : ops) {
      Json body = Operation(op);
      if (body["state"] == "running" && SucceededSteps(body) >= 1 &&
          !body["lease"]["owner"].get<std::string>().empty()) {
        victim = body["lease"]["owner"];
        break;
      }
    }
    if (victim.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(victim.empty()) << "no operation got past its first step";
  // Who held what when the victim died.
  std::map<std::string, Json> before;
  for (const auto& op : ops) before[op] = Operation(op);
  ASSERT_TRUE(ByName(victim).Kill());
  std::set<int> steps_at_kill;
  int victims_active = 0;
  for (const auto& [op, body] : before) {
    if (body["lease"]["owner"] == victim && Active(body)) {
      ++victims_active;
      steps_at_kill.insert(SucceededSteps(body));
    }
  }

  auto done = WaitAll(ops);
  for (const auto& [op, body] : done) {
    ASSERT_EQ(body["state"], "succeeded") << body.dump(2);
    EXPECT_EQ(body["lease"]["owner"], "") << "a finished operation keeps no lease";
    const Json& then = before[op];
    if (!Active(then)) continue;
    if (then["lease"]["owner"] == victim) {
      EXPECT_GT(body["lease"]["epoch"].get<int64_t>(), then["lease"]["epoch"].get<int64_t>())
          << op << " was not taken over";
    } else if (!then["lease"]["owner"].get<std::string>().empty()) {
      // Its owner stayed alive: nobody else ever claimed it.
      EXPECT_EQ(body["lease"]["epoch"], then["lease"]["epoch"]) << op << " changed hands";
    }
  }
  double takeovers = 0;
  for (auto& r : replicas_) {
    if (r->running()) takeovers += Metric(*r, "kaas_lease_takeovers_total");
  }
  EXPECT_GE(takeovers, victims_active);
  EXPECT_GE(victims_active, 1);
  RecordProperty("victim_operations", victims_active);
  RecordProperty("steps_done_at_kill", static_cast<int>(steps_at_kill.size()));
  ExpectConsistent(6);

  for (const auto& id : clusters) {
    auto del = Any().Call("DELETE", "/api/v1/clusters/" + id);
    ASSERT_EQ(del.status, 202) << del.raw;
    ops.push_back(del.body["operation"]["id"]);
  }
  for (const auto& [op, body] : WaitAll({ops.begin() + 6, ops.end()})) {
    EXPECT_EQ(body["state"], "succeeded") << body.dump(2);
  }
  ExpectConsistent(0);
}

// kill -9 of the owner at several step boundaries and in the middle of steps: fault injection
// makes the owning replica kill itself (SIGKILL) before a step starts, or after the step acted
// but before its result was recorded. Each time another replica takes the create over and
// finishes it; the killed replica is restarted under its name for the next case.
TEST_F(ReplicasTest, OwnerKilledAtSeveralStepBoundariesTheOthersFinish) {
  struct Case {
    const char* kind;
    const char* action;
  };
  const std::vector<Case> cases = {{"issue_pki", "crash"},
                                   {"provision_nodes", "crash_after_act"},
                                   {"bootstrap_first_master", "crash"},
                                   {"join_master", "crash_after_act"},
                                   {"join_workers", "crash"},
                                   {"verify", "crash_after_act"}};
  for (size_t n = 0; n < cases.size(); ++n) {
    SCOPED_TRACE(std::string(cases[n].action) + " at " + cases[n].kind);
    KaasdProcess& victim = *replicas_[n % kReplicas];
    auto rule = victim.Call(
        "PUT", "/api/v1/faults",
        Json{{"rules", {{{"on", "step"}, {"match", cases[n].kind}, {"action", cases[n].action}}}}}
            .dump());
    ASSERT_EQ(rule.status, 200) << rule.raw;
    auto [cluster, op] = CreateDevCluster(victim, "k" + std::to_string(n), 1);
    ASSERT_FALSE(op.empty());
    for (int i = 0; i < 1200 && victim.Alive(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_FALSE(victim.Alive()) << "the owner never reached the step";
    Json done = Any().WaitOperation(op, 120000);
    ASSERT_EQ(done["state"], "succeeded") << done.dump(2);
    EXPECT_GE(done["lease"]["epoch"].get<int64_t>(), 2) << "not taken over";
    ASSERT_TRUE(victim.Start()) << "the victim did not restart";
    ASSERT_FALSE(victim.LoginAdmin().empty());
  }
  ExpectConsistent(cases.size());
}

// The owner of a running create is paused (SIGSTOP) past its lease: another replica takes the
// operation over and finishes it. Resumed (SIGCONT), the stale replica records nothing: no step
// event with its epoch is written after it was paused, and it counts the lease as lost.
TEST_F(ReplicasTest, PausedOwnerIsTakenOverAndRecordsNothingWhenItResumes) {
  auto [cluster, op] = CreateDevCluster(*replicas_[0], "paused", 2);
  ASSERT_FALSE(op.empty());
  Json body;
  for (int i = 0; i < 1000; ++i) {
    body = Operation(op);
    if (!Active(body) || (SucceededSteps(body) >= 2 && body["lease"]["owner"] != "")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(body["state"], "running") << body.dump(2);
  const std::string stale = body["lease"]["owner"];
  const int64_t stale_epoch = body["lease"]["epoch"];
  KaasdProcess& owner = ByName(stale);
  ASSERT_TRUE(owner.Signal(SIGSTOP));
  const int64_t paused_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  // Another replica takes it over once the lease expired.
  std::string taker;
  for (int i = 0; i < 600 && taker.empty(); ++i) {
    for (auto& r : replicas_) {
      if (r.get() == &owner) continue;
      Json now = r->Call("GET", "/api/v1/operations/" + op).body;
      if (now["lease"]["epoch"].get<int64_t>() > stale_epoch || !Active(now)) {
        taker = now["lease"]["owner"];
        break;
      }
    }
    if (taker.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(taker.empty()) << "nobody took the operation over";
  EXPECT_NE(taker, stale);
  // Let the taker run a step or two, then wake the stale owner up in the middle of it.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_TRUE(owner.Signal(SIGCONT));

  Json done;
  for (auto& r : replicas_) {
    if (r.get() != &owner) done = r->WaitOperation(op, 120000);
  }
  ASSERT_EQ(done["state"], "succeeded") << done.dump(2);
  // The stale replica noticed (renewal or fenced write) and stopped.
  double lost = 0;
  for (int i = 0; i < 100 && lost < 1; ++i) {
    lost = Metric(owner, "kaas_leases_lost_total");
    if (lost < 1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(lost, 1);
  // The step history: every step event says who recorded it under which epoch. Nothing under
  // the stale epoch is dated after the pause, and the takeover's events come from the taker.
  auto db = store::Database::Open(url_, 1);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  std::vector<store::Event> events;
  ASSERT_OK((*db)->Read([&](store::Tx& tx) {
    events = store::events::ListForCluster(tx, cluster, "", 100000);
    return Status::Ok();
  }));
  int stale_events = 0, taker_events = 0;
  for (const auto& e : events) {
    if (e.kind != "step") continue;
    Json data = Json::parse(e.data);
    if (data["operation"] != op) continue;
    ASSERT_TRUE(data.contains("epoch")) << e.data;
    if (data["epoch"].get<int64_t>() <= stale_epoch) {
      ++stale_events;
      EXPECT_EQ(data["replica"], stale) << e.data;
      EXPECT_LT(e.at, paused_at) << "the stale replica recorded after its pause: " << e.data;
    } else {
      ++taker_events;
      EXPECT_NE(data["replica"], stale) << e.data;
    }
  }
  EXPECT_GT(stale_events, 0);
  EXPECT_GT(taker_events, 0);
  // Its operation is not the stale replica's any more, and it holds nothing.
  EXPECT_EQ(Metric(owner, "kaas_operations_owned{replica=\"" + stale + "\"}"), 0);
  ExpectConsistent(1);
}

// An event stream opened on one replica shows a change submitted through another: events come
// from the database, not from the process that made them.
TEST_F(ReplicasTest, EventStreamOnOneReplicaShowsAChangeSubmittedOnAnother) {
  auto [cluster, op] = CreateDevCluster(*replicas_[0], "watched", 1);
  ASSERT_EQ(replicas_[0]->WaitOperation(op, 120000)["state"], "succeeded");
  std::string delete_op;
  bool seen = false;
  std::thread reader([&, port = replicas_[1]->port(), token = replicas_[1]->admin_token()] {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(60, 0);
    httplib::Headers h = {{"Authorization", "Bearer " + token}};
    std::string buffer;
    cli.Get(("/api/v1/clusters/" + cluster + "/events").c_str(), h,
            [&](const char* data, size_t n) {
              buffer.append(data, n);
              // The delete's events (its operation and the cluster going `deleting`).
              if (buffer.find("\"deleting\"") != std::string::npos) {
                seen = true;
                return false;
              }
              return true;
            });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto del = replicas_[2]->Call("DELETE", "/api/v1/clusters/" + cluster);
  ASSERT_EQ(del.status, 202) << del.raw;
  reader.join();
  EXPECT_TRUE(seen);
  EXPECT_EQ(Any().WaitOperation(del.body["operation"]["id"], 120000)["state"], "succeeded");
}

// Every replica must seal with the same master key: one started with a key of its own (its own
// data dir) is refused, naming the fix; with the shared key file it starts.
TEST_F(ReplicasTest, AReplicaWithAnotherMasterKeyIsRefused) {
  KaasdProcess stranger({"--database", url_, "--replica-id", "r4"});
  EXPECT_FALSE(stranger.Start());
  std::ifstream log(stranger.data_dir() / "kaasd.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("every replica needs the same master key"), std::string::npos)
      << text.str();
  stranger.SetArgs({"--database", url_, "--replica-id", "r4", "--master-key",
                    (shared_ / "master.key").string()});
  EXPECT_TRUE(stranger.Start());
  EXPECT_EQ(stranger.Call("GET", "/readyz", "", "").body["replica"], "r4");
}

// Failed logins are counted in the database: guesses spread over the replicas are throttled as
// if they had all gone to one (5 per user and address by default).
TEST_F(ReplicasTest, FailedLoginsAreCountedAcrossReplicas) {
  auto login = [](KaasdProcess& k, const std::string& password) {
    return k.Call("POST", "/api/v1/auth/login",
                  Json{{"username", "admin"}, {"password", password}}.dump(), "");
  };
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(login(*replicas_[i % kReplicas], "guess-" + std::to_string(i)).status, 401);
  }
  for (auto& r : replicas_) {
    auto limited = login(*r, KaasdProcess::kAdminPassword);
    EXPECT_EQ(limited.status, 429) << limited.raw;
    EXPECT_TRUE(limited.headers.count("Retry-After"));
  }
}

}  // namespace
}  // namespace kaas::testing
