// kaas benchmarks (DESIGN.md §5). Each figure is measured against the real kaasd binary on
// loopback; results go to stdout as a table that docs/performance.md quotes.
//
//   engine      engine time of one create on the simulated hypervisor (op finished - created)
//   burst       N clusters created concurrently; time until every operation succeeded
//   reads       GET /clusters/{id} and a page of GET /clusters under C concurrent clients,
//               on a database seeded with many clusters; p50/p99 and throughput; kaasd RSS
//   baseline    a bare cpp-httplib hello-world served from this process, same load
//   webhooks    notifications delivered per second to a receiver on loopback (10 webhooks),
//               and POST /clusters latency and engine time with 0 and with 10 webhooks
//   replicas    on a throwaway PostgreSQL (scripts/start-postgres.sh): creates per second with
//               1 and with 3 kaasd replicas (`replicas N DELAY_MS`: N creates, simulated call
//               latency); the takeover time after kill -9 of the replica owning running
//               operations

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>

#include "kaas/common/clock.h"
#include "kaas/common/ids.h"
#include "kaas/lifecycle/health_monitor.h"
#include "kaas/store/database.h"
#include "kaas/store/repositories.h"
#include "kaasd_process.h"
#include "postgres_server.h"
#include "scratch_database.h"
#include "webhook_receiver.h"

using namespace kaas::testing;
using Clock = std::chrono::steady_clock;

