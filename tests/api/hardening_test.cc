// Hostile input and resource exhaustion through the real kaasd (DESIGN.md §6.1, issue 11):
// media types, bounded valid UTF-8 strings, caching, event streams that cannot starve the API
// or outlive the caller's access, and what kaasd leaves readable on its machine.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "kaasd_process.h"

namespace kaas::testing {
namespace {

constexpr const char* kPassword = "a-long-enough-password";

// One raw HTTP/1.1 exchange on its own connection: what a browser, curl or an attacker sends,
// headers exactly as given.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  bool Send(const std::string& data) {
    return fd_ >= 0 &&
           send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until `needle` has arrived, the peer closed, or timeout. True when the peer closed.
  bool ReadUntil(const std::string& needle, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (fd_ >= 0 && (needle.empty() || received_.find(needle) == std::string::npos)) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, left) <= 0) continue;
      char buf[8192];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
      received_.append(buf, static_cast<size_t>(n));
    }
    return false;
  }
  // The status code of the answer's first line (0 when none arrived).
  int Status(int timeout_ms = 10000) {
    ReadUntil("\r\n", timeout_ms);
    if (received_.rfind("HTTP/1.1 ", 0) != 0 || received_.size() < 12) return 0;
    return std::stoi(received_.substr(9, 3));
  }
  const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  std::string received_;
};

std::string Request(const std::string& method, const std::string& path, const std::string& token,
                    const std::string& content_type = "", const std::string& body = "",
                    bool close = true) {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) r += "Authorization: Bearer " + token + "\r\n";
  if (!content_type.empty()) r += "Content-Type: " + content_type + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (close) r += "Connection: close\r\n";
  return r + "\r\n" + body;
}

// Sends one request and reads the whole answer (the connection is closed by the server).
std::string Exchange(int port, const std::string& request) {
  RawConnection c(port);
  c.Send(request);
  c.ReadUntil("", 30000);
  return c.received();
}

int StatusOf(const std::string& answer) {
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.size() < 12) return 0;
  return std::stoi(answer.substr(9, 3));
}

class HardeningTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }

  void Start(std::vector<std::string> args) {
    kaasd_ = std::make_unique<KaasdProcess>(std::move(args));
    ASSERT_TRUE(kaasd_->Start());
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
    ASSERT_EQ(kaasd_->Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
  }

  // A user who is a member of payments; returns a session token.
  std::string Member(const std::string& user, const std::string& role = "member") {
    auto u = kaasd_->Call("POST", "/api/v1/users",
                          Json{{"username", user}, {"password", kPassword}}.dump());
    EXPECT_EQ(u.status, 201) << u.raw;
    auto m =
        kaasd_->Call("PUT", "/api/v1/teams/payments/members/" + user, Json{{"role", role}}.dump());
    EXPECT_EQ(m.status, 200) << m.raw;
    return kaasd_->Login(user, kPassword);
  }

  std::string RunningCluster(const std::string& name) {
    auto c =
        kaasd_->Call("POST", "/api/v1/clusters",
                     Json{{"name", name}, {"team", "payments"}, {"purpose", "personal"}}.dump());
    EXPECT_EQ(c.status, 202) << c.raw;
    EXPECT_EQ(kaasd_->WaitOperation(c.body["operation"]["id"])["state"], "succeeded");
    return c.body["cluster"]["id"];
  }

  std::unique_ptr<KaasdProcess> kaasd_;
};

// ---- bodies must be JSON ----

