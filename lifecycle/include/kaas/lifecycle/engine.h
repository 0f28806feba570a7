#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "kaas/common/clock.h"
#include "kaas/common/metrics.h"
#include "kaas/lifecycle/engine_hooks.h"
#include "kaas/lifecycle/model.h"
#include "kaas/lifecycle/operation_queue.h"
#include "kaas/lifecycle/steps.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"

namespace kaas::lifecycle {

struct EngineOptions {
  size_t threads = 8;
  int max_attempts = 5;       // per step, for retryable (kUnavailable) errors
  int backoff_base_ms = 200;  // doubled per attempt, with jitter
  int backoff_max_ms = 10000;
  // How long one step may keep waiting (StepResult::Wait) before its wait counts as a failed
  // attempt (kUnavailable, naming what it waited for).
  int64_t max_wait_ms = 10 * 60 * 1000;
  // Fault injection and crash tests (engine_hooks.h); nullptr: none.
  std::shared_ptr<EngineHooks> hooks;
  // Where operation and step metrics go (kaasd's /metrics); nullptr: a registry of the
  // engine's own that nobody scrapes.
  metrics::Registry* metrics = nullptr;
  // Leases (DESIGN.md §6.2). This replica's name in them (kaasd: --replica-id, default
  // host:pid); unique among the replicas sharing a database.
  std::string replica_id = "local";
  // A lease not renewed for this long may be taken over by another replica.
  int64_t lease_expiry_ms = 15000;
  // How often held leases are renewed (at most a third of the expiry is used).
  int64_t lease_renew_ms = 5000;
  // How often a replica looks for operations nobody holds (PostgreSQL only): a dead replica's
  // operations are taken over within lease_expiry_ms + lease_poll_ms.
  int64_t lease_poll_ms = 1000;
};

// Runs persisted operations step by step on a worker pool (Boost.Asio thread_pool).
//
// Several replicas (kaasd processes on one PostgreSQL) share the work through leases: an
// operation runs only on the replica that claimed it (store::leases, FOR UPDATE SKIP LOCKED),
// which renews the lease every lease_renew_ms; an operation whose lease expired is claimed by
// the next replica that polls. Every claim has a new epoch, and every write made for the
// operation — the engine's and its steps' (StepControl::fence) — first checks that this
// replica still holds it at that epoch: a replica that lost the lease (paused, partitioned,
// slow) records nothing; it stops the running step (Ansible run terminated) and drops the
// operation. On SQLite (one process, the file locked by kaasd) every active operation is
// claimed at start whoever held it.
//
// The operation and its steps are in the database before the engine sees them; the engine
// only moves states forward: pending -> running -> succeeded | failed, each step likewise.
// A step that was `running` when the process died runs again on resume (steps are
// idempotent). On success the cluster's status becomes its resting state (running, or
// deleted for a delete); on failure `error` with a status_reason naming the step.
class Engine : public OperationQueue {
 public:
  Engine(store::Database& db, StepRunner& runner, const Clock& clock, EngineOptions options);
  ~Engine();

  // Resumes every pending or running operation found in the database.
  Status Start();
  // Schedules an operation; a no-op when it is already scheduled or running here.
  void Submit(const std::string& op_id) override;
  // Stops taking work; running operations stop at their next step boundary (their state
  // stays `running` and a later Start resumes them). Blocks until the pool is idle.
  void Shutdown();

  bool running() const { return started_ && !stopping_; }
  const std::string& replica_id() const { return options_.replica_id; }
  // Operations scheduled or running in this process.
  size_t InFlight() const;
  // Interrupts the running step of an operation running here (its Ansible run is
  // terminated). The persisted cancel flag, which every replica checks at each step boundary,
  // is set by the caller.
  void RequestCancel(const std::string& op_id) override;