namespace {

int64_t ParseMs(const std::string& t) {
  // 2026-11-27T11:07:31.352Z
  std::tm tm{};
  int ms = 0;
  if (sscanf(t.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

std::string Config(const std::filesystem::path& dir, int hv_vcpus) {
  auto path = dir / "bench.yaml";
  std::ofstream(path) << "quota_defaults:\n  clusters: 1000000\n  vcpus: 100000000\n"
                         "  memory_gib: 100000000\n  physical_hosts: 1000\n"
                      << "sim_hypervisor_vcpus: " << hv_vcpus
                      << "\nsim_hypervisor_memory_gib: " << hv_vcpus << "\n";
  return path.string();
}

long RssKib(int port) {
  // The kaasd listening on `port`: find it through /proc.
  std::string needle = "127.0.0.1:" + std::to_string(port);
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmd(e.path() / "cmdline");
    std::string c((std::istreambuf_iterator<char>(cmd)), {});
    if (c.find("kaasd") == std::string::npos || c.find(needle) == std::string::npos) continue;
    std::ifstream st(e.path() / "status");
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
  }
  return 0;
}

struct Load {
  std::vector<double> ms;
  double seconds = 0;
  size_t errors = 0;
};

// `clients` threads, each issuing `per_client` GETs of paths chosen by `path(i)`.
Load RunLoad(int port, int clients, int per_client, const std::string& token,
             const std::function<std::string(int)>& path) {
  Load load;
  std::mutex mu;
  std::atomic<size_t> errors{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      httplib::Headers h;
      if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
      std::vector<double> mine;
      for (int i = 0; i < per_client; ++i) {
        auto t0 = Clock::now();
        auto r = cli.Get(path(c * per_client + i).c_str(), h);
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!r || r->status != 200) errors++;
      }
      std::lock_guard lock(mu);
      load.ms.insert(load.ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  load.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  load.errors = errors;
  return load;
}

void Report(const char* name, const Load& l) {
  std::printf("| %-34s | %8.2f | %8.2f | %9.0f | %6zu |\n", name, Percentile(l.ms, 0.5),
              Percentile(l.ms, 0.99), l.ms.size() / l.seconds, l.errors);
}

void BenchEngine() {
  KaasdProcess kaasd;
  kaasd.SetArgs({"--config", Config(kaasd.data_dir(), 100000)});
  if (!kaasd.Start()) throw std::runtime_error("kaasd did not start");
  kaasd.LoginAdmin();
  kaasd.Call("POST", "/api/v1/teams", R"({"name":"bench"})");
  std::vector<double> engine_ms, wall_ms;
  for (int i = 0; i < 50; ++i) {
    auto t0 = Clock::now();
    auto r = kaasd.Call("POST", "/api/v1/clusters",
                        Json{{"name", "e" + std::to_string(i)},
                             {"team", "bench"},
                             {"purpose", "dev"},
                             {"workers", {{"count", 3}}}}
                            .dump());
    Json op = kaasd.WaitOperation(r.body["operation"]["id"]);
    wall_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    engine_ms.push_back(
        static_cast<double>(ParseMs(op["finished_at"]) - ParseMs(op["created_at"])));
  }
  std::printf("\nengine: create of a dev cluster (3 masters + 3 workers), 50 sequential runs\n");
  std::printf("  engine time (operation created -> finished): p50 %.0f ms, p99 %.0f ms\n",
              Percentile(engine_ms, 0.5), Percentile(engine_ms, 0.99));
  std::printf("  client wall time incl. 50 ms polling:        p50 %.0f ms\n",
              Percentile(wall_ms, 0.5));
}

void BenchBurst(int n) {
  KaasdProcess kaasd;
  kaasd.SetArgs({"--config", Config(kaasd.data_dir(), 100000)});
  if (!kaasd.Start()) throw std::runtime_error("kaasd did not start");
  std::string token = kaasd.LoginAdmin();
  kaasd.Call("POST", "/api/v1/teams", R"({"name":"burst"})");
  std::vector<std::string> ops(n);
  std::atomic<int> next{0}, refused{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < 32; ++c) {
    threads.emplace_back([&] {
      httplib::Client cli("127.0.0.1", kaasd.port());
      httplib::Headers h = {{"Authorization", "Bearer " + token}};
      for (int i = next++; i < n; i = next++) {
        auto r = cli.Post("/api/v1/clusters", h,
                          Json{{"name", "b" + std::to_string(i)},
                               {"team", "burst"},
                               {"purpose", "personal"},
                               {"workers", {{"count", 1}}}}
                              .dump(),
                          "application/json");
        if (!r || r->status != 202) {
          refused++;
          continue;
        }
        ops[i] = Json::parse(r->body)["operation"]["id"];
      }
    });
  }
  for (auto& t : threads) t.join();
  double admit_s = std::chrono::duration<double>(Clock::now() - t0).count();
  int failed = 0;
  for (const auto& op : ops) {
    if (op.empty()) continue;
    if (kaasd.WaitOperation(op, 300000)["state"] != "succeeded") failed++;
  }
  double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("\nburst: %d clusters (1 master + 1 worker each) created by 32 concurrent clients\n",
              n);
  std::printf(
      "  all admitted (202) after %.1f s; all operations succeeded after %.1f s; "
      "refused %d, failed %d; kaasd RSS %ld MiB\n",
      admit_s, total_s, refused.load(), failed, RssKib(kaasd.port()) / 1024);
}

// Seeds `clusters` clusters with `nodes_per` nodes each straight into the database (the API
// would also create their domains, which is what `burst` measures).
void Seed(const std::filesystem::path& dir, int clusters, int nodes_per) {
  auto db = kaas::store::Database::Open("sqlite://" + (dir / "kaas.db").string(), 1).value();
  // A seed that did not reach the database would make every figure after it meaningless.
  auto check = [](const char* what, const kaas::Status& st) {
    if (!st.ok()) throw std::runtime_error(std::string(what) + ": " + st.ToString());
  };
  check("migrate", db->Migrate());
  std::vector<std::string> teams;
  check("seed", db->Write([&](kaas::store::Tx& tx) {
    for (int t = 0; t < 100; ++t) {
      std::string id = kaas::NewId("tm");
      kaas::store::teams::Insert(tx, {id, "team-" + std::to_string(t), 1});
      teams.push_back(id);
    }
    for (int c = 0; c < clusters; ++c) {
      kaas::store::Cluster cl{kaas::NewId("cl"),
                              teams[c % 100],
                              "c" + std::to_string(c),
                              "dev",
                              "1.36.3",
                              "running",
                              "",
                              3,
                              "m.small",
                              "vm",
                              nodes_per - 3,
                              "vm",
                              "w.medium",
                              "admin",
                              1,
                              1};
      kaas::store::clusters::Insert(tx, cl);
      for (int n = 0; n < nodes_per; ++n) {
        bool master = n < 3;
        kaas::store::nodes::Insert(
            tx, {kaas::NewId("nd"), cl.id, (master ? "master-" : "worker-") + std::to_string(n + 1),
                 master ? "master" : "worker", "vm", master ? "m.small" : "w.medium", "ready",
                 "sim-" + std::to_string(n % 3 + 1), "", 4, master ? 4 : 8, "", "1.36.3", 1, 1});
      }
    }
    return kaas::Status::Ok();
  }));
}

void BenchReads(int clusters, int nodes_per, int clients) {
  KaasdProcess kaasd;
  auto t0 = Clock::now();
  Seed(kaasd.data_dir(), clusters, nodes_per);
  std::printf("\nreads: %d clusters / %d nodes seeded in %.1f s; %d concurrent clients\n", clusters,
              clusters * nodes_per, std::chrono::duration<double>(Clock::now() - t0).count(),
              clients);
  kaasd.SetArgs({"--config", Config(kaasd.data_dir(), 100000000)});
  if (!kaasd.Start()) throw std::runtime_error("kaasd did not start");
  std::string token = kaasd.LoginAdmin();
  auto page = kaasd.Call("GET", "/api/v1/clusters?limit=500");
  std::vector<std::string> ids;
  for (const auto& c : page.body["items"]) ids.push_back(c["id"]);
  std::printf("| %-34s | p50 ms   | p99 ms   | req/s     | errors |\n", "request");
  std::printf(
      "|------------------------------------|----------|----------|-----------|--------|\n");
  Report("GET /api/v1/clusters/{id}", RunLoad(kaasd.port(), clients, 400, token, [&](int i) {
           return "/api/v1/clusters/" + ids[i % ids.size()];
         }));
  Report("GET /api/v1/clusters?limit=50", RunLoad(kaasd.port(), clients, 100, token, [&](int i) {
           return "/api/v1/clusters?limit=50&cursor=" + ids[i % ids.size()];
         }));
  std::printf("kaasd RSS after the load: %ld MiB\n", RssKib(kaasd.port()) / 1024);

  // Bare cpp-httplib hello world, same client load, same machine.
  httplib::Server hello;
  hello.set_tcp_nodelay(true);
  hello.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"hello\":\"world\"}", "application/json");
  });
  int port = hello.bind_to_any_port("127.0.0.1");
  std::thread server([&] { hello.listen_after_bind(); });
  Report("baseline: bare cpp-httplib GET",
         RunLoad(port, clients, 400, "", [](int) { return std::string("/hello"); }));
  hello.stop();
  server.join();
}

// A fleet of hypervisors that list the domains they were given (the seeded nodes, all running
// but every `dead_every`-th one): what kaasd's own sweep costs, without libvirt's listing.
class ListingFleet : public kaas::provisioner::Fleet {
 public:
  class Listing : public kaas::provisioner::Hypervisor {
   public:
    explicit Listing(std::string name) : name_(std::move(name)) {}
    const std::string& name() const override { return name_; }
    kaas::Result<kaas::provisioner::DomainInfo> EnsureDomainRunning(
        const kaas::provisioner::DomainSpec&) override {
      return kaas::Internal("not in this benchmark");
    }
    kaas::Result<kaas::provisioner::DomainInfo> ResizeDomain(
        const kaas::provisioner::DomainSpec&) override {
      return kaas::Internal("not in this benchmark");
    }
    kaas::Status DestroyDomain(const std::string&) override { return kaas::Status::Ok(); }
    kaas::Status PowerOff(const std::string&) override { return kaas::Status::Ok(); }
    kaas::Result<kaas::provisioner::DomainInfo> FindDomain(const std::string& d) override {
      return kaas::NotFound(d);
    }
    kaas::Result<std::vector<kaas::provisioner::DomainInfo>> ListDomains() override {
      return domains;
    }
    std::vector<kaas::provisioner::DomainInfo> domains;