TEST_F(HardeningTest, BodiesThatAreNotJsonAre415BeforeAnythingRuns) {
  std::string login =
      Json{{"username", "admin"}, {"password", KaasdProcess::kAdminPassword}}.dump();
  // What a cross-site page can send without a CORS preflight, and a body with no type at all.
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded", ""}) {
    std::string answer =
        Exchange(kaasd_->port(), Request("POST", "/api/v1/auth/login", "", type, login));
    EXPECT_EQ(StatusOf(answer), 415) << type << ": " << answer;
    EXPECT_NE(answer.find("\"unsupported_media_type\""), std::string::npos) << answer;
    EXPECT_EQ(answer.find("\"token\""), std::string::npos) << "logged in with " << type;
  }
  // A multipart body is refused too (cpp-httplib already fails to parse this one).
  std::string multipart =
      Exchange(kaasd_->port(),
               Request("POST", "/api/v1/auth/login", "", "multipart/form-data; boundary=x", login));
  EXPECT_GE(StatusOf(multipart), 400) << multipart;
  EXPECT_EQ(multipart.find("\"token\""), std::string::npos) << multipart;
  // The same body as JSON (with parameters, any case) works.
  for (const char* type : {"application/json", "Application/JSON; charset=utf-8"}) {
    std::string answer =
        Exchange(kaasd_->port(), Request("POST", "/api/v1/auth/login", "", type, login));
    EXPECT_EQ(StatusOf(answer), 200) << type << ": " << answer;
  }
  // A mutating call with a token is refused the same way and changes nothing.
  std::string answer = Exchange(
      kaasd_->port(),
      Request("POST", "/api/v1/teams", kaasd_->admin_token(), "text/plain", R"({"name":"evil"})"));
  EXPECT_EQ(StatusOf(answer), 415) << answer;
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/teams/evil/quota").status, 404);
}

// ---- strings: bounded, valid UTF-8, path parameters included ----

TEST_F(HardeningTest, InvalidUtf8InAPathIs400AndTheAuditLogStaysReadable) {
  std::string answer =
      Exchange(kaasd_->port(), Request("DELETE", "/api/v1/tokens/%FF", kaasd_->admin_token()));
  EXPECT_EQ(StatusOf(answer), 400) << answer;
  EXPECT_NE(answer.find("\"invalid_argument\""), std::string::npos) << answer;
  for (const char* path : {"/api/v1/teams/%C0%AF/quota", "/api/v1/clusters/%ED%A0%80",
                           "/api/v1/teams/pay%09ments/members", "/api/v1/clusters?team=%FF"}) {
    auto r = kaasd_->Call("GET", path);
    EXPECT_EQ(r.status, 400) << path << ": " << r.raw;
  }
  auto put = kaasd_->Call("PUT", "/api/v1/teams/payments/members/%FE%FF", R"({"role":"viewer"})");
  EXPECT_EQ(put.status, 400) << put.raw;

  // Everyone can still read the audit log, and nothing invalid was stored in it.
  auto audit = kaasd_->Call("GET", "/api/v1/audit?limit=100");
  ASSERT_EQ(audit.status, 200) << audit.raw;
  ASSERT_FALSE(audit.body.is_discarded());
  bool seen = false;
  for (const auto& e : audit.body["items"]) {
    if (e["action"] == "DELETE /api/v1/tokens/{id}") {
      seen = true;
      EXPECT_EQ(e["object"], "") << e.dump();
      EXPECT_EQ(e["status"], 400);
    }
  }
  EXPECT_TRUE(seen) << "the refused request is still audited: " << audit.raw;
}