 private:
  // Set by RunOperation when it stopped because the database went away: the step it was
  // starting (and its attempts before that start), so that the run after the outage does not
  // count that start as an attempt.
  struct DatabaseOutage {
    bool lost = false;
    bool resumed = false;  // this run follows an outage
    int64_t step_index = -1;
    int64_t attempts = 0;
  };
  // One run of an operation under one lease: what the step, the renewals, a cancel and the
  // fence share. Guarded by mu_ where noted.
  struct Run : std::enable_shared_from_this<Run> {
    std::string op_id;
    int64_t epoch = 0;
    std::atomic<bool> cancel{false};     // cancel requested
    std::atomic<bool> stop_step{false};  // what the running step sees (StepControl::cancel)
    std::atomic<bool> lost{false};       // the lease is no longer ours: record nothing more
    bool interruptible = false;          // the running step may be cancelled; mu_
  };
  // Queues a run of the operation; `lease`: already claimed (the poller), else claimed first.
  void Schedule(const std::string& op_id, std::optional<store::OperationLease> lease);
  // Claims the operation for this replica (a no-op result when another holds it).
  Result<std::optional<store::OperationLease>> Claim(const std::string& op_id);
  void RunOperation(Run& run, DatabaseOutage& outage);
  // The fence: OK while this replica holds the run's lease at its epoch; else marks the run
  // lost, stops its step and fails (the write it guards is rolled back).
  Status Fence(store::Tx& tx, Run& run);
  void LoseLease(Run& run, const std::string& why);
  // The lease thread (PostgreSQL): renews held leases, claims operations nobody holds.
  void LeaseLoop();
  void RenewLeases();
  void ClaimFreeOperations();
  void Release(const std::string& op_id, int64_t epoch);
  // Waits until the database answers again; false when shutdown interrupted the wait.
  bool WaitForDatabase();
  // Ends the operation in `state`, sets the cluster's resting status, emits events, settles.
  Status Finish(Run& run, store::Operation& op, const std::string& team_id, OperationState state,
                const std::string& why);
  // Runs the step, turning an exception it throws into a failure of the step.
  StepResult RunStep(const store::Operation& op, const store::Step& step,
                     const StepControl& control);
  void Emit(store::Tx& tx, const std::string& cluster_id, const std::string& team_id,
            const std::string& kind, const std::string& data);
  // Queues the webhook notifications of an operation that ended (notify::Enqueue), on the
  // transaction that records the end.
  void Notify(store::Tx& tx, const store::Operation& op, const std::string& team_id,
              OperationState state);
  // One write transaction behind the run's fence.
  Status Persist(Run& run, const std::function<void(store::Tx&)>& fn);
  // Sleeps for a retry backoff; returns false when shutdown or a lost lease interrupted it.
  bool Backoff(const Run& run, int attempt);
  // Sleeps until a waiting step looks again; returns false when shutdown or a lost lease
  // interrupted it. `cancel` (when given) ends the sleep early and returns true.
  bool SleepBeforeLookingAgain(const Run& run, std::chrono::milliseconds again,
                               const std::atomic<bool>* cancel);

  // What a step attempt that just ended is counted as: its duration by outcome (succeeded,
  // failed, retried, cancelled) and, unless it succeeded, a failure with its error code.
  void CountAttempt(const store::Step& step, const char* outcome, double seconds,
                    const Status& err);

  store::Database& db_;
  StepRunner& runner_;
  const Clock& clock_;
  EngineOptions options_;
  std::unique_ptr<metrics::Registry> own_metrics_;  // when options_.metrics is null
  metrics::HistogramFamily& operation_duration_;
  metrics::HistogramFamily& step_duration_;
  metrics::CounterFamily& step_failures_;
  metrics::CounterFamily& step_retries_;
  metrics::CounterFamily& lease_renewals_;
  metrics::CounterFamily& lease_takeovers_;
  metrics::CounterFamily& leases_lost_;
  metrics::CounterFamily& fenced_writes_;
  std::atomic<int64_t> owned_{0};  // leases held on operations queued or running here
  struct Pool;
  std::unique_ptr<Pool> pool_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> in_flight_;
  std::set<std::string> rerun_;  // submitted again while in flight
  std::map<std::string, std::shared_ptr<Run>> runs_;
  std::condition_variable lease_cv_;
  std::thread lease_thread_;
  std::mt19937 rng_{std::random_device{}()};  // backoff jitter; guarded by mu_
};

// The cluster status an operation type leaves behind when it succeeds.
ClusterStatus RestingStatus(OperationType type);
// Same, for a stored type text (an unknown type rests like a change: running).
std::string RestingStatus(const std::string& operation_type);

}  // namespace kaas::lifecycle