   private:
    std::string name_;
  };
  kaas::Result<kaas::provisioner::Hypervisor*> Get(const std::string& name,
                                                   const std::string&) override {
    auto& h = hvs[name];
    if (!h) h = std::make_unique<Listing>(name);
    return h.get();
  }
  std::map<std::string, std::unique_ptr<Listing>> hvs;
};

// One health sweep over `clusters` x `nodes_per` nodes on 3 hypervisors: the first (every node
// goes unknown -> healthy: one write each), then steady ones (nothing changed), then one with
// a dead worker VM in every 100th cluster (grace 0: each gets its repair in the same sweep).
void BenchHealth(int clusters, int nodes_per) {
  auto dir =
      std::filesystem::temp_directory_path() / ("kaas-bench-health-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  Seed(dir, clusters, nodes_per);
  auto db = kaas::store::Database::Open("sqlite://" + (dir / "kaas.db").string(), 4).value();
  ListingFleet fleet;
  std::vector<kaas::store::Node> nodes;
  if (!db->Write([&](kaas::store::Tx& tx) {
           for (int i = 1; i <= 3; ++i) {
             kaas::store::hypervisors::Insert(tx, {"sim-" + std::to_string(i), "test:///default",
                                                   100000000, 100000000, "active", 1});
           }
           nodes = kaas::store::nodes::ListLiveEverywhere(tx);
           return kaas::Status::Ok();
         }).ok()) {
    throw std::runtime_error("cannot register the hypervisors");
  }
  for (const auto& n : nodes) {
    auto* h = static_cast<ListingFleet::Listing*>(fleet.Get(n.hypervisor, "").value());
    h->domains.push_back({kaas::provisioner::DomainName(n.cluster_id, n.name), true});
  }
  kaas::SystemClock clock;
  kaas::quota::QuotaService quota(
      kaas::quota::Limits{1000000, 100000000, 100000000, 0});  // no quota in the way
  struct NoQueue : kaas::lifecycle::OperationQueue {
    void Submit(const std::string&) override {}
    void RequestCancel(const std::string&) override {}
  } queue;
  kaas::lifecycle::ClusterService service(*db, quota, queue, clock);
  kaas::lifecycle::HealthOptions options;
  options.grace_ms = 0;
  kaas::lifecycle::HealthMonitor monitor(*db, fleet, service, clock, options);
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
  };
  std::printf("\nhealth sweep: %d clusters / %zu nodes on 3 hypervisors (listings in memory)\n",
              clusters, nodes.size());
  std::printf("| sweep                               | wall s | CPU s | changed | repairs |\n");
  std::printf("|-------------------------------------|--------|-------|---------|---------|\n");
  auto sweep = [&](const char* what) {
    double c0 = cpu_now();
    auto t0 = Clock::now();
    auto r = monitor.Sweep();
    if (!r.ok()) throw std::runtime_error("sweep: " + r.status().ToString());
    std::printf("| %-35s | %6.2f | %5.2f | %7lld | %7zu |\n", what,
                std::chrono::duration<double>(Clock::now() - t0).count(), cpu_now() - c0,
                static_cast<long long>(r->changed), r->repairs.size());
  };
  sweep("first (every node unknown -> healthy)");
  sweep("steady (nothing changed)");
  sweep("steady again");
  // One worker VM in every 100th cluster (each cluster has nodes_per / 3 domains per
  // hypervisor, in order; the second one on sim-1 is a worker).
  int dead = 0;
  auto& first = fleet.hvs["sim-1"]->domains;
  const size_t per_cluster = static_cast<size_t>(nodes_per) / 3;
  for (size_t i = 1; i < first.size(); i += 100 * per_cluster) {
    first[i].running = false;
    ++dead;
  }
  sweep("dead VMs seen, repairs admitted");
  sweep("the next one (repairs pending)");
  std::printf("(%d VMs powered off)\n", dead);
  std::filesystem::remove_all(dir);
}

// What one Prometheus scrape costs at scale: GET /metrics on `clusters` seeded clusters, one
// scraper (as Prometheus does), then once more while 50 clients read clusters.
void BenchMetrics(int clusters, int nodes_per) {
  KaasdProcess kaasd;
  auto t0 = Clock::now();
  Seed(kaasd.data_dir(), clusters, nodes_per);
  std::printf("\nmetrics: %d clusters / %d nodes / 100 teams seeded in %.1f s\n", clusters,
              clusters * nodes_per, std::chrono::duration<double>(Clock::now() - t0).count());
  kaasd.SetArgs({"--config", Config(kaasd.data_dir(), 100000000)});
  if (!kaasd.Start()) throw std::runtime_error("kaasd did not start");
  std::string token = kaasd.LoginAdmin();
  auto scrape = kaasd.Call("GET", "/metrics", "", "");
  if (scrape.status != 200) throw std::runtime_error("GET /metrics failed");
  size_t lines = std::count(scrape.raw.begin(), scrape.raw.end(), '\n');
  std::printf("exposition: %zu bytes, %zu lines\n", scrape.raw.size(), lines);
  std::printf("| %-34s | p50 ms   | p99 ms   | req/s     | errors |\n", "request");
  std::printf(
      "|------------------------------------|----------|----------|-----------|--------|\n");
  Report("GET /metrics, one scraper",
         RunLoad(kaasd.port(), 1, 100, "", [](int) { return std::string("/metrics"); }));
  // Scrapes while the API is busy: what a scrape adds to a loaded kaasd, and what the load adds
  // to a scrape.
  auto page = kaasd.Call("GET", "/api/v1/clusters?limit=500");
  std::vector<std::string> ids;
  for (const auto& c : page.body["items"]) ids.push_back(c["id"]);
  Load scrapes;
  std::thread scraper([&] {
    scrapes = RunLoad(kaasd.port(), 1, 30, "", [](int) { return std::string("/metrics"); });
  });
  Report("GET /api/v1/clusters/{id}, 50 clients", RunLoad(kaasd.port(), 50, 200, token, [&](int i) {
           return "/api/v1/clusters/" + ids[i % ids.size()];
         }));
  scraper.join();
  Report("GET /metrics during that load", scrapes);
  std::printf("kaasd RSS after the load: %ld MiB\n", RssKib(kaasd.port()) / 1024);
}

// POST /clusters latency and engine time of `n` sequential personal creates.
std::pair<std::vector<double>, std::vector<double>> Creates(KaasdProcess& kaasd,
                                                            const std::string& prefix, int n) {
  std::vector<double> post_ms, engine_ms;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto r = kaasd.Call("POST", "/api/v1/clusters",
                        Json{{"name", prefix + std::to_string(i)},
                             {"team", "hooks"},
                             {"purpose", "personal"},
                             {"workers", {{"count", 1}}}}
                            .dump());
    post_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (r.status != 202) throw std::runtime_error("create refused: " + r.raw);
    Json op = kaasd.WaitOperation(r.body["operation"]["id"]);
    engine_ms.push_back(
        static_cast<double>(ParseMs(op["finished_at"]) - ParseMs(op["created_at"])));
  }
  return {post_ms, engine_ms};
}

