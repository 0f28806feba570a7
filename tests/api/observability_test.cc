// Observability against real servers: a throwaway Prometheus (Debian's `prometheus`, loopback,
// its own port and data dir, scrape and rule evaluation every second) scrapes a real kaasd with
// fault injection, loads deploy/prometheus/kaas-alerts.yml, and is asked through its HTTP API
// what it saw; promtool checks the rule file and kaasd's exposition.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <thread>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const fs::path kRules = fs::path(KAAS_SOURCE_DIR) / "deploy/prometheus/kaas-alerts.yml";
constexpr double kGiB = 1024.0 * 1024 * 1024;

// Polls `ok` every 250 ms until it holds or `seconds` pass; true when it held.
bool Eventually(const std::function<bool()>& ok, int seconds = 60) {
  const auto deadline = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return ok();
}

// A Prometheus server of the test's own, killed and removed with it.
class PrometheusProcess {
 public:
  PrometheusProcess() {
    char tmpl[] = "/tmp/kaas-prometheus-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Starts Prometheus scraping kaasd at `target` (host:port) with the kaas rules loaded; true
  // once its readiness endpoint answers.
  bool Start(const std::string& target) {
    port_ = FreePort();
    std::ofstream(dir_ / "prometheus.yml") << "global:\n"
                                              "  scrape_interval: 1s\n"
                                              "  evaluation_interval: 1s\n"
                                              "rule_files:\n"
                                              "  - "
                                           << kRules.string()
                                           << "\n"
                                              "scrape_configs:\n"
                                              "  - job_name: kaas\n"
                                              "    static_configs:\n"
                                              "      - targets: ['"
                                           << target << "']\n";
    std::vector<std::string> args = {
        "/usr/bin/prometheus", "--config.file=" + (dir_ / "prometheus.yml").string(),
        "--storage.tsdb.path=" + (dir_ / "data").string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    std::string log = (dir_ / "prometheus.log").string();
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    httplib::Client cli("127.0.0.1", port_);
    return Eventually(
        [&] {
          auto res = cli.Get("/-/ready");
          return res && res->status == 200;
        },
        30);
  }

  Json Get(const std::string& path, const httplib::Params& params = {}) {
    httplib::Client cli("127.0.0.1", port_);
    auto res = cli.Get(path, params, httplib::Headers{});
    if (!res || res->status != 200) return Json();
    return Json::parse(res->body, nullptr, false);
  }

  // The instant vector of a PromQL query: labels of each sample -> value.
  std::vector<std::pair<Json, double>> Query(const std::string& promql) {
    Json r = Get("/api/v1/query", {{"query", promql}});
    std::vector<std::pair<Json, double>> out;
    if (!r.is_object() || r.value("status", "") != "success") return out;
    for (const auto& s : r["data"]["result"]) {
      out.emplace_back(s["metric"], std::stod(s["value"][1].get<std::string>()));
    }
    return out;
  }
  // The value of a query answering one sample; NaN when it answers none.
  double Scalar(const std::string& promql) {
    auto v = Query(promql);
    return v.size() == 1 ? v[0].second : std::nan("");
  }

  const fs::path& dir() const { return dir_; }
  std::string Log() const {
    std::ifstream in(dir_ / "prometheus.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  fs::path dir_;
  int port_ = 0;
  int pid_ = -1;
};

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/bin/prometheus") || !fs::exists("/usr/bin/promtool")) {
      GTEST_FAIL() << "Debian's prometheus package is needed (scripts/install-deps.sh)";
    }
    // The test client on 127.0.0.1 plays the reverse proxy whose request ids kaasd keeps.
    kaasd_ = std::make_unique<KaasdProcess>(
        std::vector<std::string>{"--fault-injection", "true", "--trusted-proxies", "127.0.0.1"});
    ASSERT_TRUE(kaasd_->Start());
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
    ASSERT_EQ(kaasd_
                  ->Call("PUT", "/api/v1/teams/payments/quota",
                         R"({"limits":{"clusters":10,"vcpus":100,"memory_gib":200}})")
                  .status,
              200);
  }

  // Creates a cluster and waits for its operation; returns the operation's final state.
  std::string Create(const std::string& name) {
    auto r = kaasd_->Call("POST", "/api/v1/clusters",
                          Json{{"name", name},
                               {"team", "payments"},
                               {"purpose", "personal"},
                               {"workers", {{"count", 2}, {"kind", "vm"}, {"flavor", "w.small"}}}}
                              .dump());
    EXPECT_EQ(r.status, 202) << r.raw;
    if (r.status != 202) return "";
    return kaasd_->WaitOperation(r.body["operation"]["id"])["state"].get<std::string>();
  }

  std::unique_ptr<KaasdProcess> kaasd_;
};

TEST_F(ObservabilityTest, PrometheusSeesOperationsCapacityQuotaAndTheFailureAlert) {
  PrometheusProcess prom;
  ASSERT_TRUE(prom.Start("127.0.0.1:" + std::to_string(kaasd_->port()))) << prom.Log();
  // The first scrape happens before any operation, so that every counter starts at zero.
  ASSERT_TRUE(Eventually([&] { return prom.Scalar("up{job=\"kaas\"}") == 1; }, 30)) << prom.Log();
  ASSERT_TRUE(
      Eventually([&] { return prom.Scalar("sum(kaas_operation_duration_seconds_count)") == 0; }));

  EXPECT_EQ(Create("one"), "succeeded");
  // A transient failure, retried after a backoff: the create still succeeds.
  ASSERT_EQ(kaasd_
                ->Call("PUT", "/api/v1/faults",
                       R"({"rules":[{"on":"step","match":"issue_pki","code":"unavailable"}]})")
                .status,
            200);
  EXPECT_EQ(Create("two"), "succeeded");
  // A permanent failure of the last step of the next create.
  ASSERT_EQ(kaasd_
                ->Call("PUT", "/api/v1/faults",
                       R"({"rules":[{"on":"step","match":"verify","code":"internal"}]})")
                .status,
            200);
  EXPECT_EQ(Create("three"), "failed");

  // The operation histograms count them, by outcome.
  EXPECT_TRUE(Eventually([&] {
    return prom.Scalar(
               "sum(kaas_operation_duration_seconds_count{type=\"create\",outcome=\"succeeded\"}"
               ")") == 2 &&
           prom.Scalar(
               "sum(kaas_operation_duration_seconds_count{type=\"create\",outcome=\"failed\"})") ==
               1;
  })) << prom.Get("/api/v1/query", {{"query", "kaas_operation_duration_seconds_count"}}).dump();
  EXPECT_TRUE(Eventually([&] {
    return prom.Scalar("sum(kaas_step_failures_total{kind=\"verify\",code=\"internal\"})") == 1 &&
           prom.Scalar("sum(kaas_step_failures_total{kind=\"issue_pki\",code=\"unavailable\"})") ==
               1 &&
           prom.Scalar("sum(kaas_step_retries_total{kind=\"issue_pki\"})") == 1 &&
           prom.Scalar(
               "sum(kaas_step_duration_seconds_count{kind=\"issue_pki\",outcome=\"retried\"})") ==
               1 &&
           prom.Scalar(
               "sum(kaas_step_duration_seconds_count{kind=\"verify\",outcome=\"failed\"})") == 1;
  })) << prom.Get("/api/v1/query", {{"query", "kaas_step_failures_total"}}).dump();
  // The HTTP histogram has the route pattern, never the cluster id.
  EXPECT_TRUE(Eventually([&] {
    return prom.Scalar(
               "sum(kaas_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/"
               "clusters\"})") == 3;
  }));
  EXPECT_TRUE(prom.Query("{__name__=~\"kaas_.+\",route=~\".*cl-.*\"}").empty());
  // Buckets are cumulative and end at +Inf = _count.
  EXPECT_EQ(prom.Scalar("sum(kaas_operation_duration_seconds_bucket{type=\"create\",le=\"+Inf\"})"),
            3);

  // Capacity gauges equal what GET /hypervisors says (after the next scrape).
  auto hvs = kaasd_->Call("GET", "/api/v1/hypervisors");
  ASSERT_EQ(hvs.status, 200);
  Json items = hvs.body.is_array() ? hvs.body : hvs.body["items"];
  ASSERT_FALSE(items.empty());
  for (const auto& h : items) {
    const std::string name = h["name"];
    const std::string sel = "{hypervisor=\"" + name + "\"}";
    EXPECT_TRUE(Eventually([&] {
      return prom.Scalar("kaas_hypervisor_vcpus" + sel) == h["vcpus"].get<double>() &&
             prom.Scalar("kaas_hypervisor_memory_bytes" + sel) ==
                 h["memory_gib"].get<double>() * kGiB &&
             prom.Scalar("kaas_hypervisor_vcpus_allocated" + sel) ==
                 h["used"]["vcpus"].get<double>() &&
             prom.Scalar("kaas_hypervisor_memory_allocated_bytes" + sel) ==
                 h["used"]["memory_gib"].get<double>() * kGiB;
    })) << name
        << ": " << h.dump();
  }
  // Something was allocated, or the comparison above proves little.
  EXPECT_GT(prom.Scalar("sum(kaas_hypervisor_vcpus_allocated)"), 0);

  // Quota gauges equal GET /teams/payments/quota.
  auto quota = kaasd_->Call("GET", "/api/v1/teams/payments/quota");
  ASSERT_EQ(quota.status, 200);
  for (const char* kind : {"limits", "usage"}) {
    const std::string metric =
        std::string(kind) == "limits" ? "kaas_quota_limit" : "kaas_quota_usage";
    for (const char* resource : {"clusters", "vcpus", "memory_gib", "physical_hosts"}) {
      const bool memory = std::string(resource) == "memory_gib";
      const double want = quota.body[kind][resource].get<double>() * (memory ? kGiB : 1);
      const std::string sel = metric + "{team=\"payments\",resource=\"" +
                              (memory ? std::string("memory_bytes") : std::string(resource)) +
                              "\"}";
      EXPECT_TRUE(Eventually([&] { return prom.Scalar(sel) == want; }))
          << sel << " should be " << want << ", is " << prom.Scalar(sel);
    }
  }
  EXPECT_EQ(quota.body["usage"]["clusters"], 3);  // the failed one keeps its allocation

  // The failure-ratio alert's expression holds: Prometheus has it pending (its `for` runs) or
  // firing.
  EXPECT_TRUE(Eventually([&] {
    Json alerts = prom.Get("/api/v1/alerts");
    if (!alerts.is_object()) return false;
    for (const auto& a : alerts["data"]["alerts"]) {
      if (a["labels"]["alertname"] == "KaasOperationFailureRatioHigh") return true;
    }
    return false;
  })) << prom.Get("/api/v1/rules").dump();
  // Every query of the Grafana dashboard is one Prometheus accepts.
  std::ifstream dashboard_file(fs::path(KAAS_SOURCE_DIR) / "deploy/grafana/kaas-dashboard.json");
  Json dashboard = Json::parse(dashboard_file, nullptr, false);
  ASSERT_TRUE(dashboard.is_object());
  int queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel.value("targets", Json::array())) {
      const std::string expr = target["expr"];
      Json r = prom.Get("/api/v1/query", {{"query", expr}});
      EXPECT_EQ(r.is_object() ? r.value("status", "") : "", "success") << expr;
      ++queries;
    }
  }
  EXPECT_GT(queries, 20);
  // And the other alerts stay quiet on a healthy, mostly empty platform.
  Json alerts = prom.Get("/api/v1/alerts");
  for (const auto& a : alerts["data"]["alerts"]) {
    EXPECT_EQ(a["labels"]["alertname"], "KaasOperationFailureRatioHigh") << a.dump();
  }
}

