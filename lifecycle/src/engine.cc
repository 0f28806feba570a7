#include "kaas/lifecycle/engine.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <exception>

#include "engine_events.h"
#include "kaas/common/log.h"
#include "kaas/store/repositories.h"
#include "steps_internal.h"

namespace kaas::lifecycle {

using internal::OperationEvent;
using internal::StepEvent;

struct Engine::Pool {
  explicit Pool(size_t n) : pool(n) {}
  boost::asio::thread_pool pool;
};

ClusterStatus RestingStatus(OperationType type) {
  return type == OperationType::kDelete ? ClusterStatus::kDeleted : ClusterStatus::kRunning;
}

std::string RestingStatus(const std::string& operation_type) {
  return ToString(
      RestingStatus(Parse<OperationType>(operation_type).value_or(OperationType::kCreate)));
}

namespace {

metrics::Registry& RegistryOf(EngineOptions& options, std::unique_ptr<metrics::Registry>& own) {
  if (!options.metrics) {
    own = std::make_unique<metrics::Registry>();
    options.metrics = own.get();
  }
  return *options.metrics;
}

}  // namespace

Engine::Engine(store::Database& db, StepRunner& runner, const Clock& clock, EngineOptions options)
    : db_(db),
      runner_(runner),
      clock_(clock),
      options_(std::move(options)),
      operation_duration_(RegistryOf(options_, own_metrics_)
                              .Histogram("kaas_operation_duration_seconds",
                                         "Time from an operation's request to its end, by type "
                                         "and outcome (succeeded, failed, cancelled).",
                                         {"type", "outcome"}, metrics::LongBuckets())),
      step_duration_(RegistryOf(options_, own_metrics_)
                         .Histogram("kaas_step_duration_seconds",
                                    "Time of one step attempt (waits included), by step kind and "
                                    "outcome (succeeded, failed, retried, cancelled).",
                                    {"kind", "outcome"}, metrics::LongBuckets())),
      step_failures_(RegistryOf(options_, own_metrics_)
                         .Counter("kaas_step_failures_total",
                                  "Failed step attempts (retried ones included) by step kind and "
                                  "error code.",
                                  {"kind", "code"})),
      step_retries_(RegistryOf(options_, own_metrics_)
                        .Counter("kaas_step_retries_total",
                                 "Step attempts that failed with a transient error and were "
                                 "retried after a backoff, by step kind.",
                                 {"kind"})),
      lease_renewals_(
          RegistryOf(options_, own_metrics_)
              .Counter("kaas_lease_renewals_total", "Operation leases this replica renewed.", {})),
      lease_takeovers_(RegistryOf(options_, own_metrics_)
                           .Counter("kaas_lease_takeovers_total",
                                    "Operations this replica claimed from another replica whose "
                                    "lease had expired.",
                                    {})),
      leases_lost_(RegistryOf(options_, own_metrics_)
                       .Counter("kaas_leases_lost_total",
                                "Operations this replica stopped running because another "
                                "replica holds their lease now.",
                                {})),
      fenced_writes_(RegistryOf(options_, own_metrics_)
                         .Counter("kaas_fenced_writes_total",
                                  "Writes refused because this replica no longer held the "
                                  "operation's lease at its epoch (nothing was recorded).",
                                  {})) {
  pool_ = std::make_unique<Pool>(std::max<size_t>(options_.threads, 1));
  options_.lease_renew_ms =
      std::max<int64_t>(std::min(options_.lease_renew_ms, options_.lease_expiry_ms / 3), 100);
  for (auto* counter : {&lease_renewals_, &lease_takeovers_, &leases_lost_, &fenced_writes_}) {
    counter->Inc({}, 0);
  }
  options_.metrics->AddCollector([this](metrics::Exposition& out) {
    out.Family("kaas_operations_owned",
               "Operations whose lease this replica holds (queued or running here).", "gauge");
    out.Sample("kaas_operations_owned", {{"replica", options_.replica_id}},
               static_cast<double>(owned_.load()));
  });
  // Every (type, outcome) series exists from the start: the failure-ratio alert's rate() sees
  // the first failure of a kind.
  for (std::string_view type : EnumNames<OperationType>::kNames) {
    for (OperationState outcome :
         {OperationState::kSucceeded, OperationState::kFailed, OperationState::kCancelled}) {
      operation_duration_.Touch({std::string(type), ToString(outcome)});
    }
  }
}

void Engine::CountAttempt(const store::Step& step, const char* outcome, double seconds,
                          const Status& err) {
  const std::optional<StepKind> kind = KindOf(step);
  const std::string kind_text = kind ? std::string(ToString(*kind)) : "unknown";
  step_duration_.Observe({kind_text, outcome}, seconds);
  if (!err.ok()) step_failures_.Inc({kind_text, std::string(CodeName(err.code()))});
  if (std::string_view(outcome) == "retried") step_retries_.Inc({kind_text});
}

Engine::~Engine() { Shutdown(); }

Status Engine::Start() {
  std::vector<std::string> ids;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    ids = store::operations::ListActiveIds(tx);
    return Status::Ok();
  }));
  started_ = true;
  // Each is claimed before it runs: on SQLite whoever held it (that process is gone); on
  // PostgreSQL only when free, expired or held under this replica's name.
  for (const auto& id : ids) {
    // PostgreSQL: most may be other replicas' ("took over operation" says which became ours).
    if (db_.sqlite()) log::Info("resuming operation", {{"operation", id}});
    Schedule(id, std::nullopt);
  }
  if (!db_.sqlite()) lease_thread_ = std::thread([this] { LeaseLoop(); });
  return Status::Ok();
}

