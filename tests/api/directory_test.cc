// Company-directory login through the real kaasd against a real OpenLDAP server (Debian's
// slapd, scripts/start-ldap.sh, one per test on loopback), DESIGN.md §6.5: users log in with
// their directory password, team roles come from their groups at each login, a wrong password
// and an unknown user are the same 401, a directory that is down is a 503 while local users
// still log in, plain LDAP, StartTLS and LDAPS with a test CA.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "blackhole_proxy.h"
#include "kaasd_process.h"

namespace kaas::testing {
namespace {

const std::string kBase = "dc=kaas,dc=test";
const std::string kAlice = "alice-password-1";
const std::string kBob = "bob-password-1";
const std::string kCarol = "carol-password-1";

std::string Script() { return std::string(KAAS_SOURCE_DIR) + "/scripts/start-ldap.sh"; }

// A slapd of the test's own: ldap:// on one free port, ldaps:// on another.
class LdapServer {
 public:
  LdapServer() {
    char tmpl[] = "/tmp/kaas-ldap-XXXXXX";
    dir_ = mkdtemp(tmpl);
    port_ = FreePort();
    tls_port_ = FreePort();
  }
  ~LdapServer() {
    Stop();
    Shell("rm -rf " + dir_);
  }
  bool Start() {
    return Shell("bash " + Script() + " " + dir_ + " " + std::to_string(port_) + " " +
                 std::to_string(tls_port_) + " >/dev/null") == 0;
  }
  bool Stop() { return Shell("bash " + Script() + " --stop " + dir_ + " >/dev/null") == 0; }
  // ldapmodify as the directory's rootdn.
  bool Modify(const std::string& ldif) {
    std::string file = dir_ + "/change.ldif";
    std::ofstream(file) << ldif;
    return Shell("ldapmodify -x -H " + url() + " -D cn=admin," + kBase + " -w admin-secret -f " +
                 file + " >/dev/null") == 0;
  }
  int port() const { return port_; }
  std::string url() const { return "ldap://127.0.0.1:" + std::to_string(port_); }
  std::string ldaps_url() const { return "ldaps://127.0.0.1:" + std::to_string(tls_port_); }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int port_ = 0;
  int tls_port_ = 0;
};

const std::string kGroupMap = "cn=payments-admins,ou=groups," + kBase + "=payments:admin;" +
                              "cn=payments-devs,ou=groups," + kBase + "=payments:member;" +
                              "cn=web-readers,ou=groups," + kBase + "=web:viewer";

class DirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ldap_.Start()); }

  // kaasd with a user DN template and no service account (the group search runs as the user),
  // plus `extra` flags.
  std::vector<std::string> TemplateArgs(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--ldap-url",
                                     ldap_.url(),
                                     "--ldap-user-dn-template",
                                     "uid={username},ou=people," + kBase,
                                     "--ldap-group-search-base",
                                     "ou=groups," + kBase,
                                     "--ldap-group-map",
                                     kGroupMap};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  void StartKaasd(std::vector<std::string> args) {
    kaasd_ = std::make_unique<KaasdProcess>(std::move(args));
    ASSERT_TRUE(kaasd_->Start());
    ASSERT_FALSE(kaasd_->LoginAdmin().empty());
  }

  HttpResult Login(const std::string& user, const std::string& password) {
    return kaasd_->Call("POST", "/api/v1/auth/login",
                        Json{{"username", user}, {"password", password}}.dump(), "");
  }

  // team -> role, as GET /me shows them to the user's session.
  std::map<std::string, std::string> Teams(const std::string& token) {
    auto me = kaasd_->Call("GET", "/api/v1/me", "", token);
    EXPECT_EQ(me.status, 200) << me.raw;
    std::map<std::string, std::string> teams;
    for (const auto& t : me.body["teams"]) teams[t["name"]] = t["role"];
    return teams;
  }

  std::string LoginToken(const std::string& user, const std::string& password) {
    auto r = Login(user, password);
    EXPECT_EQ(r.status, 200) << user << ": " << r.raw;
    return r.body.value("token", "");
  }

  LdapServer ldap_;
  std::unique_ptr<KaasdProcess> kaasd_;
};

using Roles = std::map<std::string, std::string>;

