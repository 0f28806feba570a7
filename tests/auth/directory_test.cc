// Company-directory login (DESIGN.md §6.5) in AuthService, against a stateful fake directory
// on a real SQLite database; and the pure pieces (group map, DN and filter escaping). The same
// behaviour against a real OpenLDAP server is tests/api/directory_test.cc.

#include "kaas/auth/directory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "../support/manual_clock.h"
#include "../support/sqlite_database.h"
#include "kaas/auth/auth.h"
#include "kaas/auth/teams.h"
#include "kaas/store/repositories.h"
#include "status_testing.h"

namespace kaas::auth {
namespace {

const std::string kPeople = ",ou=people,dc=example,dc=org";
const std::string kAdmins = "cn=payments-admins,ou=groups,dc=example,dc=org";
const std::string kDevs = "cn=payments-devs,ou=groups,dc=example,dc=org";
const std::string kReaders = "cn=web-readers,ou=groups,dc=example,dc=org";

// ------------------------------------------------------------------ pure pieces

TEST(GroupMapTest, AMappingNamesADnATeamAndARole) {
  auto m = MakeGroupMapping("CN=Payments-Admins, OU=Groups,dc=example,dc=org", "payments", "admin");
  ASSERT_OK(m);
  EXPECT_EQ(m->group, kAdmins);
  EXPECT_EQ(m->team, "payments");
  EXPECT_EQ(m->role, "admin");
  struct Case {
    std::string group, team, role;
  };
  for (const Case& c : std::vector<Case>{{"not a dn", "payments", "admin"},
                                         {"", "payments", "admin"},
                                         {kAdmins, "Payments", "admin"},
                                         {kAdmins, "", "admin"},
                                         {kAdmins, "payments", "owner"},
                                         {kAdmins, "payments", "deployer"}}) {
    auto bad = MakeGroupMapping(c.group, c.team, c.role);
    EXPECT_EQ(bad.status().code(), Code::kInvalidArgument) << c.group << " " << c.team;
    EXPECT_EQ(bad.status().field(), "ldap_group_map");
  }
}

TEST(GroupMapTest, TheStrongestRoleOfAUsersGroupsWinsInEachTeam) {
  std::vector<GroupMapping> map = {{kAdmins, "payments", "admin"},
                                   {kDevs, "payments", "member"},
                                   {kReaders, "web", "viewer"},
                                   {kDevs, "web", "member"}};
  using Roles = std::map<std::string, std::string>;
  EXPECT_EQ(TeamRolesFromGroups(map, {kDevs, kAdmins}),
            (Roles{{"payments", "admin"}, {"web", "member"}}));
  EXPECT_EQ(TeamRolesFromGroups(map, {kReaders}), (Roles{{"web", "viewer"}}));
  EXPECT_EQ(TeamRolesFromGroups(map, {"cn=other,dc=example,dc=org"}), Roles{});
  EXPECT_EQ(TeamRolesFromGroups(map, {}), Roles{});
}

TEST(GroupMapTest, DnsAreComparedInOneSpelling) {
  EXPECT_EQ(NormalizeDn("CN=Web-Readers , ou=groups,DC=Example,dc=org"), kReaders);
  EXPECT_EQ(NormalizeDn(kReaders), kReaders);
}

TEST(EscapingTest, ValuesCannotChangeADnOrAFilter) {
  struct Case {
    std::string in, dn, filter;
  };
  for (const Case& c : std::vector<Case>{
           {"alice", "alice", "alice"},
           {"a,ou=admins", "a\\,ou\\=admins", "a,ou=admins"},
           {"*", "*", "\\2a"},
           {"x)(uid=*", "x)(uid\\=*", "x\\29\\28uid=\\2a"},
           {"back\\slash", "back\\\\slash", "back\\5cslash"},
           {" lead#", "\\ lead#", " lead#"},
           {"#x ", "\\#x\\ ", "#x "},
           {"a+b;c<d>\"", "a\\+b\\;c\\<d\\>\\\"", "a+b;c<d>\""},
       }) {
    EXPECT_EQ(EscapeDnValue(c.in), c.dn) << c.in;
    EXPECT_EQ(EscapeFilterValue(c.in), c.filter) << c.in;
  }
}

// ------------------------------------------------------------------ logins

// A directory in memory: users with a password and groups, which can be switched off.
class FakeDirectory : public Directory {
 public:
  struct Entry {
    std::string password;
    std::vector<std::string> groups;
  };
  std::map<std::string, Entry> users;
  std::atomic<bool> down{false};
  std::vector<std::string> asked;  // usernames, in order