void Engine::Submit(const std::string& op_id) { Schedule(op_id, std::nullopt); }

void Engine::Schedule(const std::string& op_id, std::optional<store::OperationLease> lease) {
  if (stopping_) {
    // Claimed by the poller while kaasd stops: hand it back rather than let it expire.
    if (lease) Release(op_id, lease->epoch);
    return;
  }
  if (lease) owned_ += 1;
  {
    std::lock_guard lock(mu_);
    if (!in_flight_.insert(op_id).second) {
      // It is running here, maybe just ending (a retry that came right after the failure was
      // persisted, or a claim that found our own lease expired): look at it once more when
      // this run returns (claiming it anew), or the retry would be lost.
      rerun_.insert(op_id);
      if (lease) owned_ -= 1;
      return;
    }
  }
  boost::asio::post(pool_->pool, [this, op_id, lease]() mutable {
    DatabaseOutage outage;
    while (true) {
      // Nothing thrown may leave a pool thread (the process would end); a throw outside a step
      // leaves the operation as the database has it, for the next start to resume.
      try {
        if (!lease) {
          auto claimed = Claim(op_id);
          if (claimed.status().code() == Code::kUnavailable) {
            outage.lost = true;
          } else if (!claimed.ok()) {
            log::Error("cannot claim operation",
                       {{"operation", op_id}, {"error", claimed.status().ToString()}});
          } else if (*claimed) {
            lease = *claimed;
            owned_ += 1;
          }
        }
        if (lease) {
          if (!lease->previous_owner.empty() && lease->previous_owner != options_.replica_id) {
            lease_takeovers_.Inc({});
            log::Info("took over operation", {{"operation", op_id},
                                              {"from", lease->previous_owner},
                                              {"epoch", std::to_string(lease->epoch)}});
          }
          auto run = std::make_shared<Run>();
          run->op_id = op_id;
          run->epoch = lease->epoch;
          RunOperation(*run, outage);
          // Stopping: give the lease up, so that another replica resumes at once.
          if (stopping_ && !run->lost) Release(op_id, run->epoch);
        }
      } catch (const std::exception& e) {
        log::Error("operation run threw", {{"operation", op_id}, {"error", e.what()}});
      }
      if (lease) {
        owned_ -= 1;
        lease.reset();
      }
      // kaas lost its database, not the operation its step: wait for the database, then run
      // the operation again from what the database holds (steps are idempotent).
      if (outage.lost && WaitForDatabase()) {
        outage.lost = false;
        outage.resumed = true;
        continue;
      }
      outage = {};
      std::lock_guard lock(mu_);
      if (stopping_ || rerun_.erase(op_id) == 0) {
        in_flight_.erase(op_id);
        rerun_.erase(op_id);
        return;
      }
    }
  });
}