TEST_F(DirectoryTest, UsersLogInWithTheirDirectoryPasswordAndGetTheRolesOfTheirGroups) {
  StartKaasd(TemplateArgs());
  std::string alice = LoginToken("alice", kAlice);
  EXPECT_EQ(Teams(alice), (Roles{{"payments", "admin"}}));
  std::string bob = LoginToken("bob", kBob);
  EXPECT_EQ(Teams(bob), (Roles{{"payments", "member"}, {"web", "viewer"}}));
  std::string carol = LoginToken("carol", kCarol);
  EXPECT_EQ(Teams(carol), Roles{});

  // The roles are real: bob may read web but not manage it, carol sees no web at all, alice
  // manages payments' members.
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters?team=web", "", bob).status, 200);
  EXPECT_EQ(
      kaasd_->Call("PUT", "/api/v1/teams/web/members/carol", R"({"role":"viewer"})", bob).status,
      403);
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters?team=web", "", carol).status, 404);
  auto put =
      kaasd_->Call("PUT", "/api/v1/teams/payments/members/carol", R"({"role":"viewer"})", alice);
  EXPECT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(Teams(carol), (Roles{{"payments", "viewer"}}));
  // But the directory decides the roles in the teams of the group map: at carol's next login
  // her groups give her none in payments.
  EXPECT_EQ(Teams(LoginToken("carol", kCarol)), Roles{});

  // kaas holds them as directory users, without a password of its own.
  auto users = kaasd_->Call("GET", "/api/v1/users");
  ASSERT_EQ(users.status, 200) << users.raw;
  std::map<std::string, std::string> sources;
  for (const auto& u : users.body["items"]) sources[u["username"]] = u["source"];
  EXPECT_EQ(sources, (std::map<std::string, std::string>{{"admin", "local"},
                                                         {"alice", "directory"},
                                                         {"bob", "directory"},
                                                         {"carol", "directory"}}));
  auto pw = kaasd_->Call("PUT", "/api/v1/users/carol/password",
                         Json{{"old_password", kCarol}, {"new_password", "a-kaas-password"}}.dump(),
                         carol);
  EXPECT_EQ(pw.status, 409) << pw.raw;
  EXPECT_EQ(pw.body["error"]["code"], "failed_precondition");
}

TEST_F(DirectoryTest, AGroupMembershipRemovedInTheDirectoryEndsTheRoleAtTheNextLogin) {
  StartKaasd(TemplateArgs());
  std::string bob = LoginToken("bob", kBob);
  ASSERT_EQ(Teams(bob), (Roles{{"payments", "member"}, {"web", "viewer"}}));

  // Out of web-readers (a groupOfNames keeps at least one member: alice takes bob's place),
  // into payments-admins.
  ASSERT_TRUE(ldap_.Modify("dn: cn=web-readers,ou=groups," + kBase +
                           "\nchangetype: modify\nreplace: member\nmember: uid=alice,ou=people," +
                           kBase + "\n\ndn: cn=payments-admins,ou=groups," + kBase +
                           "\nchangetype: modify\nadd: member\nmember: uid=bob,ou=people," + kBase +
                           "\n"));
  std::string again = LoginToken("bob", kBob);
  EXPECT_EQ(Teams(again), (Roles{{"payments", "admin"}}));
  // The roles are kaas's memberships: the older session sees the same.
  EXPECT_EQ(Teams(bob), (Roles{{"payments", "admin"}}));
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/clusters?team=web", "", again).status, 404);

  // Out of every group (a groupOfNames keeps at least one member: carol takes bob's place).
  ASSERT_TRUE(ldap_.Modify("dn: cn=payments-admins,ou=groups," + kBase +
                           "\nchangetype: modify\ndelete: member\nmember: uid=bob,ou=people," +
                           kBase + "\n\ndn: cn=payments-devs,ou=groups," + kBase +
                           "\nchangetype: modify\nreplace: member\nmember: uid=carol,ou=people," +
                           kBase + "\n"));
  EXPECT_EQ(Teams(LoginToken("bob", kBob)), Roles{});

  // Every change the directory made is in the audit log, in its team.
  auto audit = kaasd_->Call("GET", "/api/v1/audit?limit=500");
  ASSERT_EQ(audit.status, 200) << audit.raw;
  std::vector<std::string> changes;
  for (const auto& e : audit.body["items"]) {
    if (e["action"] != "directory group sync") continue;
    EXPECT_EQ(e["actor"], "bob");
    changes.push_back(e["team"].get<std::string>() + " " + e["object"].get<std::string>());
  }
  EXPECT_EQ(changes, (std::vector<std::string>{
                         "payments bob: no role (was admin)", "web bob: no role (was viewer)",
                         "payments bob: role admin (was member)", "web bob: role viewer",
                         "payments bob: role member"}));
}