TEST_F(HardeningTest, OversizedStringsAre400AndNeverReachTheAuditLog) {
  // Five logins with a 200 KiB username: no account needed.
  std::string huge(200 * 1024, 'a');
  for (int i = 0; i < 5; ++i) {
    auto r = kaasd_->Call("POST", "/api/v1/auth/login",
                          Json{{"username", huge}, {"password", "whatever-password"}}.dump(), "");
    EXPECT_EQ(r.status, 400) << r.raw.substr(0, 300);
    EXPECT_EQ(r.body["error"]["details"]["field"], "username");
  }
  auto audit = kaasd_->Call("GET", "/api/v1/audit?limit=100");
  ASSERT_EQ(audit.status, 200);
  EXPECT_LT(audit.raw.size(), 20000u) << "the audit log answers the attacker's bytes";
  for (const auto& e : audit.body["items"]) {
    EXPECT_LE(e["actor"].get<std::string>().size(), 64u);
  }
  // A 1 MiB body is refused whole.
  auto too_big =
      kaasd_->Call("POST", "/api/v1/auth/login",
                   Json{{"username", std::string(1 << 20, 'a')}, {"password", "x"}}.dump(), "");
  EXPECT_EQ(too_big.status, 413);

  // Bounds on each kind of string, and the largest allowed still works.
  auto reason = [&](size_t n) {
    return kaasd_->Call(
        "POST", "/api/v1/teams/payments/quota-requests",
        Json{{"limits", {{"clusters", 9}}}, {"reason", std::string(n, 'r')}}.dump());
  };
  EXPECT_EQ(reason(1001).status, 400);
  EXPECT_EQ(reason(1001).body["error"]["details"]["field"], "reason");
  EXPECT_EQ(reason(1000).status, 201);
  auto token = [&](size_t n) {
    return kaasd_->Call("POST", "/api/v1/tokens",
                        Json{{"name", std::string(n, 't')}, {"ttl_hours", 1}}.dump());
  };
  EXPECT_EQ(token(64).status, 400);
  EXPECT_EQ(token(63).status, 201);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/teams/" + std::string(64, 'p') + "/quota").status, 400);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/teams/" + std::string(63, 'p') + "/quota").status, 404);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters?team=" + std::string(1001, 'x')).status, 400);
  // Control characters and invalid escapes inside JSON strings.
  auto ctl = kaasd_->Call("POST", "/api/v1/teams", R"({"name":"pay\u0000ments"})");
  EXPECT_EQ(ctl.status, 400) << ctl.raw;
  auto bad = kaasd_->Call("POST", "/api/v1/teams", "{\"name\":\"\xFF\"}");
  EXPECT_EQ(bad.status, 400) << bad.raw;
  // Unknown field names are not echoed back at length.
  auto unknown = kaasd_->Call("POST", "/api/v1/teams", Json{{std::string(5000, 'k'), 1}}.dump());
  EXPECT_EQ(unknown.status, 400);
  EXPECT_LT(unknown.raw.size(), 500u);
}

// ---- nothing the API answers is cached ----

TEST_F(HardeningTest, EveryApiAnswerSaysNoStore) {
  std::string id = RunningCluster("cached");
  std::vector<HttpResult> answers = {
      kaasd_->Call("POST", "/api/v1/auth/login",
                   Json{{"username", "admin"}, {"password", KaasdProcess::kAdminPassword}}.dump(),
                   ""),
      kaasd_->Call("GET", "/api/v1/clusters/" + id + "/kubeconfig"),
      kaasd_->Call("POST", "/api/v1/tokens", R"({"name":"ci","ttl_hours":1})"),
      kaasd_->Call("GET", "/api/v1/me"),
      kaasd_->Call("GET", "/api/v1/me", "", "no-such-token"),
      kaasd_->Call("GET", "/api/v1/no-such-route"),
      kaasd_->Call("GET", "/api/v1/clusters/" + id + "/events?follow=false"),
  };
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_NE(answers[i].status, 0) << i;
    EXPECT_EQ(answers[i].headers["Cache-Control"], "no-store") << "answer " << i;
  }
  EXPECT_EQ(answers[0].status, 200);
  EXPECT_EQ(answers[1].status, 200);
  std::string answer =
      Exchange(kaasd_->port(), Request("POST", "/api/v1/auth/login", "", "text/plain", "{}"));
  EXPECT_NE(answer.find("Cache-Control: no-store"), std::string::npos) << answer;
}

// ---- event streams ----

// Opens a following event stream and checks that it started (200). The stream is never read
// further unless the test does.
std::unique_ptr<RawConnection> OpenStream(int port, const std::string& cluster,
                                          const std::string& token, int* status) {
  auto c = std::make_unique<RawConnection>(port);
  c->Send(Request("GET", "/api/v1/clusters/" + cluster + "/events", token));
  *status = c->Status();
  if (*status == 200) c->ReadUntil("retry:", 10000);
  return c;
}