TEST_F(ObservabilityTest, PromtoolAcceptsTheRulesAndTheExposition) {
  EXPECT_EQ(Shell("promtool check rules " + kRules.string() + " > /dev/null"), 0);
  EXPECT_EQ(Create("one"), "succeeded");
  auto metrics = kaasd_->Call("GET", "/metrics", "", "");
  ASSERT_EQ(metrics.status, 200);
  const fs::path file = kaasd_->data_dir() / "exposition.txt";
  std::ofstream(file) << metrics.raw;
  EXPECT_EQ(Shell("promtool check metrics < " + file.string()), 0) << metrics.raw;
}

TEST_F(ObservabilityTest, EveryAnswerCarriesARequestIdThatTheLogRepeats) {
  // From a trusted proxy a sane id is kept; a hostile one is replaced. From anyone else even a
  // sane one is replaced (a second kaasd that trusts no proxy).
  {
    KaasdProcess untrusting;
    ASSERT_TRUE(untrusting.Start());
    httplib::Client direct("127.0.0.1", untrusting.port());
    auto mine = direct.Get("/healthz", {{"X-Request-Id", "trace-42.a_b"}});
    ASSERT_TRUE(mine);
    EXPECT_EQ(mine->get_header_value("X-Request-Id").rfind("req-", 0), 0u)
        << mine->get_header_value("X-Request-Id");
  }
  httplib::Client cli("127.0.0.1", kaasd_->port());
  auto kept = cli.Get("/healthz", {{"X-Request-Id", "trace-42.a_b"}});
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->get_header_value("X-Request-Id"), "trace-42.a_b");
  auto replaced = cli.Get("/healthz", {{"X-Request-Id", "evil\",\"level\":\"x"}});
  ASSERT_TRUE(replaced);
  EXPECT_EQ(replaced->get_header_value("X-Request-Id").rfind("req-", 0), 0u);
  auto generated = cli.Get("/api/v1/me");
  ASSERT_TRUE(generated);
  EXPECT_EQ(generated->get_header_value("X-Request-Id").rfind("req-", 0), 0u);
  // Also on answers the HTTP layer gives before any handler runs (a body over 1 MiB).
  auto too_big = cli.Post("/api/v1/clusters", httplib::Headers{{"X-Request-Id", "big-1"}},
                          std::string(2 << 20, 'x'), "application/json");
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);
  EXPECT_EQ(too_big->get_header_value("X-Request-Id"), "big-1");

  // One request id leads to the operation, and the operation's lines carry it and the cluster.
  httplib::Headers headers = {{"Authorization", "Bearer " + kaasd_->admin_token()},
                              {"X-Request-Id", "story-1"}};
  auto created =
      cli.Post("/api/v1/clusters", headers,
               R"({"name":"told","team":"payments","purpose":"personal"})", "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 202) << created->body;
  Json body = Json::parse(created->body);
  const std::string op = body["operation"]["id"], cluster = body["cluster"]["id"];
  EXPECT_EQ(kaasd_->WaitOperation(op)["state"], "succeeded");
  std::vector<Json> lines;
  ASSERT_TRUE(Eventually(
      [&] {
        lines.clear();
        std::ifstream in(kaasd_->data_dir() / "kaasd.log");
        for (std::string line; std::getline(in, line);) {
          Json j = Json::parse(line, nullptr, false);
          if (j.is_object()) lines.push_back(j);
        }
        for (const auto& j : lines) {
          if (j.value("msg", "") == "operation succeeded" && j.value("operation", "") == op) {
            return true;
          }
        }
        return false;
      },
      10));
  bool request_line = false;
  int operation_lines = 0;
  for (const auto& j : lines) {
    if (j.value("request_id", "") == "story-1") {
      request_line = true;
      EXPECT_EQ(j.value("operation", ""), op) << j.dump();
      EXPECT_EQ(j.value("route", ""), "/api/v1/clusters") << j.dump();
    }
    if (j.value("operation", "") == op) {
      ++operation_lines;
      EXPECT_EQ(j.value("cluster", ""), cluster) << j.dump();
    }
  }
  EXPECT_TRUE(request_line);
  EXPECT_GE(operation_lines, 2);  // started, succeeded
}

}  // namespace
}  // namespace kaas::testing