  Result<DirectoryUser> Authenticate(const std::string& username,
                                     const std::string& password) override {
    asked.push_back(username);
    if (down) return Unavailable("the company directory (LDAP) is unavailable: Can't contact");
    auto it = users.find(username);
    if (it == users.end() || password.empty() || it->second.password != password) {
      return Status(Code::kUnauthenticated, "invalid username or password");
    }
    return DirectoryUser{"uid=" + username + kPeople, it->second.groups};
  }
};

class DirectoryLoginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_.users["alice"] = {"alice-password-1", {kAdmins}};
    directory_.users["bob"] = {"bob-password-1", {kDevs, kReaders}};
    directory_.users["carol"] = {"carol-password-1", {}};
    AuthOptions options;
    options.rate_limit.max_failures_per_user = 3;
    options.directory_groups = {
        {kAdmins, "payments", "admin"}, {kDevs, "payments", "member"}, {kReaders, "web", "viewer"}};
    auth_ = std::make_unique<AuthService>(*db_, clock_, options, &directory_);
  }

  // team name -> role of the user, read from the database.
  std::map<std::string, std::string> RolesOf(const std::string& username) {
    std::map<std::string, std::string> roles;
    EXPECT_OK(db_->Read([&](store::Tx& tx) {
      auto user = store::users::FindByUsername(tx, username);
      if (!user) return NotFound(username);
      for (const auto& m : store::memberships::ListForUser(tx, user->id)) {
        roles[m.team_name] = m.role;
      }
      return Status::Ok();
    }));
    return roles;
  }

  testing::SqliteDatabase db_{"directory"};
  testing::ManualClock clock_;
  FakeDirectory directory_;
  std::unique_ptr<AuthService> auth_;
  TeamService teams_{*db_, clock_};
};

using Roles = std::map<std::string, std::string>;

TEST_F(DirectoryLoginTest, TheFirstLoginCreatesTheUserWithTheRolesOfTheirGroups) {
  auto login = auth_->Login("bob", "bob-password-1", "10.0.0.1");
  ASSERT_OK(login);
  EXPECT_EQ(login->user.username, "bob");
  EXPECT_EQ(login->user.source, store::kUserSourceDirectory);
  EXPECT_EQ(login->user.password_hash, "");
  EXPECT_FALSE(login->user.is_admin);
  // The mapped teams did not exist: they were created.
  EXPECT_EQ(RolesOf("bob"), (Roles{{"payments", "member"}, {"web", "viewer"}}));
  auto me = auth_->Authenticate("Bearer " + login->token);
  ASSERT_OK(me);
  EXPECT_EQ(me->memberships.size(), 2u);
  // One user, however often they log in.
  ASSERT_OK(auth_->Login("bob", "bob-password-1", "10.0.0.1"));
  auto users = auth_->ListUsers();
  ASSERT_OK(users);
  EXPECT_EQ(users->size(), 1u);
}

TEST_F(DirectoryLoginTest, RolesFollowTheGroupsAtEachLoginAndOtherTeamsAreLeftAlone) {
  ASSERT_OK(auth_->Login("bob", "bob-password-1", "10.0.0.1"));
  // A team the group map does not name: a team admin added bob by hand.
  auto sandbox = teams_.Create("sandbox");
  ASSERT_OK(sandbox);
  ASSERT_OK(teams_.PutMember(*sandbox, "bob", "member"));

  directory_.users["bob"].groups = {kAdmins};  // promoted; out of web-readers
  ASSERT_OK(auth_->Login("bob", "bob-password-1", "10.0.0.1"));
  EXPECT_EQ(RolesOf("bob"), (Roles{{"payments", "admin"}, {"sandbox", "member"}}));

  directory_.users["bob"].groups = {};
  ASSERT_OK(auth_->Login("bob", "bob-password-1", "10.0.0.1"));
  EXPECT_EQ(RolesOf("bob"), (Roles{{"sandbox", "member"}}));

  // Each change is in the audit log, in its team, newest first; logins that changed nothing
  // left nothing.
  std::vector<std::string> changes;
  ASSERT_OK(db_->Read([&](store::Tx& tx) {
    for (const auto& e : store::audit::List(tx, {}, true, 100)) {
      EXPECT_EQ(e.action, kDirectorySyncAction);
      EXPECT_EQ(e.actor, "bob");
      EXPECT_EQ(e.remote_addr, "10.0.0.1");
      changes.push_back(e.object);
    }
    return Status::Ok();
  }));
  EXPECT_EQ(changes, (std::vector<std::string>{
                         "bob: no role (was admin)", "bob: no role (was viewer)",
                         "bob: role admin (was member)", "bob: role viewer", "bob: role member"}));
}