void BenchWebhooks() {
  KaasdProcess kaasd;
  kaasd.SetArgs({"--config", Config(kaasd.data_dir(), 100000), "--webhook-allow-loopback", "true"});
  if (!kaasd.Start()) throw std::runtime_error("kaasd did not start");
  kaasd.LoginAdmin();
  kaasd.Call("POST", "/api/v1/teams", R"({"name":"hooks"})");
  auto [post0, engine0] = Creates(kaasd, "none", 30);

  WebhookReceiver receiver;
  std::vector<std::string> hooks;
  for (int i = 0; i < 10; ++i) {
    auto r = kaasd.Call("POST", "/api/v1/teams/hooks/webhooks",
                        Json{{"url", receiver.url("/" + std::to_string(i))},
                             {"format", i % 2 ? "slack" : "json"},
                             {"events", {"operation.succeeded", "cluster.created"}},
                             {"secret", "bench"}}
                            .dump());
    if (r.status != 201) throw std::runtime_error("webhook refused: " + r.raw);
    hooks.push_back(r.body["id"]);
  }
  auto [post10, engine10] = Creates(kaasd, "ten", 30);
  // 30 creates x 2 events x 10 webhooks.
  receiver.WaitFor([](const auto& r) { return r.size() >= 600; }, 60000);

  // Throughput: 2,000 test notifications queued as fast as the API takes them.
  const size_t before = receiver.received().size();
  const int per_hook = 200;
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (const auto& id : hooks) {
    threads.emplace_back([&, id] {
      httplib::Client cli("127.0.0.1", kaasd.port());
      httplib::Headers h = {{"Authorization", "Bearer " + kaasd.admin_token()}};
      for (int i = 0; i < per_hook; ++i) cli.Post("/api/v1/webhooks/" + id + "/test", h, "", "");
    });
  }
  for (auto& t : threads) t.join();
  double queued_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const size_t want = before + hooks.size() * per_hook;
  bool all = receiver.WaitFor([&](const auto& r) { return r.size() >= want; }, 300000);
  double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("\nwebhooks: 10 webhooks on a receiver on loopback, 2 delivery workers\n");
  std::printf("  %d test notifications queued in %.1f s, %s delivered after %.1f s: %.0f/s\n",
              static_cast<int>(hooks.size()) * per_hook, queued_s, all ? "all" : "NOT all", total_s,
              (receiver.received().size() - before) / total_s);
  std::printf(
      "  POST /clusters p50 %.1f ms, p99 %.1f ms with no webhook; p50 %.1f ms, p99 %.1f ms "
      "with 10\n",
      Percentile(post0, 0.5), Percentile(post0, 0.99), Percentile(post10, 0.5),
      Percentile(post10, 0.99));
  std::printf("  engine time of a create p50 %.0f ms with no webhook, %.0f ms with 10\n",
              Percentile(engine0, 0.5), Percentile(engine10, 0.5));
}

