// The rules of auth/: who may do what (Authorizer), users, sessions and API tokens
// (AuthService) on a real SQLite database.

#include "kaas/auth/auth.h"

#include <gtest/gtest.h>

#include <atomic>

#include "../support/manual_clock.h"
#include "../support/sqlite_database.h"
#include "kaas/auth/teams.h"

namespace kaas::auth {
namespace {

// ------------------------------------------------------------------ Authorizer

Principal Member(const std::string& team_id, const std::string& role) {
  Principal p;
  p.user_id = "usr-1";
  p.username = "alice";
  p.memberships.push_back({team_id, "team", "usr-1", "alice", role});
  return p;
}

TEST(AuthorizerTest, EachRoleMayDoWhatItsRoleAllowsInItsTeam) {
  struct Case {
    std::string role;
    Action action;
    Code expected;
  };
  const std::vector<Case> cases = {
      {"viewer", Action::kRead, Code::kOk},
      {"viewer", Action::kOperate, Code::kPermissionDenied},
      {"viewer", Action::kManageTeam, Code::kPermissionDenied},
      {"member", Action::kRead, Code::kOk},
      {"member", Action::kOperate, Code::kOk},
      {"member", Action::kManageTeam, Code::kPermissionDenied},
      {"admin", Action::kRead, Code::kOk},
      {"admin", Action::kOperate, Code::kOk},
      {"admin", Action::kManageTeam, Code::kOk},
      {"admin", Action::kPlatformAdmin, Code::kPermissionDenied},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Authorizer::Check(Member("tm-1", c.role), c.action, "tm-1").code(), c.expected)
        << c.role << " action " << static_cast<int>(c.action);
  }
}

TEST(AuthorizerTest, OutsidersOfATeamSeeNotFoundNotForbidden) {
  // Foreign objects look absent (DESIGN.md §3): whatever the role in another team.
  for (Action a : {Action::kRead, Action::kOperate, Action::kManageTeam}) {
    EXPECT_EQ(Authorizer::Check(Member("tm-1", "admin"), a, "tm-2").code(), Code::kNotFound);
  }
}

TEST(AuthorizerTest, PlatformAdminsMayDoEverything) {
  Principal admin;
  admin.is_admin = true;
  for (Action a : {Action::kRead, Action::kOperate, Action::kManageTeam, Action::kPlatformAdmin}) {
    EXPECT_TRUE(Authorizer::Check(admin, a, "tm-any").ok());
  }
}

TEST(AuthorizerTest, ADeployTokenReadsOnlyTheClustersOfItsTeamItsSelectorMatches) {
  Principal deployer = Member("tm-1", kDeployerRole);
  deployer.deploy_selector = *ParseLabelSelector("env=prod");
  Labels prod = {{"env", "prod"}}, test = {{"env", "test"}};
  EXPECT_TRUE(Authorizer::CheckCluster(deployer, Action::kRead, "tm-1", prod).ok());
  EXPECT_EQ(Authorizer::CheckCluster(deployer, Action::kRead, "tm-1", test).code(),
            Code::kNotFound);
  EXPECT_EQ(Authorizer::CheckCluster(deployer, Action::kRead, "tm-2", prod).code(),
            Code::kNotFound);
  for (Action a : {Action::kOperate, Action::kManageTeam, Action::kPlatformAdmin}) {
    EXPECT_EQ(Authorizer::CheckCluster(deployer, a, "tm-1", prod).code(), Code::kPermissionDenied);
  }
  // Without a deploy token, labels change nothing.
  EXPECT_TRUE(Authorizer::CheckCluster(Member("tm-1", "viewer"), Action::kRead, "tm-1", test).ok());
}

// ------------------------------------------------------------------ AuthService

class AuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AuthOptions options;
    options.session_ttl_ms = 3600 * 1000;
    options.max_token_ttl_hours = 48;
    auth_ = std::make_unique<AuthService>(*db_, clock_, options);
  }

  // A user with a session; its principal.
  Principal LoggedIn(const std::string& username, bool is_admin = false) {
    EXPECT_TRUE(auth_->CreateUser(username, "a-long-password", is_admin).ok());
    auto login = auth_->Login(username, "a-long-password", "127.0.0.1");
    EXPECT_TRUE(login.ok()) << login.status().ToString();
    auto p = auth_->Authenticate("Bearer " + login->token);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return *p;
  }

  testing::SqliteDatabase db_{"auth"};
  testing::ManualClock clock_;
  std::unique_ptr<AuthService> auth_;
};