size_t Engine::InFlight() const {
  std::lock_guard lock(mu_);
  return in_flight_.size();
}

void Engine::Shutdown() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  lease_cv_.notify_all();
  pool_->pool.join();
  if (lease_thread_.joinable()) lease_thread_.join();
}

bool Engine::Backoff(const Run& run, int attempt) {
  int64_t base = std::min<int64_t>(static_cast<int64_t>(options_.backoff_base_ms) << (attempt - 1),
                                   options_.backoff_max_ms);
  std::uniform_int_distribution<int64_t> jitter(base / 2, base);
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, std::chrono::milliseconds(jitter(rng_)),
                       [&] { return stopping_.load() || run.lost.load(); });
}

bool Engine::SleepBeforeLookingAgain(const Run& run, std::chrono::milliseconds again,
                                     const std::atomic<bool>* cancel) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, again,
               [&] { return stopping_.load() || run.lost.load() || (cancel && cancel->load()); });
  return !stopping_ && !run.lost;
}

void Engine::RequestCancel(const std::string& op_id) {
  {
    std::lock_guard lock(mu_);
    auto it = runs_.find(op_id);
    if (it != runs_.end()) {
      it->second->cancel = true;
      if (it->second->interruptible) it->second->stop_step = true;
    }
  }
  cv_.notify_all();  // a step waiting to look again stops waiting
}

StepResult Engine::RunStep(const store::Operation& op, const store::Step& step,
                           const StepControl& control) {
  try {
    return runner_.Run(op, step, control);
  } catch (const std::exception& e) {
    log::Error("step threw", {{"operation", op.id},
                              {"cluster", op.cluster_id},
                              {"step", step.name},
                              {"error", e.what()}});
    return Internal("step '" + step.name + "' threw an exception: " + e.what());
  }
}