TEST_F(DirectoryTest, AWrongPasswordAndAnUnknownUserAreIndistinguishableAndThrottled) {
  StartKaasd(TemplateArgs());
  auto wrong = Login("alice", "not-alices-password");
  auto unknown = Login("nobody", "not-alices-password");
  auto empty = Login("alice", "");
  EXPECT_EQ(wrong.status, 401) << wrong.raw;
  EXPECT_EQ(unknown.status, 401) << unknown.raw;
  EXPECT_EQ(wrong.raw, unknown.raw);
  // An empty password would be an anonymous bind, which the directory accepts: never a login.
  EXPECT_EQ(empty.status, 401) << empty.raw;
  // Failed logins leave no user behind.
  auto users = kaasd_->Call("GET", "/api/v1/users");
  EXPECT_EQ(users.body["items"].size(), 1u) << users.raw;

  // Throttled like local logins: alice has 2 failures from 127.0.0.1, the limit is 5.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Login("alice", "guess-" + std::to_string(i)).status, 401);
  auto limited = Login("alice", kAlice);
  EXPECT_EQ(limited.status, 429) << limited.raw;
  EXPECT_EQ(limited.body["error"]["code"], "rate_limited");
  EXPECT_EQ(Login("bob", kBob).status, 200);
}

TEST_F(DirectoryTest, ADirectoryThatIsDownIsA503AndLocalUsersStillLogIn) {
  StartKaasd(TemplateArgs());
  LoginToken("alice", kAlice);
  ASSERT_TRUE(ldap_.Stop());
  for (const auto& [user, password] : std::vector<std::pair<std::string, std::string>>{
           {"alice", kAlice}, {"alice", "wrong-password"}, {"nobody", "any-password"}}) {
    auto down = Login(user, password);
    EXPECT_EQ(down.status, 503) << down.raw;
    EXPECT_EQ(down.body["error"]["code"], "unavailable");
    EXPECT_NE(down.body["error"]["message"].get<std::string>().find("company directory (LDAP)"),
              std::string::npos)
        << down.raw;
    EXPECT_TRUE(down.headers.count("Retry-After"));
  }
  // The local admin is not held up by the directory.
  EXPECT_FALSE(kaasd_->Login("admin", KaasdProcess::kAdminPassword).empty());
  // The outage counted as no failed login: with the directory back, alice logs in.
  ASSERT_TRUE(ldap_.Start());
  EXPECT_EQ(Login("alice", kAlice).status, 200);
}

TEST_F(DirectoryTest, ADirectoryThatNeverAnswersIsA503AfterTheTimeout) {
  BlackholeProxy proxy;
  ASSERT_TRUE(proxy.Start(ldap_.port()));
  StartKaasd({"--ldap-url", "ldap://127.0.0.1:" + std::to_string(proxy.port()),
              "--ldap-user-dn-template", "uid={username},ou=people," + kBase,
              "--ldap-timeout-seconds", "1"});
  LoginToken("alice", kAlice);
  proxy.Cut();
  auto silent = Login("alice", kAlice);
  EXPECT_EQ(silent.status, 503) << silent.raw;
  EXPECT_EQ(silent.body["error"]["code"], "unavailable");
  EXPECT_FALSE(kaasd_->Login("admin", KaasdProcess::kAdminPassword).empty());
}

TEST_F(DirectoryTest, ADisabledDirectoryUserLosesTheirSessionsAndCannotLogIn) {
  StartKaasd(TemplateArgs());
  std::string alice = LoginToken("alice", kAlice);
  auto off = kaasd_->Call("PATCH", "/api/v1/users/alice", R"({"disabled":true})");
  ASSERT_EQ(off.status, 200) << off.raw;
  EXPECT_EQ(off.body["source"], "directory");
  EXPECT_EQ(kaasd_->Call("GET", "/api/v1/me", "", alice).status, 401);
  auto refused = Login("alice", kAlice);
  EXPECT_EQ(refused.status, 401) << refused.raw;
  EXPECT_EQ(refused.body["error"]["message"], "this account is disabled");
  ASSERT_EQ(kaasd_->Call("PATCH", "/api/v1/users/alice", R"({"disabled":false})").status, 200);
  EXPECT_EQ(Teams(LoginToken("alice", kAlice)), (Roles{{"payments", "admin"}}));
}