// `n` replicas on a fresh database of `server`, sharing one data dir.
struct Replicas {
  std::string url;
  std::filesystem::path shared;
  std::vector<std::unique_ptr<KaasdProcess>> kaasd;
};
Replicas StartReplicas(const PostgresServer& server, int n, int sim_delay_ms,
                       const std::string& expiry_s) {
  Replicas r;
  auto url = CreateScratchDatabase(server.url(), "bench");
  if (!url.ok()) throw std::runtime_error(url.status().ToString());
  r.url = *url;
  char tmpl[] = "/tmp/kaas-bench-shared-XXXXXX";
  r.shared = mkdtemp(tmpl);
  for (int i = 0; i < n; ++i) {
    r.kaasd.push_back(std::make_unique<KaasdProcess>(std::vector<std::string>{
        "--config", Config(r.shared, 100000), "--database", r.url, "--data-dir", r.shared.string(),
        "--replica-id", "r" + std::to_string(i + 1), "--sim-delay-ms", std::to_string(sim_delay_ms),
        "--lease-expiry-s", expiry_s}));
    if (!r.kaasd.back()->Start()) throw std::runtime_error("replica did not start");
    r.kaasd.back()->LoginAdmin();
  }
  r.kaasd[0]->Call("POST", "/api/v1/teams", R"({"name":"bench"})");
  return r;
}