TEST_F(AuthServiceTest, UsernamesFollowTheirRuleAndPasswordsNeedTwelveCharacters) {
  for (const char* bad : {"", "-alice", "Alice", "al ice", "al/ice"}) {
    auto u = auth_->CreateUser(bad, "a-long-password", false);
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(u.status().field(), "username") << bad;
  }
  EXPECT_EQ(auth_->CreateUser(std::string(65, 'a'), "a-long-password", false).status().field(),
            "username");
  auto short_pw = auth_->CreateUser("alice", "short", false);
  EXPECT_EQ(short_pw.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(short_pw.status().field(), "password");
  for (const char* good : {"alice", "bob.smith", "ci_bot-2", "0day"}) {
    auto u = auth_->CreateUser(good, "a-long-password", false);
    ASSERT_TRUE(u.ok()) << good << ": " << u.status().ToString();
    EXPECT_EQ(u->username, good);
    EXPECT_NE(u->password_hash, "a-long-password") << "only a hash is stored";
  }
  auto users = auth_->ListUsers();
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(users->size(), 4u);
}

TEST_F(AuthServiceTest, ATakenUsernameIsAlreadyExists) {
  ASSERT_TRUE(auth_->CreateUser("alice", "a-long-password", false).ok());
  EXPECT_EQ(auth_->CreateUser("alice", "another-password", true).status().code(),
            Code::kAlreadyExists);
}

TEST_F(AuthServiceTest, AWrongPasswordAndAnUnknownUserAreTheSameRefusal) {
  ASSERT_TRUE(auth_->CreateUser("alice", "a-long-password", false).ok());
  auto wrong = auth_->Login("alice", "not-the-password", "127.0.0.1");
  auto unknown = auth_->Login("mallory", "a-long-password", "127.0.0.1");
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(unknown.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
}

TEST_F(AuthServiceTest, LogoutRevokesTheSessionItWasCalledWith) {
  ASSERT_TRUE(auth_->CreateUser("alice", "a-long-password", false).ok());
  auto one = auth_->Login("alice", "a-long-password", "127.0.0.1");
  auto two = auth_->Login("alice", "a-long-password", "127.0.0.1");
  ASSERT_TRUE(one.ok() && two.ok());
  auto p = auth_->Authenticate("Bearer " + one->token);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(auth_->Logout(*p).ok());
  EXPECT_EQ(auth_->Authenticate("Bearer " + one->token).status().code(), Code::kUnauthenticated);
  EXPECT_TRUE(auth_->Authenticate("Bearer " + two->token).ok()) << "other sessions stay";
}

TEST_F(AuthServiceTest, SessionsExpire) {
  ASSERT_TRUE(auth_->CreateUser("bob", "a-long-password", false).ok());
  auto login = auth_->Login("bob", "a-long-password", "127.0.0.1");
  ASSERT_TRUE(login.ok());
  clock_.Advance(3600 * 1000);
  EXPECT_EQ(auth_->Authenticate("Bearer " + login->token).status().code(), Code::kUnauthenticated);
}

TEST_F(AuthServiceTest, MalformedAuthorizationHeadersAreUnauthenticated) {
  for (const char* h : {"", "Bearer", "Bearer ", "Basic abc", "kaas_123", "Bearer kaas_unknown"}) {
    EXPECT_EQ(auth_->Authenticate(h).status().code(), Code::kUnauthenticated) << h;
  }
}

TEST_F(AuthServiceTest, ApiTokensAreListedUntilRevokedAndOnlyTheOwnerOrAnAdminMayRevoke) {
  Principal alice = LoggedIn("alice");
  Principal bob = LoggedIn("bob");
  Principal admin = LoggedIn("root", /*is_admin=*/true);
  auto issued = auth_->CreateToken(alice, "ci", 24);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  EXPECT_EQ(issued->token.rfind("kaas_", 0), 0u);
  EXPECT_TRUE(auth_->Authenticate("Bearer " + issued->token).ok());
  auto listed = auth_->ListTokens(alice);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u) << "sessions are not API tokens";
  EXPECT_EQ((*listed)[0].id, issued->record.id);
  EXPECT_TRUE(auth_->ListTokens(bob)->empty());

  // Someone else's token looks absent.
  EXPECT_EQ(auth_->RevokeToken(bob, issued->record.id).code(), Code::kNotFound);
  EXPECT_TRUE(auth_->Authenticate("Bearer " + issued->token).ok());
  ASSERT_TRUE(auth_->RevokeToken(alice, issued->record.id).ok());
  EXPECT_EQ(auth_->Authenticate("Bearer " + issued->token).status().code(), Code::kUnauthenticated);
  EXPECT_TRUE(auth_->ListTokens(alice)->empty());
  EXPECT_EQ(auth_->RevokeToken(alice, issued->record.id).code(), Code::kNotFound)
      << "a revoked token cannot be revoked again";

  auto other = auth_->CreateToken(bob, "deploy", 1);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(auth_->RevokeToken(admin, other->record.id).ok());
  EXPECT_EQ(auth_->Authenticate("Bearer " + other->token).status().code(), Code::kUnauthenticated);
}

TEST_F(AuthServiceTest, TokenNameAndLifetimeAreBounded) {
  Principal alice = LoggedIn("alice");
  EXPECT_EQ(auth_->CreateToken(alice, "", 1).status().field(), "name");
  EXPECT_EQ(auth_->CreateToken(alice, std::string(101, 'n'), 1).status().field(), "name");
  EXPECT_EQ(auth_->CreateToken(alice, "ci", 0).status().field(), "ttl_hours");
  EXPECT_EQ(auth_->CreateToken(alice, "ci", 49).status().field(), "ttl_hours");
  auto ok = auth_->CreateToken(alice, "ci", 48);
  ASSERT_TRUE(ok.ok());
  clock_.Advance(48LL * 3600 * 1000);
  EXPECT_EQ(auth_->Authenticate("Bearer " + ok->token).status().code(), Code::kUnauthenticated);
}

TEST_F(AuthServiceTest, ADeployTokenIsItsTeamsDeployerAndNothingMore) {
  Principal root = LoggedIn("root", /*is_admin=*/true);
  TeamService teams(*db_, clock_);
  auto team = teams.Create("payments");
  ASSERT_TRUE(team.ok()) << team.status().ToString();
  auto bad = auth_->CreateDeployToken(root, "ci", 1, team->id, "env=prod,");
  EXPECT_EQ(bad.status().field(), "selector");
  EXPECT_NE(bad.status().message().find("position 10"), std::string::npos);
  EXPECT_EQ(auth_->CreateDeployToken(root, "ci", 0, team->id, "env").status().field(), "ttl_hours");

  auto issued = auth_->CreateDeployToken(root, "ci", 2, team->id, "env = prod, tier notin (db)");
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  EXPECT_EQ(issued->record.role, kDeployerRole);
  EXPECT_EQ(issued->record.selector, "env=prod,tier notin (db)");
  auto p = auth_->Authenticate("Bearer " + issued->token);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->IsDeployer());
  EXPECT_FALSE(p->is_admin) << "a platform admin's deploy token is still only a deploy token";
  EXPECT_EQ(p->username, "root");
  ASSERT_EQ(p->memberships.size(), 1u);
  EXPECT_EQ(p->memberships[0].team_name, "payments");
  EXPECT_EQ(p->RoleIn(team->id), kDeployerRole);
  EXPECT_EQ(p->deploy_selector->ToString(), "env=prod,tier notin (db)");
  // Listed with the issuer's API tokens; a plain token is no deployer.
  auto listed = auth_->ListTokens(root);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].team_id, team->id);
  auto plain = auth_->CreateToken(root, "plain", 1);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(auth_->Authenticate("Bearer " + plain->token)->IsDeployer());

  clock_.Advance(2LL * 3600 * 1000);
  EXPECT_EQ(auth_->Authenticate("Bearer " + issued->token).status().code(), Code::kUnauthenticated);
}

TEST_F(AuthServiceTest, TheAdminIsCreatedOnlyOnAnEmptyDatabase) {
  auto generated = auth_->BootstrapAdmin("");
  ASSERT_TRUE(generated.ok());
  EXPECT_FALSE(generated->empty());
  EXPECT_TRUE(auth_->Login("admin", *generated, "127.0.0.1").ok());
  auto again = auth_->BootstrapAdmin("something-else");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(auth_->Login("admin", "something-else", "127.0.0.1").status().code(),
            Code::kUnauthenticated);
}

}  // namespace
}  // namespace kaas::auth