TEST_F(DirectoryLoginTest, AWrongPasswordAndAnUnknownUserAreTheSameRefusalAndAreThrottled) {
  auto wrong = auth_->Login("alice", "not-her-password", "10.0.0.1");
  auto unknown = auth_->Login("mallory", "whatever-password", "10.0.0.1");
  auto empty = auth_->Login("alice", "", "10.0.0.1");
  for (const auto* r : {&wrong, &unknown, &empty}) {
    EXPECT_EQ(r->status().code(), Code::kUnauthenticated);
    EXPECT_EQ(r->status().message(), "invalid username or password");
  }
  // Nobody was created for a failed login.
  EXPECT_EQ(auth_->ListUsers()->size(), 0u);
  // alice from 10.0.0.1 has failed twice; the third failure reaches the limit of 3.
  EXPECT_EQ(auth_->Login("alice", "still-wrong-pass", "10.0.0.1").status().code(),
            Code::kUnauthenticated);
  size_t asked = directory_.asked.size();
  EXPECT_EQ(auth_->Login("alice", "alice-password-1", "10.0.0.1").status().code(),
            Code::kRateLimited);
  EXPECT_EQ(directory_.asked.size(), asked) << "a throttled login must not reach the directory";
  // From another address she logs in.
  ASSERT_OK(auth_->Login("alice", "alice-password-1", "10.0.0.2"));
}

TEST_F(DirectoryLoginTest, ADirectoryThatIsDownIsUnavailableAndLocalUsersStillLogIn) {
  ASSERT_OK(auth_->CreateUser("ops", "a-long-password", true));
  directory_.down = true;
  for (int i = 0; i < 5; ++i) {
    auto login = auth_->Login("alice", "alice-password-1", "10.0.0.1");
    EXPECT_EQ(login.status().code(), Code::kUnavailable);
    EXPECT_NE(login.status().message().find("directory"), std::string::npos);
  }
  ASSERT_OK(auth_->Login("ops", "a-long-password", "10.0.0.1"));
  // An outage is no failed login: alice is not throttled once it is back.
  directory_.down = false;
  ASSERT_OK(auth_->Login("alice", "alice-password-1", "10.0.0.1"));
}

TEST_F(DirectoryLoginTest, LocalUsersAreNeverLookedUpInTheDirectory) {
  // A local "alice" exists: the directory's alice cannot take her place.
  ASSERT_OK(auth_->CreateUser("alice", "the-local-password", false));
  EXPECT_EQ(auth_->Login("alice", "alice-password-1", "10.0.0.1").status().code(),
            Code::kUnauthenticated);
  ASSERT_OK(auth_->Login("alice", "the-local-password", "10.0.0.1"));
  EXPECT_TRUE(directory_.asked.empty());
  // Names kaas cannot hold are not asked either.
  directory_.users["Bob"] = {"bob-password-1", {kAdmins}};
  EXPECT_EQ(auth_->Login("Bob", "bob-password-1", "10.0.0.1").status().code(),
            Code::kUnauthenticated);
  EXPECT_TRUE(directory_.asked.empty());
}

TEST_F(DirectoryLoginTest, ADisabledDirectoryUserCannotLogInAndKeepsNoSession) {
  auto first = auth_->Login("alice", "alice-password-1", "10.0.0.1");
  ASSERT_OK(first);
  ASSERT_OK(auth_->CreateUser("root", "a-long-password", true));
  auto root =
      auth_->Authenticate("Bearer " + auth_->Login("root", "a-long-password", "::1")->token);
  ASSERT_OK(root);
  ASSERT_OK(auth_->SetDisabled(*root, "alice", true));
  EXPECT_EQ(auth_->Authenticate("Bearer " + first->token).status().code(), Code::kUnauthenticated);
  directory_.users["alice"].groups = {};
  auto again = auth_->Login("alice", "alice-password-1", "10.0.0.1");
  EXPECT_EQ(again.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(again.status().message(), "this account is disabled");
  // A refused login changes nothing of hers.
  EXPECT_EQ(RolesOf("alice"), (Roles{{"payments", "admin"}}));
  ASSERT_OK(auth_->SetDisabled(*root, "alice", false));
  ASSERT_OK(auth_->Login("alice", "alice-password-1", "10.0.0.1"));
  EXPECT_EQ(RolesOf("alice"), Roles{});
}

TEST_F(DirectoryLoginTest, ADirectoryUsersPasswordIsNotKaassToChange) {
  auto login = auth_->Login("carol", "carol-password-1", "10.0.0.1");
  ASSERT_OK(login);
  auto carol = auth_->Authenticate("Bearer " + login->token);
  ASSERT_OK(carol);
  EXPECT_EQ(
      auth_->ChangePassword(*carol, "carol", "carol-password-1", "a-new-long-password", "10.0.0.1")
          .code(),
      Code::kFailedPrecondition);
  ASSERT_OK(auth_->CreateUser("root", "a-long-password", true));
  auto root =
      auth_->Authenticate("Bearer " + auth_->Login("root", "a-long-password", "::1")->token);
  ASSERT_OK(root);
  EXPECT_EQ(auth_->ChangePassword(*root, "carol", "", "a-new-long-password", "::1").code(),
            Code::kFailedPrecondition);
  ASSERT_OK(auth_->Login("carol", "carol-password-1", "10.0.0.1"));
}

}  // namespace
}  // namespace kaas::auth