TEST_F(HardeningTest, IdleEventStreamsDoNotStarveTheApi) {
  std::string id = RunningCluster("watched");
  // Forty streams that nobody reads (five users, eight each: the per-user cap), more than
  // kaasd's 32 request threads.
  std::vector<std::unique_ptr<RawConnection>> streams;
  for (int u = 0; u < 5; ++u) {
    std::string token = Member("watcher" + std::to_string(u));
    for (int i = 0; i < 8; ++i) {
      int status = 0;
      streams.push_back(OpenStream(kaasd_->port(), id, token, &status));
      ASSERT_EQ(status, 200) << "stream " << streams.size();
    }
  }
  // Every request still answers at once.
  for (int i = 0; i < 20; ++i) {
    auto start = std::chrono::steady_clock::now();
    httplib::Client cli("127.0.0.1", kaasd_->port());
    cli.set_read_timeout(2, 0);
    cli.set_connection_timeout(2, 0);
    auto health = cli.Get("/healthz");
    ASSERT_TRUE(health) << "healthz did not answer with 40 streams open";
    EXPECT_EQ(health->status, 200);
    auto r = kaasd_->Call("GET", "/api/v1/clusters/" + id);
    EXPECT_EQ(r.status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  }
}

TEST_F(HardeningTest, EventStreamsAreCappedPerUserAndOverall) {
  kaasd_->Terminate();
  Start({"--max-event-streams", "12"});
  std::string id = RunningCluster("capped");
  std::string alice = Member("alice");
  std::vector<std::unique_ptr<RawConnection>> streams;
  int status = 0;
  for (int i = 0; i < 8; ++i) {
    streams.push_back(OpenStream(kaasd_->port(), id, alice, &status));
    ASSERT_EQ(status, 200) << i;
  }
  auto ninth = OpenStream(kaasd_->port(), id, alice, &status);
  EXPECT_EQ(status, 429);
  ninth->ReadUntil("", 5000);
  EXPECT_NE(ninth->received().find("Retry-After:"), std::string::npos) << ninth->received();
  EXPECT_NE(ninth->received().find("\"rate_limited\""), std::string::npos);
  // A closed stream gives its slot back.
  streams.pop_back();
  bool reopened = false;
  for (int i = 0; i < 100 && !reopened; ++i) {
    auto again = OpenStream(kaasd_->port(), id, alice, &status);
    if (status == 200) {
      reopened = true;
      streams.push_back(std::move(again));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(reopened);
  // The server-wide cap (12 here): bob gets 4 more, then 429.
  std::string bob = Member("bob");
  for (int i = 0; i < 4; ++i) {
    streams.push_back(OpenStream(kaasd_->port(), id, bob, &status));
    ASSERT_EQ(status, 200) << i;
  }
  OpenStream(kaasd_->port(), id, bob, &status);
  EXPECT_EQ(status, 429);
}

// A stream ends within the re-check interval (5 s) once its reader may no longer watch.
void ExpectStreamEnds(RawConnection& stream, const std::string& why) {
  EXPECT_TRUE(stream.ReadUntil("", 15000)) << "stream still open after: " << why;
  EXPECT_NE(stream.received().find(": closed"), std::string::npos) << why << stream.received();
}

TEST_F(HardeningTest, EventStreamsEndWhenAccessEnds) {
  std::string id = RunningCluster("revocable");
  int status = 0;
  // Logout of the stream's own session.
  std::string a = Member("alice");
  auto by_logout = OpenStream(kaasd_->port(), id, a, &status);
  ASSERT_EQ(status, 200);
  // Revocation of an API token.
  auto t = kaasd_->Call("POST", "/api/v1/tokens", R"({"name":"ci","ttl_hours":1})", a);
  ASSERT_EQ(t.status, 201);
  auto by_revoke = OpenStream(kaasd_->port(), id, t.body["token"], &status);
  ASSERT_EQ(status, 200);
  // Removal from the team.
  std::string b = Member("bob");
  auto by_removal = OpenStream(kaasd_->port(), id, b, &status);
  ASSERT_EQ(status, 200);
  // A stream that keeps its access stays open.
  std::string c = Member("carol", "viewer");
  auto stays = OpenStream(kaasd_->port(), id, c, &status);
  ASSERT_EQ(status, 200);

  EXPECT_EQ(kaasd_->Call("POST", "/api/v1/auth/logout", "", a).status, 204);
  EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/tokens/" + t.body["id"].get<std::string>()).status,
            204);
  EXPECT_EQ(kaasd_->Call("DELETE", "/api/v1/teams/payments/members/bob").status, 204);
  ExpectStreamEnds(*by_logout, "logout");
  ExpectStreamEnds(*by_revoke, "token revoked");
  ExpectStreamEnds(*by_removal, "removed from the team");
  EXPECT_FALSE(stays->ReadUntil(": closed", 1000)) << stays->received();

  // Deleting the cluster ends the last one, after the deletion's own events.
  auto del = kaasd_->Call("DELETE", "/api/v1/clusters/" + id);
  ASSERT_EQ(del.status, 202);
  ASSERT_EQ(kaasd_->WaitOperation(del.body["operation"]["id"])["state"], "succeeded");
  ExpectStreamEnds(*stays, "cluster deleted");
  EXPECT_NE(stays->received().find("deleted"), std::string::npos);
}

// ---- at rest: the data dir is kaasd's alone, and its children get no admin password ----

// Every file and folder under `dir` that gives its group or others any access; the harness's
// own log (opened by the test before kaasd runs) is not kaasd's.
std::vector<std::string> OpenToOthers(const std::filesystem::path& dir) {
  std::vector<std::string> open;
  auto check = [&](const std::filesystem::path& p) {
    struct stat st {};
    if (lstat(p.c_str(), &st) == 0 && !S_ISLNK(st.st_mode) && (st.st_mode & 077) != 0) {
      std::ostringstream line;
      line << p.string() << " mode " << std::oct << (st.st_mode & 0777);
      open.push_back(line.str());
    }
  };
  check(dir);
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().filename() != "kaasd.log") check(e.path());
  }
  return open;
}

