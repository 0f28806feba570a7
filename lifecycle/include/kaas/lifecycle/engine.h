#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "kaas/common/clock.h"
#include "kaas/common/metrics.h"
#include "kaas/lifecycle/engine_hooks.h"
#include "kaas/lifecycle/model.h"
#include "kaas/lifecycle/operation_queue.h"
#include "kaas/lifecycle/steps.h"
#include "kaas/store/database.h"

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
};

// Runs persisted operations step by step on a worker pool (Boost.Asio thread_pool).
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
  void RunOperation(const std::string& op_id, DatabaseOutage& outage);
  // Waits until the database answers again; false when shutdown interrupted the wait.
  bool WaitForDatabase();
  // Ends the operation in `state`, sets the cluster's resting status, emits events, settles.
  Status Finish(store::Operation& op, const std::string& team_id, OperationState state,
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
  Status Persist(const std::function<void(store::Tx&)>& fn);
  // Sleeps for a retry backoff; returns false when shutdown interrupted it.
  bool Backoff(int attempt);
  // Sleeps until a waiting step looks again; returns false when shutdown interrupted it.
  // `cancel` (when given) ends the sleep early and returns true.
  bool SleepBeforeLookingAgain(std::chrono::milliseconds again, const std::atomic<bool>* cancel);

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
  struct Pool;
  std::unique_ptr<Pool> pool_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> in_flight_;
  std::set<std::string> rerun_;  // submitted again while in flight
  std::map<std::string, std::shared_ptr<std::atomic<bool>>> cancel_flags_;
  std::mt19937 rng_{std::random_device{}()};  // backoff jitter; guarded by mu_
};

// The cluster status an operation type leaves behind when it succeeds.
ClusterStatus RestingStatus(OperationType type);
// Same, for a stored type text (an unknown type rests like a change: running).
std::string RestingStatus(const std::string& operation_type);

}  // namespace kaas::lifecycle
