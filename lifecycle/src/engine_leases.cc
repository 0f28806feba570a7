// The engine's leases (DESIGN.md §6.3): claiming an operation, fencing every write with the
// lease's epoch, renewing, losing and releasing leases, and taking over operations whose lease
// ran out (another replica died).
#include "kaas/common/log.h"
#include "kaas/lifecycle/engine.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {

Result<std::optional<store::OperationLease>> Engine::Claim(const std::string& op_id) {
  std::optional<store::OperationLease> lease;
  const int64_t now = clock_.NowMs();
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    lease = store::leases::ClaimOperation(tx, op_id, options_.replica_id, now,
                                          now + options_.lease_expiry_ms, db_.sqlite());
    return Status::Ok();
  }));
  return lease;
}

Status Engine::Persist(Run& run, const std::function<void(store::Tx&)>& fn) {
  return db_.Write([&](store::Tx& tx) {
    KAAS_RETURN_IF_ERROR(Fence(tx, run));
    fn(tx);
    return Status::Ok();
  });
}

Status Engine::Fence(store::Tx& tx, Run& run) {
  if (store::leases::Holds(tx, run.op_id, options_.replica_id, run.epoch)) return Status::Ok();
  fenced_writes_.Inc({});
  LoseLease(run, "a write was fenced");
  return Status(Code::kConflict, "operation " + run.op_id + " is no longer held by replica " +
                                     options_.replica_id + " at epoch " +
                                     std::to_string(run.epoch) + ": write fenced");
}

void Engine::LoseLease(Run& run, const std::string& why) {
  {
    std::lock_guard lock(mu_);
    run.stop_step = true;
    if (run.lost.exchange(true)) return;
  }
  cv_.notify_all();
  leases_lost_.Inc({});
  log::Warn("lost the lease of an operation: stopping it here, recording nothing more",
            {{"operation", run.op_id},
             {"replica", options_.replica_id},
             {"epoch", std::to_string(run.epoch)},
             {"why", why}});
}

void Engine::Release(const std::string& op_id, int64_t epoch) {
  Status st = db_.Write([&](store::Tx& tx) {
    store::leases::Release(tx, op_id, options_.replica_id, epoch);
    return Status::Ok();
  });
  if (!st.ok()) {
    log::Warn("cannot release lease (it expires instead)",
              {{"operation", op_id}, {"error", st.ToString()}});
  }
}

void Engine::LeaseLoop() {
  auto next_renewal = std::chrono::steady_clock::now();
  auto next_poll = next_renewal;
  while (true) {
    {
      std::unique_lock lock(mu_);
      // Renewals are due every lease_renew_ms even when polling is slower.
      const int64_t wait_ms = std::min(options_.lease_poll_ms, options_.lease_renew_ms);
      if (lease_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                             [&] { return stopping_.load(); })) {
        return;
      }
    }
    try {
      if (std::chrono::steady_clock::now() >= next_renewal) {
        next_renewal =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.lease_renew_ms);
        RenewLeases();
      }
      if (std::chrono::steady_clock::now() >= next_poll) {
        next_poll =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.lease_poll_ms);
        ClaimFreeOperations();
      }
    } catch (const std::exception& e) {
      log::Error("lease pass threw", {{"error", e.what()}});
    }
  }
}

void Engine::RenewLeases() {
  // Runs registered before the renewal: their claims committed before it, so a lease of
  // theirs missing from its answer was really taken over.
  std::map<std::string, std::shared_ptr<Run>> runs;
  {
    std::lock_guard lock(mu_);
    runs = runs_;
  }
  std::vector<store::OperationLease> held;
  const int64_t until = clock_.NowMs() + options_.lease_expiry_ms;
  Status st = db_.Write([&](store::Tx& tx) {
    held = store::leases::Renew(tx, options_.replica_id, until);
    return Status::Ok();
  });
  if (!st.ok()) {
    // Not a lost lease: the database did not answer. The fence decides at the next write.
    log::Warn("cannot renew leases", {{"error", st.ToString()}});
    return;
  }
  lease_renewals_.Inc({}, static_cast<double>(held.size()));
  std::map<std::string, store::OperationLease> by_id;
  for (auto& l : held) by_id[l.operation_id] = l;
  for (auto& [id, run] : runs) {
    auto it = by_id.find(id);
    if (it == by_id.end() || it->second.epoch != run->epoch) {
      bool registered = false;
      {
        std::lock_guard lock(mu_);
        auto r = runs_.find(id);
        registered = r != runs_.end() && r->second == run;
      }
      if (registered) LoseLease(*run, "another replica holds the lease now");
      continue;
    }
    // A cancel requested through another replica interrupts the step running here.
    if (it->second.cancel_requested && !run->cancel) RequestCancel(id);
  }
}

void Engine::ClaimFreeOperations() {
  int64_t room = 0;
  {
    std::lock_guard lock(mu_);
    room = static_cast<int64_t>(std::max<size_t>(options_.threads, 1)) -
           static_cast<int64_t>(in_flight_.size());
  }
  if (room <= 0 || stopping_) return;
  const int64_t now = clock_.NowMs();
  bool any = false;
  // A just-admitted operation is its admitting replica's to claim for a while.
  const int64_t fresh_since = now - options_.lease_expiry_ms / 3;
  if (!db_.Read([&](store::Tx& tx) {
            any = store::leases::AnyClaimable(tx, now, fresh_since);
            return Status::Ok();
          })
           .ok() ||
      !any) {
    return;
  }
  std::vector<store::OperationLease> claimed;
  Status st = db_.Write([&](store::Tx& tx) {
    claimed = store::leases::ClaimFree(tx, options_.replica_id, now, now + options_.lease_expiry_ms,
                                       room, fresh_since);
    return Status::Ok();
  });
  if (!st.ok()) {
    log::Warn("cannot claim operations", {{"error", st.ToString()}});
    return;
  }
  for (auto& lease : claimed) Schedule(lease.operation_id, lease);
}

bool Engine::WaitForDatabase() {
  for (int64_t wait_ms = 500;; wait_ms = std::min<int64_t>(wait_ms * 2, 5000)) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return stopping_.load(); }))
        return false;
    }
    if (db_.Ping().ok()) return true;
  }
}

}  // namespace kaas::lifecycle
