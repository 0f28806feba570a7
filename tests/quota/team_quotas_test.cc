// Team limits and quota requests (quota::TeamQuotas) on a real SQLite database.

#include "kaas/quota/team_quotas.h"

#include <gtest/gtest.h>

#include "../support/sqlite_database.h"
#include "kaas/store/repositories.h"

namespace kaas::quota {
namespace {

class FixedClock : public Clock {
 public:
  int64_t NowMs() const override { return 1'700'000'000'000; }
};

const Limits kDefaults{/*clusters=*/3, /*vcpus=*/64, /*memory_gib=*/256, /*hosts=*/0};

class TeamQuotasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_->Write([&](store::Tx& tx) {
                     store::teams::Insert(tx, payments_);
                     store::teams::Insert(tx, billing_);
                     return Status::Ok();
                   })
                    .ok());
    quotas_ = std::make_unique<TeamQuotas>(*db_, quota_, clock_);
  }

  QuotaRequestRecord Ask(const store::Team& team, LimitsChange change) {
    auto r = quotas_->Request(team, change, "more room for the autumn sale", "alice");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }

  testing::SqliteDatabase db_{"team-quotas"};
  FixedClock clock_;
  QuotaService quota_{kDefaults};
  std::unique_ptr<TeamQuotas> quotas_;
  store::Team payments_{"tm-payments", "payments", 1};
  store::Team billing_{"tm-billing", "billing", 1};
};

TEST_F(TeamQuotasTest, ATeamWithoutLimitsHasTheDefaults) {
  auto q = quotas_->Get(payments_.id);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->limits.clusters, 3);
  EXPECT_EQ(q->limits.vcpus, 64);
  EXPECT_EQ(q->usage.clusters, 0);
}

TEST_F(TeamQuotasTest, SettingLimitsChangesOnlyTheNamedOnes) {
  auto q = quotas_->Set(payments_.id, {.vcpus = 128});
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->limits.vcpus, 128);
  EXPECT_EQ(q->limits.clusters, 3);
  q = quotas_->Set(payments_.id, {.clusters = 10, .physical_hosts = 2});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->limits.clusters, 10);
  EXPECT_EQ(q->limits.vcpus, 128) << "kept from the first change";
  EXPECT_EQ(q->limits.memory_gib, 256);
  EXPECT_EQ(q->limits.physical_hosts, 2);
  EXPECT_EQ(quotas_->Get(billing_.id)->limits.vcpus, 64) << "other teams keep the defaults";
}

TEST_F(TeamQuotasTest, ANegativeLimitIsRefusedAndNothingChanges) {
  Status st = quotas_->Set(payments_.id, {.clusters = 5, .memory_gib = -1}).status();
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(st.field(), "limits.memory_gib");
  EXPECT_EQ(quotas_->Get(payments_.id)->limits.clusters, 3);
}

TEST_F(TeamQuotasTest, ARequestIsPendingAndNamesOnlyTheLimitsItAsksFor) {
  QuotaRequestRecord r = Ask(payments_, {.vcpus = 256});
  EXPECT_EQ(r.team_name, "payments");
  EXPECT_EQ(r.request.state, "pending");
  EXPECT_EQ(r.request.requested_by, "alice");
  EXPECT_EQ(r.request.limits.vcpus, 256);
  EXPECT_EQ(r.request.limits.clusters, -1) << "-1 = left as it is";
  auto found = quotas_->FindRequest(r.request.id);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->reason, "more room for the autumn sale");
  EXPECT_EQ(quotas_->FindRequest("qr-unknown").status().code(), Code::kNotFound);
}

TEST_F(TeamQuotasTest, ARequestNeedsALimitNoNegativesAndAReason) {
  EXPECT_EQ(quotas_->Request(payments_, {}, "why", "alice").status().field(), "limits");
  EXPECT_EQ(quotas_->Request(payments_, {.clusters = -2}, "why", "alice").status().field(),
            "limits.clusters");
  EXPECT_EQ(quotas_->Request(payments_, {.clusters = 4}, "", "alice").status().field(), "reason");
  EXPECT_EQ(quotas_->Request(payments_, {.clusters = 4}, std::string(2001, 'r'), "alice")
                .status()
                .field(),
            "reason");
  EXPECT_TRUE(quotas_->ListRequests("", {}, true)->empty()) << "nothing invalid is stored";
}

TEST_F(TeamQuotasTest, ApprovingAppliesTheRequestedLimitsAtOnce) {
  ASSERT_TRUE(quotas_->Set(payments_.id, {.memory_gib = 512}).ok());
  QuotaRequestRecord r = Ask(payments_, {.clusters = 8, .vcpus = 256});
  auto decided = quotas_->Decide(r.request.id, Decision::kApprove, "root", "ok for Q4");
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->request.state, "approved");
  EXPECT_EQ(decided->request.decided_by, "root");
  EXPECT_EQ(decided->request.comment, "ok for Q4");
  EXPECT_EQ(decided->request.decided_at, clock_.NowMs());
  EXPECT_EQ(decided->team_name, "payments");
  auto q = quotas_->Get(payments_.id);
  EXPECT_EQ(q->limits.clusters, 8);
  EXPECT_EQ(q->limits.vcpus, 256);
  EXPECT_EQ(q->limits.memory_gib, 512) << "limits the request does not name stay";
  EXPECT_EQ(q->limits.physical_hosts, 0);
}

TEST_F(TeamQuotasTest, RejectingChangesNoLimit) {
  QuotaRequestRecord r = Ask(payments_, {.clusters = 8});
  auto decided = quotas_->Decide(r.request.id, Decision::kReject, "root", "not now");
  ASSERT_TRUE(decided.ok());
  EXPECT_EQ(decided->request.state, "rejected");
  EXPECT_EQ(quotas_->Get(payments_.id)->limits.clusters, 3);
}

TEST_F(TeamQuotasTest, ARequestIsDecidedOnceAndAnUnknownOneIsNotFound) {
  QuotaRequestRecord r = Ask(payments_, {.clusters = 8});
  ASSERT_TRUE(quotas_->Decide(r.request.id, Decision::kReject, "root", "").ok());
  EXPECT_EQ(quotas_->Decide(r.request.id, Decision::kApprove, "root", "").status().code(),
            Code::kConflict);
  EXPECT_EQ(quotas_->Get(payments_.id)->limits.clusters, 3) << "the late approval changed nothing";
  EXPECT_EQ(quotas_->Decide("qr-unknown", Decision::kApprove, "root", "").status().code(),
            Code::kNotFound);
}

TEST_F(TeamQuotasTest, ListingFiltersByStateAndTeam) {
  QuotaRequestRecord a = Ask(payments_, {.clusters = 4});
  QuotaRequestRecord b = Ask(billing_, {.vcpus = 100});
  Ask(payments_, {.vcpus = 100});
  ASSERT_TRUE(quotas_->Decide(a.request.id, Decision::kApprove, "root", "").ok());

  auto all = quotas_->ListRequests("", {}, true);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  auto pending = quotas_->ListRequests("pending", {}, true);
  EXPECT_EQ(pending->size(), 2u);
  auto billing = quotas_->ListRequests("", {billing_.id}, false);
  ASSERT_EQ(billing->size(), 1u);
  EXPECT_EQ((*billing)[0].request.id, b.request.id);
  EXPECT_EQ((*billing)[0].team_name, "billing");
  EXPECT_TRUE(quotas_->ListRequests("", {}, false)->empty()) << "no teams, nothing";
  auto bad = quotas_->ListRequests("done", {}, true);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.status().field(), "state");
}

}  // namespace
}  // namespace kaas::quota