TEST_F(DirectoryTest, FirstLoginsAtOnceMakeOneUserWithItsRoles) {
  StartKaasd(TemplateArgs());
  std::vector<std::thread> threads;
  std::vector<int> statuses(8);
  for (size_t i = 0; i < statuses.size(); ++i) {
    threads.emplace_back(
        [&, i] { statuses[i] = Login(i % 2 ? "bob" : "alice", i % 2 ? kBob : kAlice).status; });
  }
  for (auto& t : threads) t.join();
  for (int status : statuses) EXPECT_EQ(status, 200);
  auto users = kaasd_->Call("GET", "/api/v1/users");
  EXPECT_EQ(users.body["items"].size(), 3u) << users.raw;
  auto members = kaasd_->Call("GET", "/api/v1/teams/payments/members");
  EXPECT_EQ(members.body["items"].size(), 2u) << members.raw;
}

TEST_F(DirectoryTest, ASearchWithAServiceAccountOverStartTls) {
  StartKaasd({"--ldap-url", ldap_.url(), "--ldap-starttls", "true", "--ldap-ca-file",
              ldap_.dir() + "/ca.pem", "--ldap-bind-dn", "cn=kaas,ou=services," + kBase,
              "--ldap-bind-password-file", ldap_.dir() + "/bind-password",
              "--ldap-user-search-base", "ou=people," + kBase, "--ldap-group-search-base",
              "ou=groups," + kBase, "--ldap-group-map", kGroupMap});
  EXPECT_EQ(Teams(LoginToken("bob", kBob)), (Roles{{"payments", "member"}, {"web", "viewer"}}));
  EXPECT_EQ(Login("bob", kAlice).status, 401);
  EXPECT_EQ(Login("nobody", kAlice).status, 401);
  // A filter metacharacter in a username matches nobody (and kaas refuses such names anyway).
  EXPECT_EQ(Login("*", kAlice).status, 401);
}

TEST_F(DirectoryTest, LdapsChecksTheServersCertificateAgainstTheGivenCa) {
  // The group map as the YAML list of the config file.
  std::string config = ldap_.dir() + "/kaasd.yaml";
  std::ofstream(config) << "ldap:\n"
                        << "  url: " << ldap_.ldaps_url() << "\n"
                        << "  ca_file: " << ldap_.dir() << "/ca.pem\n"
                        << "  user_dn_template: uid={username},ou=people," << kBase << "\n"
                        << "  group_search_base: ou=groups," << kBase << "\n"
                        << "  group_map:\n"
                        << "    - {group: 'cn=web-readers,ou=groups," << kBase
                        << "', team: web, role: viewer}\n";
  StartKaasd({"--config", config, "--sim-hypervisors", "3"});
  EXPECT_EQ(Teams(LoginToken("bob", kBob)), (Roles{{"web", "viewer"}}));
  kaasd_.reset();

  // Another CA: the server is not trusted, and that is the directory being unavailable, not a
  // verdict on the password.
  std::string other = ldap_.dir() + "/other-ca";
  ASSERT_EQ(Shell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
                  "-subj /CN=other -keyout " +
                  other + ".key -out " + other + ".pem 2>/dev/null"),
            0);
  StartKaasd({"--ldap-url", ldap_.ldaps_url(), "--ldap-ca-file", other + ".pem",
              "--ldap-user-dn-template", "uid={username},ou=people," + kBase});
  auto untrusted = Login("bob", kBob);
  EXPECT_EQ(untrusted.status, 503) << untrusted.raw;
  EXPECT_EQ(untrusted.body["error"]["code"], "unavailable");
}

TEST_F(DirectoryTest, SettingsThatCannotWorkStopKaasdAtStart) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--ldap-url", "http://127.0.0.1:1", "--ldap-user-dn-template", "uid={username}"},
           {"--ldap-url", ldap_.url()},  // neither a template nor a search
           {"--ldap-url", ldap_.url(), "--ldap-user-dn-template", "uid=alice,ou=people"},
           {"--ldap-url", ldap_.url(), "--ldap-user-dn-template", "uid={username}",
            "--ldap-group-search-base", "ou=groups," + kBase, "--ldap-group-map",
            "cn=x," + kBase + "=payments:owner"},
           {"--ldap-url", ldap_.url(), "--ldap-user-dn-template", "uid={username}",
            "--ldap-bind-dn", "cn=kaas,ou=services," + kBase, "--ldap-bind-password-file",
            ldap_.dir() + "/no-such-file"},
       }) {
    KaasdProcess kaasd(args);
    EXPECT_FALSE(kaasd.Start()) << args[1] << " " << args.back();
  }
}

}  // namespace
}  // namespace kaas::testing
