#include "kaas/lifecycle/engine.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <exception>
#include <nlohmann/json.hpp>

#include "kaas/common/ids.h"
#include "kaas/common/log.h"
#include "kaas/notify/notify.h"
#include "kaas/store/repositories.h"
#include "steps_internal.h"

namespace kaas::lifecycle {

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
                                 {"kind"})) {
  pool_ = std::make_unique<Pool>(std::max<size_t>(options_.threads, 1));
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
  for (const auto& id : ids) {
    log::Info("resuming operation", {{"operation", id}});
    Submit(id);
  }
  return Status::Ok();
}

void Engine::Submit(const std::string& op_id) {
  if (stopping_) return;
  {
    std::lock_guard lock(mu_);
    if (!in_flight_.insert(op_id).second) {
      // It is running here, maybe just ending (a retry that came right after the failure was
      // persisted): look at it once more when this run returns, or the retry would be lost.
      rerun_.insert(op_id);
      return;
    }
  }
  boost::asio::post(pool_->pool, [this, op_id] {
    DatabaseOutage outage;
    while (true) {
      // Nothing thrown may leave a pool thread (the process would end); a throw outside a step
      // leaves the operation as the database has it, for the next start to resume.
      try {
        RunOperation(op_id, outage);
      } catch (const std::exception& e) {
        log::Error("operation run threw", {{"operation", op_id}, {"error", e.what()}});
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
  pool_->pool.join();
}

Status Engine::Persist(const std::function<void(store::Tx&)>& fn) {
  return db_.Write([&](store::Tx& tx) {
    fn(tx);
    return Status::Ok();
  });
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

bool Engine::Backoff(int attempt) {
  int64_t base = std::min<int64_t>(static_cast<int64_t>(options_.backoff_base_ms) << (attempt - 1),
                                   options_.backoff_max_ms);
  std::uniform_int_distribution<int64_t> jitter(base / 2, base);
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, std::chrono::milliseconds(jitter(rng_)),
                       [&] { return stopping_.load(); });
}

bool Engine::SleepBeforeLookingAgain(std::chrono::milliseconds again,
                                     const std::atomic<bool>* cancel) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, again, [&] { return stopping_.load() || (cancel && cancel->load()); });
  return !stopping_;
}

void Engine::RequestCancel(const std::string& op_id) {
  {
    std::lock_guard lock(mu_);
    auto it = cancel_flags_.find(op_id);
    if (it != cancel_flags_.end()) it->second->store(true);
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

void Engine::Emit(store::Tx& tx, const std::string& cluster_id, const std::string& team_id,
                  const std::string& kind, const std::string& data) {
  store::Event e{NewId("ev"), cluster_id, team_id, clock_.NowMs(), kind, data};
  store::events::Insert(tx, e);
}

namespace {

std::string StepEvent(const store::Operation& op, const store::Step& s) {
  return nlohmann::json{{"operation", op.id}, {"index", s.index},     {"name", s.name},
                        {"state", s.state},   {"message", s.message}, {"attempts", s.attempts}}
      .dump();
}

std::string OperationEvent(const store::Operation& op) {
  return nlohmann::json{{"operation", op.id},
                        {"type", op.type},
                        {"state", op.state},
                        {"error", op.error},
                        {"progress", Progress(op)}}
      .dump();
}

std::string ClusterEvent(const std::string& status, const std::string& reason) {
  return nlohmann::json{{"status", status}, {"status_reason", reason}}.dump();
}

// Where a cluster rests when an operation of `type` ends in `state`.
std::pair<ClusterStatus, std::string> Resting(const store::Operation& op, OperationState state,
                                              const std::string& why) {
  if (state == OperationState::kSucceeded) {
    return {RestingStatus(TypeOf(op).value_or(OperationType::kCreate)), ""};
  }
  if (state == OperationState::kFailed) return {ClusterStatus::kError, why};
  // Cancelled: a half-built or half-deleted cluster is not usable; a cancelled change leaves a
  // working cluster whose shape the record describes.
  const auto type = TypeOf(op);
  if (type == OperationType::kCreate || type == OperationType::kDelete) {
    return {ClusterStatus::kError, why};
  }
  return {ClusterStatus::kRunning, why};
}

}  // namespace

void Engine::Notify(store::Tx& tx, const store::Operation& op, const std::string& team_id,
                    OperationState state) {
  auto c = store::clusters::Find(tx, op.cluster_id);
  const std::string name = c ? c->name : "";
  const int64_t now = clock_.NowMs();
  std::string data =
      nlohmann::json{{"type", op.type}, {"state", op.state}, {"error", op.error}}.dump();
  notify::Enqueue(
      tx, {"operation." + op.state, team_id, op.cluster_id, name, op.id, op.requested_by, data},
      now);
  if (state != OperationState::kSucceeded) return;
  const auto type = TypeOf(op);
  if (type == OperationType::kRepair) {
    notify::Enqueue(tx,
                    {"node.repaired", team_id, op.cluster_id, name, op.id, op.requested_by,
                     nlohmann::json{{"node", internal::ParamOf(op, "node")}}.dump()},
                    now);
    return;
  }
  if (type != OperationType::kCreate && type != OperationType::kDelete) return;
  notify::Enqueue(tx,
                  {type == OperationType::kCreate ? "cluster.created" : "cluster.deleted", team_id,
                   op.cluster_id, name, op.id, op.requested_by,
                   nlohmann::json{{"status", c ? c->status : ""}}.dump()},
                  now);
}

Status Engine::Finish(store::Operation& op, const std::string& team_id, OperationState state,
                      const std::string& why) {
  op.state = ToString(state);
  op.error = state == OperationState::kSucceeded ? "" : why;
  for (auto& s : op.steps) {
    if (state == OperationState::kCancelled && StateOf(s) == StepState::kPending) {
      s.state = ToString(StepState::kCancelled);
    }
  }
  // The cluster record describes its live nodes before anyone can see the operation ended.
  Status settled = runner_.Settle(op);
  if (!settled.ok()) {
    log::Error("settle failed",
               {{"operation", op.id}, {"cluster", op.cluster_id}, {"error", settled.ToString()}});
  }
  auto [resting, reason] = Resting(op, state, why);
  const std::string status = ToString(resting);
  KAAS_RETURN_IF_ERROR(Persist([&](store::Tx& tx) {
    for (const auto& s : op.steps) {
      if (StateOf(s) == StepState::kCancelled) store::operations::UpdateStep(tx, s);
    }
    store::operations::SetState(tx, op.id, op.state, op.error, clock_.NowMs());
    store::clusters::SetStatus(tx, op.cluster_id, status, reason, clock_.NowMs());
    Emit(tx, op.cluster_id, team_id, "operation", OperationEvent(op));
    Emit(tx, op.cluster_id, team_id, "cluster", ClusterEvent(status, reason));
    if (state == OperationState::kSucceeded && TypeOf(op) == OperationType::kRepair) {
      Emit(tx, op.cluster_id, team_id, "node",
           nlohmann::json{{"event", "node.repaired"},
                          {"node", internal::ParamOf(op, "node")},
                          {"operation", op.id}}
               .dump());
    }
    Notify(tx, op, team_id, state);
  }));
  const double seconds = std::max<int64_t>(clock_.NowMs() - op.created_at, 0) / 1000.0;
  operation_duration_.Observe({op.type, op.state}, seconds);
  const std::string ms = std::to_string(static_cast<int64_t>(seconds * 1000));
  if (state == OperationState::kSucceeded) {
    log::Info(
        "operation succeeded",
        {{"operation", op.id}, {"cluster", op.cluster_id}, {"type", op.type}, {"duration_ms", ms}});
  } else {
    log::Warn("operation ended", {{"operation", op.id},
                                  {"cluster", op.cluster_id},
                                  {"type", op.type},
                                  {"state", op.state},
                                  {"duration_ms", ms},
                                  {"reason", why}});
  }
  return Status::Ok();
}

void Engine::RunOperation(const std::string& op_id, DatabaseOutage& outage) {
  // A write that did not reach the database means kaas lost it (kUnavailable: connection
  // lost, server away, disk full); the caller waits for it and runs the operation again.
  // Any other error is a bug to log, as before.
  auto lost = [&](const Status& st) {
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
  auto cancel = std::make_shared<std::atomic<bool>>(op.cancel_requested);
  {
    std::lock_guard lock(mu_);
    cancel_flags_[op.id] = cancel;
  }
  struct Unregister {
    Engine* e;
    std::string id;
    ~Unregister() {
      std::lock_guard lock(e->mu_);
      e->cancel_flags_.erase(id);
    }
  } unregister{this, op.id};

  if (StateOf(op) == OperationState::kPending) {
    op.state = ToString(OperationState::kRunning);
    if (lost(Persist([&](store::Tx& tx) {
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
    return lost(Persist([&](store::Tx& tx) {
      store::operations::UpdateStep(tx, step);
      Emit(tx, op.cluster_id, team_id, "step", StepEvent(op, step));
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
      if (stopping_) return;  // checkpoint: the step resumes after restart
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
      }
      if (cancel->load() && safe_here) {
        lost(Finish(op, team_id, OperationState::kCancelled,
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
      StepControl control{interruptible ? cancel.get() : nullptr};
      StepResult result = entry.fault.ok() ? RunStep(op, step, control) : StepResult(entry.fault);
      if (options_.hooks) options_.hooks->AfterStep(op, step);
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
        if (!SleepBeforeLookingAgain(result.again(), safe_here ? cancel.get() : nullptr)) return;
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
        lost(Finish(op, team_id, OperationState::kCancelled,
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
        if (!Backoff(static_cast<int>(step.attempts))) return;
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
      lost(Finish(op, team_id, OperationState::kFailed,
                  op.type + " failed at step '" + step.name + "': " + err.message()));
      return;
    }
  }
  lost(Finish(op, team_id, OperationState::kSucceeded, ""));
}

}  // namespace kaas::lifecycle