void BenchReplicas(int n, int sim_delay_ms) {
  PostgresServer server("kaas-bench-pg");
  if (!server.Start()) throw std::runtime_error("cannot start PostgreSQL");
  const int kSimDelayMs = sim_delay_ms;
  std::printf(
      "\nreplicas: %d personal clusters (1 master + 1 worker) created by 16 clients spread "
      "over the replicas, --sim-delay-ms %d, one PostgreSQL 15 on this machine\n",
      n, kSimDelayMs);
  std::printf("| replicas | all admitted | all succeeded | creates/s | failed |\n");
  std::printf("|----------|--------------|---------------|-----------|--------|\n");
  for (int count : {1, 3}) {
    Replicas r = StartReplicas(server, count, kSimDelayMs, "15");
    std::vector<std::string> ops(n);
    std::atomic<int> next{0}, refused{0};
    auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < 16; ++c) {
      threads.emplace_back([&, c] {
        KaasdProcess& k = *r.kaasd[c % count];
        httplib::Client cli("127.0.0.1", k.port());
        httplib::Headers h = {{"Authorization", "Bearer " + k.admin_token()}};
        for (int i = next++; i < n; i = next++) {
          auto res = cli.Post("/api/v1/clusters", h,
                              Json{{"name", "b" + std::to_string(i)},
                                   {"team", "bench"},
                                   {"purpose", "personal"},
                                   {"workers", {{"count", 1}}}}
                                  .dump(),
                              "application/json");
          if (!res || res->status != 202) {
            refused++;
            continue;
          }
          ops[i] = Json::parse(res->body)["operation"]["id"];
        }
      });
    }
    for (auto& t : threads) t.join();
    double admit_s = std::chrono::duration<double>(Clock::now() - t0).count();
    int failed = refused;
    for (const auto& op : ops) {
      if (!op.empty() && r.kaasd[0]->WaitOperation(op, 600000)["state"] != "succeeded") failed++;
    }
    double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("| %8d | %10.1f s | %11.1f s | %9.1f | %6d |\n", count, admit_s, total_s,
                n / total_s, failed);
    r.kaasd.clear();
    (void)DropScratchDatabase(server.url(), r.url);
    std::error_code ec;
    std::filesystem::remove_all(r.shared, ec);
  }

  // Takeover: 6 dev creates on r1 (300 ms per simulated call, so they are mid-way), r1 killed;
  // the time from the kill until each of its operations has a new owner, and until all end.
  for (const char* expiry : {"15", "5"}) {
    Replicas r = StartReplicas(server, 3, 300, expiry);
    std::vector<std::string> ops;
    for (int i = 0; i < 6; ++i) {
      auto res = r.kaasd[0]->Call("POST", "/api/v1/clusters",
                                  Json{{"name", "t" + std::to_string(i)},
                                       {"team", "bench"},
                                       {"purpose", "dev"},
                                       {"workers", {{"count", 1}}}}
                                      .dump());
      ops.push_back(res.body["operation"]["id"]);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    std::map<std::string, int64_t> owned;  // r1's running operations and their epochs
    for (const auto& op : ops) {
      Json body = r.kaasd[1]->Call("GET", "/api/v1/operations/" + op).body;
      if (body["state"] == "running" && body["lease"]["owner"] == "r1") {
        owned[op] = body["lease"]["epoch"];
      }
    }
    r.kaasd[0]->Kill();
    auto killed = Clock::now();
    std::vector<double> takeover_s;
    std::set<std::string> moved;
    while (moved.size() < owned.size() && Clock::now() - killed < std::chrono::seconds(120)) {
      for (const auto& [op, epoch] : owned) {
        if (moved.count(op)) continue;
        Json body = r.kaasd[1]->Call("GET", "/api/v1/operations/" + op).body;
        if (body["lease"]["epoch"].get<int64_t>() > epoch) {
          moved.insert(op);
          takeover_s.push_back(std::chrono::duration<double>(Clock::now() - killed).count());
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    int failed = 0;
    for (const auto& op : ops) {
      if (r.kaasd[1]->WaitOperation(op, 300000)["state"] != "succeeded") failed++;
    }
    double all_s = std::chrono::duration<double>(Clock::now() - killed).count();
    std::printf(
        "  takeover after kill -9 (--lease-expiry-s %s, poll 1 s): %zu of r1's operations "
        "running; each had a new owner after %.1f s (first) .. %.1f s (last); all 6 "
        "succeeded %.1f s after the kill; failed %d\n",
        expiry, owned.size(), Percentile(takeover_s, 0), Percentile(takeover_s, 1), all_s, failed);
    r.kaasd.clear();
    (void)DropScratchDatabase(server.url(), r.url);
    std::error_code ec;
    std::filesystem::remove_all(r.shared, ec);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "all";
  int clusters = argc > 2 ? std::atoi(argv[2]) : 10000;
  try {
    if (only == "all" || only == "engine") BenchEngine();
    if (only == "all" || only == "burst") BenchBurst(1000);
    if (only == "all" || only == "reads") BenchReads(clusters, 12, 50);
    if (only == "all" || only == "health") BenchHealth(clusters, 12);
    if (only == "all" || only == "metrics") BenchMetrics(clusters, 12);
    if (only == "all" || only == "webhooks") BenchWebhooks();
    if (only == "all" || only == "replicas") {
      BenchReplicas(argc > 2 ? clusters : 300, argc > 3 ? std::atoi(argv[3]) : 50);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench failed: %s\n", e.what());
    return 1;
  }
  return 0;
}