void Engine::RunOperation(Run& run, DatabaseOutage& outage) {
  const std::string& op_id = run.op_id;
  // A write that did not reach the database means kaas lost it (kUnavailable: connection
  // lost, server away, disk full); the caller waits for it and runs the operation again.
  // Any other error is a bug to log, as before.
  auto lost = [&](const Status& st) {
    if (run.lost) return true;  // fenced: the new holder records, not us
    if (st.code() == Code::kUnavailable) {
      outage.lost = true;
    } else if (!st.ok()) {
      log::Error("cannot record operation", {{"operation", op_id}, {"error", st.ToString()}});
    }
    return !st.ok();
  };
  std::optional<store::Operation> loaded;
  std::string team_id;
  Status st = db_.Read([&](store::Tx& tx) {
    loaded = store::operations::Find(tx, op_id);
    if (loaded) {
      if (auto c = store::clusters::Find(tx, loaded->cluster_id)) team_id = c->team_id;
    }
    return Status::Ok();
  });
  if (st.code() == Code::kUnavailable) {
    outage.lost = true;
    return;
  }
  if (!st.ok() || !loaded) {
    log::Error("cannot load operation", {{"operation", op_id}, {"error", st.ToString()}});
    return;
  }
  store::Operation op = std::move(*loaded);
  if (StateOf(op) != OperationState::kPending && StateOf(op) != OperationState::kRunning) return;
  if (op.owner != options_.replica_id || op.epoch != run.epoch) {
    LoseLease(run, "another replica claimed it first");
    return;
  }
  // The run is shared with the renewals and cancel requests, which find it in runs_.
  run.cancel = op.cancel_requested;
  {
    std::lock_guard lock(mu_);
    runs_[op.id] = run.shared_from_this();
  }
  struct Unregister {
    Engine* e;
    std::string id;
    ~Unregister() {
      std::lock_guard lock(e->mu_);
      e->runs_.erase(id);
    }
  } unregister{this, op.id};
  std::atomic<bool>* cancel = &run.cancel;
  StepControl fenced{nullptr, [this, &run](store::Tx& tx) { return Fence(tx, run); }};

  if (StateOf(op) == OperationState::kPending) {
    op.state = ToString(OperationState::kRunning);
    if (lost(Persist(run, [&](store::Tx& tx) {
          store::operations::SetState(tx, op.id, op.state, "", clock_.NowMs());
          Emit(tx, op.cluster_id, team_id, "operation", OperationEvent(op));
        }))) {
      return;
    }
    log::Info("operation started",
              {{"operation", op.id}, {"cluster", op.cluster_id}, {"type", op.type}});
  }

  // Records the step's state and emits its event (and the operation's, for `with_operation`).
  auto record = [&](const store::Step& step, bool with_operation = false) {
    return lost(Persist(run, [&](store::Tx& tx) {
      store::operations::UpdateStep(tx, step);
      Emit(tx, op.cluster_id, team_id, "step", StepEvent(op, step, options_.replica_id, run.epoch));
      if (with_operation) Emit(tx, op.cluster_id, team_id, "operation", OperationEvent(op));
    }));
  };

  bool safe_here = true;  // stopping now would leave etcd at an odd member count
  for (store::Step& step : op.steps) {
    if (StateOf(step) == StepState::kSucceeded) {
      safe_here = step.cancel_safe;
      continue;
    }
    bool looking_again = false;  // the step waited and runs again without a new attempt
    int64_t waited_ms = 0;
    auto attempt_start = std::chrono::steady_clock::now();
    auto attempt_seconds = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - attempt_start)
          .count();
    };
    while (true) {
      if (stopping_ || run.lost) return;  // checkpoint: the step resumes after restart
      // A cancel takes effect at a step boundary where the cluster can rest.
      if (!cancel->load()) {
        std::optional<store::Operation> fresh;
        Status read = db_.Read([&](store::Tx& tx) {
          fresh = store::operations::Find(tx, op.id);
          return Status::Ok();
        });
        // Unread, the flag is read again at the next boundary; the step itself meets an
        // outage through its own reads and writes.
        if (!read.ok()) log::Warn("cannot read cancel flag", {{"operation", op.id}});
        if (fresh && fresh->cancel_requested) cancel->store(true);
        if (fresh && (fresh->owner != options_.replica_id || fresh->epoch != run.epoch)) {
          LoseLease(run, "another replica holds the lease now");
          return;
        }
      }
      if (cancel->load() && safe_here) {
        lost(Finish(run, op, team_id, OperationState::kCancelled,
                    op.type + " cancelled before step '" + step.name + "'"));
        return;
      }
      StepEntry entry;
      if (options_.hooks && !looking_again) entry = options_.hooks->BeforeStep(op, step);
      if (entry.abandon) return;
      // A start cut short by a database outage was not an attempt of the step's own.
      if (outage.resumed && outage.step_index == step.index && step.attempts > outage.attempts) {
        step.attempts = outage.attempts;
      }
      outage.resumed = false;
      outage.step_index = step.index;
      outage.attempts = step.attempts;
      int64_t outages_before = db_.health().outages;
      if (!looking_again) {
        attempt_start = std::chrono::steady_clock::now();
        step.state = ToString(StepState::kRunning);
        step.attempts += 1;
        if (step.started_at == 0) step.started_at = clock_.NowMs();
        if (record(step)) return;
      }
      looking_again = false;

      // Only a step that starts and ends at a safe boundary may be interrupted by a cancel;
      // any other runs to its end, and the cancel takes hold at the next safe boundary. An
      // etcd membership change is never interrupted (etcd would no longer match the record).
      const std::optional<StepKind> kind = KindOf(step);
      bool interruptible =
          safe_here && step.cancel_safe && !(kind && IsEtcdMembershipChange(*kind));
      {
        std::lock_guard lock(mu_);
        run.interruptible = interruptible;
        run.stop_step = run.lost || (interruptible && run.cancel);
      }
      StepControl control{&run.stop_step, fenced.fence};
      StepResult result = entry.fault.ok() ? RunStep(op, step, control) : StepResult(entry.fault);
      {
        std::lock_guard lock(mu_);
        run.interruptible = false;
        if (!run.lost) run.stop_step = false;
      }
      if (options_.hooks) options_.hooks->AfterStep(op, step);
      // The lease went to another replica while the step ran: it resumes the step there.
      if (run.lost) return;
      if (result.done()) {
        CountAttempt(step, "succeeded", attempt_seconds(), Status::Ok());
        step.state = ToString(StepState::kSucceeded);
        step.message = result.message();
        step.finished_at = clock_.NowMs();
        if (record(step, /*with_operation=*/true)) return;
        safe_here = step.cancel_safe;
        break;
      }
      if (result.waiting() && waited_ms < options_.max_wait_ms) {
        // Not yet: look again later, as the same attempt.
        const std::string message = "waiting: " + result.message();
        if (message != step.message) {
          step.message = message;
          if (record(step)) return;
        }
        waited_ms += result.again().count();
        // A cancel that can take effect here ends the wait early.
        if (!SleepBeforeLookingAgain(run, result.again(), safe_here ? cancel : nullptr)) return;
        looking_again = true;
        continue;
      }
      const Status err =
          result.waiting()
              ? Unavailable("still waiting after " + std::to_string(options_.max_wait_ms / 1000) +
                            " s: " + result.message())
              : result.error();
      // The step failed while the database was away (its own reads and writes go there): that
      // is kaas's outage, not the step's failure; no attempt is spent on it.
      if (!db_.health().available || db_.health().outages != outages_before) {
        outage.lost = true;
        return;
      }
      if (err.code() == Code::kCancelled) {
        CountAttempt(step, "cancelled", attempt_seconds(), Status::Ok());
        step.state = ToString(StepState::kCancelled);
        step.message = err.message();
        step.finished_at = clock_.NowMs();
        if (record(step)) return;
        lost(Finish(run, op, team_id, OperationState::kCancelled,
                    op.type + " cancelled during step '" + step.name + "'"));
        return;
      }
      const std::string attempt = std::to_string(step.attempts);
      if (IsRetryable(err.code()) && step.attempts < options_.max_attempts) {
        CountAttempt(step, "retried", attempt_seconds(), err);
        log::Warn("step attempt failed, retrying", {{"operation", op.id},
                                                    {"cluster", op.cluster_id},
                                                    {"step", step.name},
                                                    {"attempt", attempt},
                                                    {"code", CodeName(err.code())},
                                                    {"error", err.message()}});
        step.message =
            "attempt " + std::to_string(step.attempts) + " failed, retrying: " + err.message();
        if (record(step)) return;
        if (!Backoff(run, static_cast<int>(step.attempts))) return;
        continue;
      }
      CountAttempt(step, "failed", attempt_seconds(), err);
      log::Warn("step failed", {{"operation", op.id},
                                {"cluster", op.cluster_id},
                                {"step", step.name},
                                {"attempt", attempt},
                                {"code", CodeName(err.code())},
                                {"error", err.message()}});
      step.state = ToString(StepState::kFailed);
      step.message = err.message();
      step.finished_at = clock_.NowMs();
      if (record(step)) return;
      lost(Finish(run, op, team_id, OperationState::kFailed,
                  op.type + " failed at step '" + step.name + "': " + err.message()));
      return;
    }
  }
  lost(Finish(run, op, team_id, OperationState::kSucceeded, ""));
}

}  // namespace kaas::lifecycle
