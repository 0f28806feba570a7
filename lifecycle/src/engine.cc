#include "kaas/lifecycle/engine.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <random>

#include "kaas/common/log.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {

struct Engine::Pool {
  explicit Pool(size_t n) : pool(n) {}
  boost::asio::thread_pool pool;
};

std::string RestingStatus(const std::string& operation_type) {
  return operation_type == "delete" ? "deleted" : "running";
}

Engine::Engine(store::Database& db, StepRunner& runner, const Clock& clock, EngineOptions options)
    : db_(db), runner_(runner), clock_(clock), options_(std::move(options)) {
  pool_ = std::make_unique<Pool>(std::max<size_t>(options_.threads, 1));
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
    if (!in_flight_.insert(op_id).second) return;
  }
  boost::asio::post(pool_->pool, [this, op_id] {
    RunOperation(op_id);
    std::lock_guard lock(mu_);
    in_flight_.erase(op_id);
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

bool Engine::Backoff(int attempt) {
  thread_local std::mt19937 rng{std::random_device{}()};
  int64_t base = std::min<int64_t>(static_cast<int64_t>(options_.backoff_base_ms) << (attempt - 1),
                                   options_.backoff_max_ms);
  std::uniform_int_distribution<int64_t> jitter(base / 2, base);
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, std::chrono::milliseconds(jitter(rng)),
                       [&] { return stopping_.load(); });
}

void Engine::RunOperation(const std::string& op_id) {
  std::optional<store::Operation> loaded;
  Status st = db_.Read([&](store::Tx& tx) {
    loaded = store::operations::Find(tx, op_id);
    return Status::Ok();
  });
  if (!st.ok() || !loaded) {
    log::Error("cannot load operation", {{"operation", op_id}, {"error", st.ToString()}});
    return;
  }
  store::Operation op = std::move(*loaded);
  if (op.state != "pending" && op.state != "running") return;
  if (op.state == "pending") {
    op.state = "running";
    if (!Persist([&](store::Tx& tx) {
           store::operations::SetState(tx, op.id, "running", "", clock_.NowMs());
         }).ok()) {
      return;
    }
  }

  for (store::Step& step : op.steps) {
    if (step.state == "succeeded") continue;
    while (true) {
      if (stopping_) return;  // checkpoint: the step resumes after restart
      if (options_.before_step && !options_.before_step(op.id, step.index)) return;
      step.state = "running";
      step.attempts += 1;
      if (step.started_at == 0) step.started_at = clock_.NowMs();
      if (!Persist([&](store::Tx& tx) { store::operations::UpdateStep(tx, step); }).ok()) return;

      Result<std::string> result = runner_.Run(op, step);
      if (result.ok()) {
        step.state = "succeeded";
        step.message = *result;
        step.finished_at = clock_.NowMs();
        if (!Persist([&](store::Tx& tx) { store::operations::UpdateStep(tx, step); }).ok()) {
          return;
        }
        break;
      }
      const Status& err = result.status();
      if (IsRetryable(err.code()) && step.attempts < options_.max_attempts) {
        step.message =
            "attempt " + std::to_string(step.attempts) + " failed, retrying: " + err.message();
        if (!Persist([&](store::Tx& tx) { store::operations::UpdateStep(tx, step); }).ok()) {
          return;
        }
        if (!Backoff(static_cast<int>(step.attempts))) return;
        continue;
      }
      step.state = "failed";
      step.message = err.message();
      step.finished_at = clock_.NowMs();
      std::string reason = op.type + " failed at step '" + step.name + "': " + err.message();
      Persist([&](store::Tx& tx) {
        store::operations::UpdateStep(tx, step);
        store::operations::SetState(tx, op.id, "failed", reason, clock_.NowMs());
        store::clusters::SetStatus(tx, op.cluster_id, "error", reason, clock_.NowMs());
      });
      log::Error("operation failed", {{"operation", op.id}, {"reason", reason}});
      return;
    }
  }
  Persist([&](store::Tx& tx) {
    store::operations::SetState(tx, op.id, "succeeded", "", clock_.NowMs());
    store::clusters::SetStatus(tx, op.cluster_id, RestingStatus(op.type), "", clock_.NowMs());
  });
  log::Info("operation succeeded", {{"operation", op.id}, {"type", op.type}});
}

}  // namespace kaas::lifecycle
