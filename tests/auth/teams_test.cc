// The rules of teams, memberships and the audit log (auth::TeamService, auth::AuditLog) on a
// real SQLite database.

#include "kaas/auth/teams.h"

#include <gtest/gtest.h>

#include "../support/sqlite_database.h"
#include "kaas/auth/audit.h"
#include "kaas/auth/auth.h"

namespace kaas::auth {
namespace {

class FixedClock : public Clock {
 public:
  int64_t NowMs() const override { return 1'700'000'000'000; }
};

class TeamServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth_ = std::make_unique<AuthService>(*db_, clock_, AuthOptions{});
    teams_ = std::make_unique<TeamService>(*db_, clock_);
    audit_ = std::make_unique<AuditLog>(*db_);
  }

  // The principal of `username` as a request would see it (memberships included).
  Principal As(const std::string& username) {
    auto login = auth_->Login(username, "a-long-password", "127.0.0.1");
    EXPECT_TRUE(login.ok()) << login.status().ToString();
    auto p = auth_->Authenticate("Bearer " + login->token);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return *p;
  }
  void AddUser(const std::string& username, bool is_admin = false) {
    ASSERT_TRUE(auth_->CreateUser(username, "a-long-password", is_admin).ok());
  }

  testing::SqliteDatabase db_{"teams"};
  FixedClock clock_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<TeamService> teams_;
  std::unique_ptr<AuditLog> audit_;
};

TEST_F(TeamServiceTest, TeamNamesAreDnsLabelsOfAtMostFortyCharacters) {
  for (const std::string& bad :
       std::vector<std::string>{"", "-payments", "Payments", "pay_ments", std::string(41, 'a')}) {
    auto t = teams_->Create(bad);
    EXPECT_EQ(t.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(t.status().field(), "name") << bad;
  }
  auto t = teams_->Create(std::string(40, 'a'));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->name, std::string(40, 'a'));
  EXPECT_EQ(t->created_at, clock_.NowMs());
}

TEST_F(TeamServiceTest, ATakenTeamNameIsAConflict) {
  ASSERT_TRUE(teams_->Create("payments").ok());
  EXPECT_EQ(teams_->Create("payments").status().code(), Code::kConflict);
  EXPECT_EQ(teams_->FindByName("payments")->name, "payments");
  EXPECT_EQ(teams_->FindByName("billing").status().code(), Code::kNotFound);
}

TEST_F(TeamServiceTest, MembersHaveOneOfThreeRolesAndAPutReplacesTheRole) {
  AddUser("alice");
  auto team = teams_->Create("payments");
  ASSERT_TRUE(team.ok());
  for (const char* bad : {"", "owner", "Admin"}) {
    Status st = teams_->PutMember(*team, "alice", bad);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(st.field(), "role") << bad;
  }
  EXPECT_EQ(teams_->PutMember(*team, "nobody", "member").code(), Code::kNotFound);
  ASSERT_TRUE(teams_->PutMember(*team, "alice", "viewer").ok());
  ASSERT_TRUE(teams_->PutMember(*team, "alice", "admin").ok());
  auto members = teams_->Members(team->id);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ((*members)[0].username, "alice");
  EXPECT_EQ((*members)[0].role, "admin");
  EXPECT_EQ(As("alice").RoleIn(team->id), "admin");
}

TEST_F(TeamServiceTest, RemovingSomeoneWhoIsNotAMemberIsNotFound) {
  AddUser("alice");
  auto team = teams_->Create("payments");
  ASSERT_TRUE(team.ok());
  EXPECT_EQ(teams_->RemoveMember(*team, "alice").code(), Code::kNotFound);
  EXPECT_EQ(teams_->RemoveMember(*team, "nobody").code(), Code::kNotFound);
  ASSERT_TRUE(teams_->PutMember(*team, "alice", "member").ok());
  ASSERT_TRUE(teams_->RemoveMember(*team, "alice").ok());
  EXPECT_TRUE(teams_->Members(team->id)->empty());
  EXPECT_EQ(As("alice").RoleIn(team->id), "");
}

TEST_F(TeamServiceTest, UsersSeeTheirTeamsAndPlatformAdminsSeeAll) {
  AddUser("alice");
  AddUser("root", /*is_admin=*/true);
  auto payments = teams_->Create("payments");
  auto billing = teams_->Create("billing");
  ASSERT_TRUE(payments.ok() && billing.ok());
  ASSERT_TRUE(teams_->PutMember(*payments, "alice", "viewer").ok());
  auto mine = teams_->List(As("alice"));
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].name, "payments");
  EXPECT_EQ(teams_->List(As("root"))->size(), 2u);
  auto names = teams_->Names();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ((*names)[billing->id], "billing");
}

TEST_F(TeamServiceTest, TheAuditLogShowsEachTeamAdminTheirTeamsAndPlatformAdminsAll) {
  AddUser("alice");
  AddUser("bob");
  AddUser("root", /*is_admin=*/true);
  auto payments = teams_->Create("payments");
  auto billing = teams_->Create("billing");
  ASSERT_TRUE(payments.ok() && billing.ok());
  ASSERT_TRUE(teams_->PutMember(*payments, "alice", "admin").ok());
  ASSERT_TRUE(teams_->PutMember(*billing, "alice", "member").ok());
  ASSERT_TRUE(teams_->PutMember(*payments, "bob", "member").ok());
  int64_t n = 0;
  for (const auto* team : {&*payments, &*billing, &*payments}) {
    store::AuditEntry e;
    e.id = "au-" + std::to_string(++n);
    e.at = n;
    e.actor = "alice";
    e.team_id = team->id;
    e.action = "POST /api/v1/clusters";
    e.status = 202;
    e.result = "ok";
    ASSERT_TRUE(audit_->Record(e).ok());
  }
  auto alices = audit_->List(As("alice"), "", 100);
  ASSERT_TRUE(alices.ok()) << alices.status().ToString();
  ASSERT_EQ(alices->size(), 2u) << "only the team she is admin of";
  for (const auto& r : *alices) EXPECT_EQ(r.team_name, "payments");
  EXPECT_EQ((*alices)[0].entry.id, "au-3") << "newest first";

  EXPECT_EQ(audit_->List(As("bob"), "", 100).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(audit_->List(As("root"), "", 100)->size(), 3u);
  EXPECT_EQ(audit_->List(As("root"), "", 1)->size(), 1u);
  auto billing_only = audit_->List(As("root"), billing->id, 100);
  ASSERT_TRUE(billing_only.ok());
  ASSERT_EQ(billing_only->size(), 1u);
  EXPECT_EQ((*billing_only)[0].team_name, "billing");
}

}  // namespace
}  // namespace kaas::auth
