// The full cluster lifecycle through the real kaasd: scale, masters 1->3->5->3->1, resize,
// upgrade, cancel and retry, fault injection, server-sent events, and the crash matrix
// (SIGKILL of kaasd at every step boundary of every operation type, and once mid-step).

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kaasd_ = std::make_unique<KaasdProcess>(Args(0));
    ASSERT_TRUE(kaasd_->Start());
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
    ASSERT_EQ(
        kaasd_
            ->Call(
                "PUT", "/api/v1/teams/payments/quota",
                R"({"limits":{"clusters":50,"vcpus":2000,"memory_gib":8000,"physical_hosts":24}})")
            .status,
        200);
  }

  static std::vector<std::string> Args(int delay_ms) {
    return {"--fault-injection", "true", "--sim-delay-ms", std::to_string(delay_ms)};
  }

  void Restart(int delay_ms = 0) {
    kaasd_->SetArgs(Args(delay_ms));
    ASSERT_TRUE(kaasd_->Start()) << "kaasd did not restart";
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
  }

  std::string CreateRunning(const std::string& name, const std::string& purpose, int workers,
                            const std::string& version = "") {
    Json body = {{"name", name},
                 {"team", "payments"},
                 {"purpose", purpose},
                 {"workers", {{"count", workers}}}};
    if (!version.empty()) body["kubernetes_version"] = version;
    auto r = kaasd_->Call("POST", "/api/v1/clusters", body.dump());
    EXPECT_EQ(r.status, 202) << r.raw;
    EXPECT_EQ(kaasd_->WaitOperation(r.body["operation"]["id"])["state"], "succeeded");
    return r.body["cluster"]["id"];
  }

  HttpResult Post(const std::string& path, const std::string& body) {
    return kaasd_->Call("POST", path, body);
  }

  void SetFaults(const Json& rules) {
    auto r = kaasd_->Call("PUT", "/api/v1/faults", Json{{"rules", rules}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
  }

  // Every domain on the simulated hypervisors (name -> count).
  std::map<std::string, int> Domains() {
    std::map<std::string, int> out;
    for (const auto& file : SimFiles(kaasd_->data_dir())) {
      for (const auto& [name, running] : SimDomains(file)) out[name]++;
    }
    return out;
  }

  // The invariants after any operation ended: etcd at an odd member count, exactly the live
  // VM nodes as domains (no duplicate, no orphan), quota usage equal to the allocations.
  Json CheckInvariants(const std::string& cluster_id) {
    auto c = kaasd_->Call("GET", "/api/v1/clusters/" + cluster_id);
    int masters = 0;
    int64_t vcpus = 0;
    std::set<std::string> expected;
    for (const auto& n : c.body["nodes"]) {
      if (n["role"] == "master") ++masters;
      if (n["kind"] == "vm") {
        vcpus += n["vcpus"].get<int64_t>();
        expected.insert("kaas-" + cluster_id + "-" + n["name"].get<std::string>());
      }
    }
    EXPECT_EQ(masters % 2, 1) << "master count rests even: " << c.raw;
    EXPECT_EQ(c.body["masters"]["count"], masters);
    std::set<std::string> actual;
    for (const auto& [name, count] : Domains()) {
      EXPECT_EQ(count, 1) << name << " exists twice";
      if (name.find(cluster_id) != std::string::npos) actual.insert(name);
    }
    EXPECT_EQ(actual, expected);
    auto orphans = kaasd_->Call("GET", "/api/v1/inventory/orphans");
    EXPECT_TRUE(orphans.body["domains"].empty()) << orphans.raw;
    EXPECT_TRUE(orphans.body["hosts"].empty()) << orphans.raw;
    // Usage over all clusters of the team equals the sum of their live VM nodes.
    int64_t team_vcpus = 0;
    auto list = kaasd_->Call("GET", "/api/v1/clusters?limit=500");
    for (const auto& cl : list.body["items"]) {
      auto d = kaasd_->Call("GET", "/api/v1/clusters/" + cl["id"].get<std::string>());
      for (const auto& n : d.body["nodes"]) {
        if (n["kind"] == "vm") team_vcpus += n["vcpus"].get<int64_t>();
      }
    }
    auto quota = kaasd_->Call("GET", "/api/v1/teams/payments/quota");
    EXPECT_EQ(quota.body["usage"]["vcpus"], team_vcpus);
    (void)vcpus;
    return c.body;
  }

  // Runs `start` (which returns the operation id) with kaasd set to SIGKILL itself before the
  // (k+1)-th step, restarts it, and waits for the operation to converge. Returns the number of
  // steps of the operation.
  // `find` names the operation when kaasd died before it could answer `start`.
  size_t CrashAt(int k, const std::function<std::string()>& start,
                 const std::function<std::string()>& find, const std::string& action = "crash") {
    SetFaults(Json::array({{{"on", "step"}, {"action", action}, {"nth", k + 1}, {"times", 1}}}));
    std::string op = start();
    // Wait for the crash: the fault kills kaasd right before step k starts (or right after it
    // acted), so the process must die while the operation is still running.
    bool died = false;
    Json last;
    for (int i = 0; i < 1500 && !died; ++i) {
      auto r = kaasd_->Call("GET", "/api/v1/operations/" + op);
      // No answer is a death only when the process is gone: a kaasd starved of CPU (a loaded
      // machine) can miss the client's timeout and still be alive.
      died = r.status == 0 && !kaasd_->Alive();
      if (r.status != 0) {
        last = r.body;
        if (last["state"] != "pending" && last["state"] != "running") break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    bool was_alive = kaasd_->Kill();
    EXPECT_NE(was_alive, died);
    // What the crash interrupted, read from the database itself: the operation was running,
    // with exactly the steps before k done (after an act-then-crash, step k acted but was
    // never recorded). Only an operation with no step k may end without the crash.
    OperationAtRest at_rest = ReadOperationAtRest(kaasd_->data_dir(), op);
    if (!died) {
      EXPECT_EQ(at_rest.state, "succeeded") << last.dump(2);
      EXPECT_LE(at_rest.step_states.size(), static_cast<size_t>(k))
          << "the crash before step " << k << " never happened: " << last.dump(2);
    } else {
      EXPECT_TRUE(at_rest.state == "running" || at_rest.state == "pending")
          << "crash before step " << k << " left the operation " << at_rest.state;
      EXPECT_EQ(at_rest.SucceededSteps(), static_cast<size_t>(k)) << "crash before step " << k;
    }
    Restart();
    if (op.empty()) op = find();
    EXPECT_FALSE(op.empty());
    Json done = kaasd_->WaitOperation(op, 60000);
    EXPECT_EQ(done["state"], "succeeded") << "crash before step " << k << ": " << done.dump(2);
    return done["steps"].size();
  }

  // The id of a response field, or "" when kaasd died before answering.
  static std::string OpId(const HttpResult& r) {
    if (r.status != 202) return "";
    return r.body["operation"]["id"].get<std::string>();
  }
  // The newest operation of a cluster (found by id or by name).
  std::string LatestOp(const std::string& cluster_id) {
    auto ops = kaasd_->Call("GET", "/api/v1/clusters/" + cluster_id + "/operations");
    return ops.body["items"].empty() ? "" : ops.body["items"][0]["id"].get<std::string>();
  }
  std::string ClusterNamed(const std::string& name) {
    auto list = kaasd_->Call("GET", "/api/v1/clusters?limit=500");
    for (const auto& c : list.body["items"]) {
      if (c["name"] == name) return c["id"];
    }
    return "";
  }

  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(LifecycleTest, MastersGrowAndShrinkOneMemberAtATime) {
  std::string id = CreateRunning("ha", "personal", 1);
  auto grow = Post("/api/v1/clusters/" + id + "/masters", R"({"count":3})");
  ASSERT_EQ(grow.status, 202) << grow.raw;
  std::vector<std::string> kinds;
  for (const auto& s : grow.body["operation"]["steps"]) kinds.push_back(s["name"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{
                       "provision master-2, master-3", "health gate (1 etcd voters)",
                       "add master-2 to etcd as learner", "promote master-2 to voter",
                       "health gate (2 etcd voters)", "add master-3 to etcd as learner",
                       "promote master-3 to voter", "verify cluster"}));
  ASSERT_EQ(kaasd_->WaitOperation(grow.body["operation"]["id"])["state"], "succeeded");
  Json c = CheckInvariants(id);
  EXPECT_EQ(c["masters"]["count"], 3);
  std::set<std::string> hvs;
  for (const auto& n : c["nodes"]) {
    if (n["role"] == "master") hvs.insert(n["hypervisor"].get<std::string>());
  }
  EXPECT_EQ(hvs.size(), 3u);

  // Five masters need five hypervisors; the simulated datacenter has three.
  auto five = Post("/api/v1/clusters/" + id + "/masters", R"({"count":5})");
  EXPECT_EQ(five.status, 422);
  EXPECT_EQ(five.body["error"]["code"], "insufficient_capacity");
  auto five_ok =
      Post("/api/v1/clusters/" + id + "/masters", R"({"count":5,"allow_colocated_masters":true})");
  ASSERT_EQ(five_ok.status, 202) << five_ok.raw;
  ASSERT_EQ(kaasd_->WaitOperation(five_ok.body["operation"]["id"])["state"], "succeeded");
  EXPECT_EQ(CheckInvariants(id)["masters"]["count"], 5);

  auto shrink = Post("/api/v1/clusters/" + id + "/masters", R"({"count":1})");
  ASSERT_EQ(shrink.status, 202);
  // Each removal: health gate, etcd member removed, then its machine.
  std::vector<std::string> names;
  for (const auto& s : shrink.body["operation"]["steps"]) names.push_back(s["name"]);
  auto pos = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) - names.begin();
  };
  for (const char* m : {"master-5", "master-4", "master-3", "master-2"}) {
    EXPECT_LT(pos(std::string("remove ") + m + " from etcd"), pos(std::string("destroy ") + m))
        << m;
  }
  ASSERT_EQ(kaasd_->WaitOperation(shrink.body["operation"]["id"])["state"], "succeeded");
  Json one = CheckInvariants(id);
  EXPECT_EQ(one["masters"]["count"], 1);
  EXPECT_EQ(one["nodes"][0]["name"], "master-1");

  for (const char* bad : {R"({"count":2})", R"({"count":4})", R"({"count":0})", R"({"count":1})",
                          R"({"count":3,"flavor":"m.medium"})", R"({})"}) {
    auto r = Post("/api/v1/clusters/" + id + "/masters", bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.raw;
  }
}

TEST_F(LifecycleTest, WorkersCrossingFiftyResizeMastersFirstAndBackAfter) {
  std::string id = CreateRunning("grow", "dev", 2);
  auto dry = Post("/api/v1/clusters/" + id + "/workers?dry_run=true", R"({"count":51})");
  ASSERT_EQ(dry.status, 200) << dry.raw;
  EXPECT_EQ(dry.body["operation"]["steps"][1]["name"], "resize master-1");
  EXPECT_EQ(CheckInvariants(id)["workers"]["count"], 2);  // a dry run changes nothing

  auto up = Post("/api/v1/clusters/" + id + "/workers", R"({"count":51})");
  ASSERT_EQ(up.status, 202) << up.raw;
  ASSERT_EQ(kaasd_->WaitOperation(up.body["operation"]["id"], 60000)["state"], "succeeded");
  Json c = CheckInvariants(id);
  EXPECT_EQ(c["workers"]["count"], 51);
  EXPECT_EQ(c["masters"]["flavor"], "m.medium");
  for (const auto& n : c["nodes"]) {
    if (n["role"] == "master") EXPECT_EQ(n["vcpus"], 8);
  }
  auto down = Post("/api/v1/clusters/" + id + "/workers", R"({"count":3})");
  ASSERT_EQ(down.status, 202);
  auto steps = down.body["operation"]["steps"];
  EXPECT_EQ(steps[0]["name"].get<std::string>().rfind("drain", 0), 0u) << steps.dump();
  ASSERT_EQ(kaasd_->WaitOperation(down.body["operation"]["id"], 60000)["state"], "succeeded");
  c = CheckInvariants(id);
  EXPECT_EQ(c["workers"]["count"], 3);
  EXPECT_EQ(c["masters"]["flavor"], "m.small");
  EXPECT_EQ(Post("/api/v1/clusters/" + id + "/workers", R"({"count":501})").status, 400);
  EXPECT_EQ(Post("/api/v1/clusters/" + id + "/workers", R"({"count":"5"})").status, 400);
}

TEST_F(LifecycleTest, UpgradesOneMinorAtATimeMastersFirst) {
  std::string id = CreateRunning("old", "dev", 3, "1.35.4");
  auto skip = Post("/api/v1/clusters/" + id + "/upgrade", R"({"kubernetes_version":"1.37.2"})");
  EXPECT_EQ(skip.status, 422);
  EXPECT_EQ(skip.body["error"]["code"], "invalid_upgrade");
  auto down = Post("/api/v1/clusters/" + id + "/upgrade", R"({"kubernetes_version":"1.35.4"})");
  EXPECT_EQ(down.body["error"]["code"], "invalid_upgrade");
  auto unknown = Post("/api/v1/clusters/" + id + "/upgrade", R"({"kubernetes_version":"1.30.99"})");
  EXPECT_EQ(unknown.body["error"]["code"], "invalid_upgrade");

  auto up = Post("/api/v1/clusters/" + id + "/upgrade",
                 R"({"kubernetes_version":"1.36.1","max_unavailable":2})");
  ASSERT_EQ(up.status, 202) << up.raw;
  std::vector<std::string> names;
  for (const auto& s : up.body["operation"]["steps"]) names.push_back(s["name"]);
  EXPECT_EQ(names,
            (std::vector<std::string>{"health gate (3 etcd voters)", "upgrade master-1 to 1.36.1",
                                      "health gate (3 etcd voters)", "upgrade master-2 to 1.36.1",
                                      "health gate (3 etcd voters)", "upgrade master-3 to 1.36.1",
                                      "upgrade worker-1, worker-2 to 1.36.1",
                                      "upgrade worker-3 to 1.36.1", "verify cluster"}));
  ASSERT_EQ(kaasd_->WaitOperation(up.body["operation"]["id"])["state"], "succeeded");
  Json c = CheckInvariants(id);
  EXPECT_EQ(c["kubernetes_version"], "1.36.1");
  for (const auto& n : c["nodes"]) EXPECT_EQ(n["kubernetes_version"], "1.36.1") << n.dump();
  auto patch = Post("/api/v1/clusters/" + id + "/upgrade", R"({"kubernetes_version":"1.36.3"})");
  ASSERT_EQ(patch.status, 202);
  ASSERT_EQ(kaasd_->WaitOperation(patch.body["operation"]["id"])["state"], "succeeded");
  EXPECT_EQ(CheckInvariants(id)["kubernetes_version"], "1.36.3");
}

TEST_F(LifecycleTest, ChangesNeedARunningClusterWithoutAnActiveOperation) {
  kaasd_->Terminate();
  Restart(300);
  auto created = kaasd_->Call("POST", "/api/v1/clusters",
                              R"({"name":"busy","team":"payments","purpose":"personal"})");
  std::string id = created.body["cluster"]["id"];
  auto r = Post("/api/v1/clusters/" + id + "/workers", R"({"count":2})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["error"]["code"], "operation_in_progress");
  EXPECT_EQ(kaasd_->WaitOperation(created.body["operation"]["id"])["state"], "succeeded");
}

TEST_F(LifecycleTest, CancelledCreateIsDescribedAndDeletable) {
  kaasd_->Terminate();
  Restart(300);
  auto created =
      kaasd_->Call("POST", "/api/v1/clusters",
                   R"({"name":"halt","team":"payments","purpose":"dev","workers":{"count":2}})");
  std::string id = created.body["cluster"]["id"];
  std::string op = created.body["operation"]["id"];
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  auto cancel = Post("/api/v1/operations/" + op + "/cancel", "");
  ASSERT_EQ(cancel.status, 202) << cancel.raw;
  Json done = kaasd_->WaitOperation(op);
  EXPECT_EQ(done["state"], "cancelled");
  int cancelled = 0;
  for (const auto& s : done["steps"]) cancelled += s["state"] == "cancelled";
  EXPECT_GE(cancelled, 1);
  auto c = kaasd_->Call("GET", "/api/v1/clusters/" + id);
  EXPECT_EQ(c.body["status"], "error");
  EXPECT_NE(c.body["status_reason"].get<std::string>().find("cancelled"), std::string::npos);
  EXPECT_EQ(Post("/api/v1/operations/" + op + "/cancel", "").status, 409);
  auto del = kaasd_->Call("DELETE", "/api/v1/clusters/" + id);
  ASSERT_EQ(del.status, 202) << del.raw;
  ASSERT_EQ(kaasd_->WaitOperation(del.body["operation"]["id"])["state"], "succeeded");
  for (const auto& [name, n] : Domains()) EXPECT_EQ(name.find(id), std::string::npos) << name;
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/teams/payments/quota").body["usage"]["vcpus"], 0);
}

TEST_F(LifecycleTest, CancelDuringMembershipChangeStopsOnlyAtAnOddMemberCount) {
  std::string id = CreateRunning("odd", "personal", 0);
  kaasd_->Terminate();
  Restart(250);
  auto grow = Post("/api/v1/clusters/" + id + "/masters", R"({"count":3})");
  std::string op = grow.body["operation"]["id"];
  // Wait until master-2 is being promoted (voters about to be 2), then cancel.
  for (int i = 0; i < 200; ++i) {
    auto r = kaasd_->Call("GET", "/api/v1/operations/" + op);
    if (r.body["steps"][3]["state"] != "pending") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(Post("/api/v1/operations/" + op + "/cancel", "").status, 202);
  Json done = kaasd_->WaitOperation(op);
  EXPECT_EQ(done["state"], "cancelled") << done.dump(2);
  Json c = CheckInvariants(id);  // odd, no orphan, usage == allocations
  EXPECT_EQ(c["status"], "running");
  EXPECT_FALSE(c["status_reason"].get<std::string>().empty());
  EXPECT_EQ(c["masters"]["count"], 3) << "the cancel waited for the next odd count";
}

TEST_F(LifecycleTest, FailedStepsAreRetriedAndFailedOperationsResume) {
  // A transient hypervisor failure is retried with backoff: the operation succeeds, and the
  // step shows its attempts.
  SetFaults(Json::array({{{"on", "hypervisor"},
                          {"match", "ensure_domain"},
                          {"code", "unavailable"},
                          {"nth", 1},
                          {"times", 1}}}));
  auto a = kaasd_->Call("POST", "/api/v1/clusters",
                        R"({"name":"flaky","team":"payments","purpose":"personal"})");
  Json done = kaasd_->WaitOperation(a.body["operation"]["id"]);
  ASSERT_EQ(done["state"], "succeeded") << done.dump(2);
  EXPECT_EQ(done["steps"][2]["name"], "provision masters");
  EXPECT_EQ(done["steps"][2]["attempts"], 2);

  // A permanent failure fails the operation and describes where; retry resumes from there.
  SetFaults(Json::array({{{"on", "step"}, {"match", "join workers"}, {"code", "internal"}}}));
  auto b = kaasd_->Call(
      "POST", "/api/v1/clusters",
      R"({"name":"broken","team":"payments","purpose":"personal","workers":{"count":1}})");
  std::string id = b.body["cluster"]["id"];
  std::string op = b.body["operation"]["id"];
  Json failed = kaasd_->WaitOperation(op);
  ASSERT_EQ(failed["state"], "failed");
  auto c = kaasd_->Call("GET", "/api/v1/clusters/" + id);
  EXPECT_EQ(c.body["status"], "error");
  EXPECT_NE(c.body["status_reason"].get<std::string>().find("join workers"), std::string::npos);
  EXPECT_EQ(Post("/api/v1/clusters/" + id + "/workers", R"({"count":2})").status, 409);
  SetFaults(Json::array());
  auto retry = Post("/api/v1/operations/" + op + "/retry", "");
  ASSERT_EQ(retry.status, 202) << retry.raw;
  Json resumed = kaasd_->WaitOperation(op);
  ASSERT_EQ(resumed["state"], "succeeded") << resumed.dump(2);
  for (const auto& s : resumed["steps"]) {
    EXPECT_EQ(s["attempts"], s["name"] == "join workers" ? 2 : 1) << s.dump();
  }
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters/" + id).body["status"], "running");
  EXPECT_EQ(Post("/api/v1/operations/" + op + "/retry", "").status, 409);
  CheckInvariants(id);
}

TEST_F(LifecycleTest, EventsStreamEveryChangeAndResumeAfterLastEventId) {
  kaasd_->Terminate();
  Restart(100);
  auto created = kaasd_->Call("POST", "/api/v1/clusters",
                              R"({"name":"watched","team":"payments","purpose":"personal"})");
  std::string id = created.body["cluster"]["id"];
  // Follow the live stream until the cluster is running.
  std::vector<std::pair<std::string, Json>> events;
  std::string buffer, last_id;
  httplib::Client cli("127.0.0.1", kaasd_->port());
  cli.set_read_timeout(30, 0);
  httplib::Headers h = {{"Authorization", "Bearer " + kaasd_->admin_token()}};
  auto res =
      cli.Get(("/api/v1/clusters/" + id + "/events").c_str(), h, [&](const char* data, size_t n) {
        buffer.append(data, n);
        size_t end;
        while ((end = buffer.find("\n\n")) != std::string::npos) {
          std::string block = buffer.substr(0, end);
          buffer.erase(0, end + 2);
          std::string kind, payload, eid;
          size_t p = 0;
          while (p < block.size()) {
            size_t nl = block.find('\n', p);
            std::string line =
                block.substr(p, nl == std::string::npos ? std::string::npos : nl - p);
            if (line.rfind("event: ", 0) == 0) kind = line.substr(7);
            if (line.rfind("data: ", 0) == 0) payload = line.substr(6);
            if (line.rfind("id: ", 0) == 0) eid = line.substr(4);
            if (nl == std::string::npos) break;
            p = nl + 1;
          }
          if (kind.empty()) continue;
          last_id = eid;
          events.emplace_back(kind, Json::parse(payload));
          if (kind == "cluster" && events.back().second["status"] == "running") {
            return false;  // stop reading
          }
        }
        return true;
      });
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().first, "operation");
  EXPECT_EQ(events.front().second["state"], "pending");
  std::map<std::string, std::vector<std::string>> step_states;
  for (const auto& [kind, data] : events) {
    if (kind == "step") step_states[data["name"]].push_back(data["state"]);
  }
  size_t planned = created.body["operation"]["steps"].size();
  EXPECT_EQ(step_states.size(), planned);
  for (const auto& [name, states] : step_states) {
    EXPECT_EQ(states, (std::vector<std::string>{"running", "succeeded"})) << name;
  }
  EXPECT_EQ(events[events.size() - 2].second["state"], "succeeded");  // the operation
  EXPECT_EQ(events.back().second["status"], "running");               // then the cluster

  // A reconnect with Last-Event-ID gets only what came after.
  auto del = kaasd_->Call("DELETE", "/api/v1/clusters/" + id);
  kaasd_->WaitOperation(del.body["operation"]["id"]);
  httplib::Headers resume = h;
  resume.emplace("Last-Event-ID", last_id);
  auto rest = cli.Get(("/api/v1/clusters/" + id + "/events?follow=false").c_str(), resume);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->status, 200);
  EXPECT_EQ(rest->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(rest->body.find("\"type\":\"create\""), std::string::npos);
  EXPECT_NE(rest->body.find("\"type\":\"delete\""), std::string::npos);
  EXPECT_NE(rest->body.find("\"status\":\"deleted\""), std::string::npos);
}

// The crash matrix: kill -9 at every step boundary of create, scale_masters (1->3 and 3->1),
// resize_masters, upgrade and delete; after each restart the operation converges with no
// duplicate or orphaned domain, quota usage equal to the allocations and an odd master count.
TEST_F(LifecycleTest, CrashMatrixEveryStepBoundaryConverges) {
  // create
  for (int k = 0;; ++k) {
    std::string name = "c" + std::to_string(k), id;
    size_t steps = CrashAt(
        k,
        [&] {
          return OpId(kaasd_->Call("POST", "/api/v1/clusters",
                                   Json{{"name", name},
                                        {"team", "payments"},
                                        {"purpose", "dev"},
                                        {"workers", {{"count", 1}}}}
                                       .dump()));
        },
        [&] { return LatestOp(ClusterNamed(name)); });
    id = ClusterNamed(name);
    CheckInvariants(id);
    if (k + 1 >= static_cast<int>(steps)) break;
  }
  std::string id = CreateRunning("matrix", "personal", 1);
  auto latest = [&] { return LatestOp(id); };
  // scale_masters 1 -> 3 and back 3 -> 1, crashing at each boundary of each.
  for (int k = 0;; ++k) {
    size_t up = CrashAt(
        k, [&] { return OpId(Post("/api/v1/clusters/" + id + "/masters", R"({"count":3})")); },
        latest);
    EXPECT_EQ(CheckInvariants(id)["masters"]["count"], 3);
    size_t down = CrashAt(
        k, [&] { return OpId(Post("/api/v1/clusters/" + id + "/masters", R"({"count":1})")); },
        latest);
    EXPECT_EQ(CheckInvariants(id)["masters"]["count"], 1);
    if (k + 1 >= static_cast<int>(std::max(up, down))) break;
  }
  // resize_masters m.small <-> m.medium
  for (int k = 0;; ++k) {
    std::string flavor = k % 2 ? "m.small" : "m.medium";
    size_t steps = CrashAt(
        k,
        [&] {
          return OpId(Post("/api/v1/clusters/" + id + "/masters", Json{{"flavor", flavor}}.dump()));
        },
        latest);
    EXPECT_EQ(CheckInvariants(id)["masters"]["flavor"], flavor);
    if (k + 1 >= static_cast<int>(steps)) break;
  }
  // upgrade (a fresh cluster per boundary, so every boundary sees a real upgrade)
  for (int k = 0;; ++k) {
    std::string old = CreateRunning("u" + std::to_string(k), "personal", 1, "1.35.4");
    size_t steps = CrashAt(
        k,
        [&] {
          return OpId(
              Post("/api/v1/clusters/" + old + "/upgrade", R"({"kubernetes_version":"1.36.3"})"));
        },
        [&] { return LatestOp(old); });
    EXPECT_EQ(CheckInvariants(old)["kubernetes_version"], "1.36.3");
    if (k + 1 >= static_cast<int>(steps)) break;
  }
  // delete
  for (int k = 0;; ++k) {
    std::string victim = CreateRunning("d" + std::to_string(k), "dev", 1);
    size_t steps = CrashAt(
        k, [&] { return OpId(kaasd_->Call("DELETE", "/api/v1/clusters/" + victim)); },
        [&] { return LatestOp(victim); });
    EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters/" + victim).body["status"], "deleted");
    for (const auto& [name, n] : Domains()) EXPECT_EQ(name.find(victim), std::string::npos);
    if (k + 1 >= static_cast<int>(steps)) break;
  }
  // And once mid-step: the domains were created but the step's result never recorded.
  CrashAt(
      2,
      [&] {
        return OpId(kaasd_->Call(
            "POST", "/api/v1/clusters",
            R"({"name":"midstep","team":"payments","purpose":"dev","workers":{"count":1}})"));
      },
      [&] { return LatestOp(ClusterNamed("midstep")); }, "crash_after_act");
  CheckInvariants(ClusterNamed("midstep"));
}

}  // namespace
}  // namespace kaas::testing