TEST(AtRestTest, DataDirIsTheOwnersAloneAndChildrenGetNoAdminPassword) {
  // kaasd's first child is the syntax check of its playbooks: an ansible-playbook that writes
  // down the umask and the environment it was given.
  char tmpl[] = "/tmp/kaas-at-rest-XXXXXX";
  const std::filesystem::path bin = mkdtemp(tmpl);
  const std::filesystem::path seen = bin / "child-saw";
  {
    std::ofstream script(bin / "ansible-playbook");
    script << "#!/bin/sh\n{ echo \"umask $(umask)\"; env; } > '" << seen.string() << "'\n";
  }
  std::filesystem::permissions(bin / "ansible-playbook", std::filesystem::perms::owner_all);
  const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  setenv("PATH", (bin.string() + ":" + path).c_str(), 1);

  KaasdProcess kaasd;
  // A data dir from before, open to everyone: kaasd restricts it at start.
  std::filesystem::permissions(kaasd.data_dir(), std::filesystem::perms::all);
  const bool started = kaasd.Start();
  setenv("PATH", path.c_str(), 1);
  ASSERT_TRUE(started);
  ASSERT_FALSE(kaasd.LoginAdmin().empty());  // the password did reach kaasd itself
  // Something written after start: a cluster's records, its PKI, its simulated domains.
  ASSERT_EQ(kaasd.Call("POST", "/api/v1/teams", R"({"name":"payments"})").status, 201);
  auto c = kaasd.Call("POST", "/api/v1/clusters",
                      R"({"name":"c1","team":"payments","purpose":"personal"})");
  ASSERT_EQ(c.status, 202) << c.raw;
  ASSERT_EQ(kaasd.WaitOperation(c.body["operation"]["id"])["state"], "succeeded");
  EXPECT_TRUE(std::filesystem::exists(kaasd.data_dir() / "kaas.db"));
  EXPECT_EQ(OpenToOthers(kaasd.data_dir()), std::vector<std::string>{});

  std::string child;
  for (int i = 0; i < 100 && child.find("PATH=") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream in(seen);
    child.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_NE(child.find("PATH="), std::string::npos) << "kaasd's child never ran";
  EXPECT_NE(child.find("umask 0077"), std::string::npos) << child;
  EXPECT_EQ(child.find("KAAS_ADMIN_PASSWORD"), std::string::npos) << child;
  EXPECT_EQ(child.find(KaasdProcess::kAdminPassword), std::string::npos);

  // An installation from before the umask: its database and folder opened up again, restricted
  // at the next start.
  ASSERT_EQ(kaasd.Terminate(), 0);
  std::filesystem::permissions(kaasd.data_dir(), std::filesystem::perms::all);
  std::filesystem::permissions(
      kaasd.data_dir() / "kaas.db",
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
          std::filesystem::perms::group_read | std::filesystem::perms::others_read);
  ASSERT_TRUE(kaasd.Start());
  EXPECT_EQ(OpenToOthers(kaasd.data_dir()), std::vector<std::string>{});
  std::filesystem::remove_all(bin);
}

}  // namespace
}  // namespace kaas::testing
