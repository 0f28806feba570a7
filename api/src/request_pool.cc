#include "request_pool.h"

namespace kaas::api {

RequestPool::RequestPool(size_t size) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < size; ++i) StartWorkerLocked();
}

RequestPool::~RequestPool() { shutdown(); }

void RequestPool::enqueue(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

void RequestPool::shutdown() {
  std::vector<std::thread> all;
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
    for (auto& [id, t] : threads_) all.push_back(std::move(t));
    threads_.clear();
  }
  cv_.notify_all();
  for (auto& t : all) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(mu_);
  for (auto& t : finished_) {
    if (t.joinable()) t.join();
  }
  finished_.clear();
}

void RequestPool::DetachCurrentWorker() {
  std::lock_guard lock(mu_);
  if (shutdown_ || !detached_.insert(std::this_thread::get_id()).second) return;
  StartWorkerLocked();
}

size_t RequestPool::detached() const {
  std::lock_guard lock(mu_);
  return detached_.size();
}

void RequestPool::StartWorkerLocked() {
  // Threads of streams that ended are joined here (they have left Work() already).
  for (auto& t : finished_) t.join();
  finished_.clear();
  std::thread t([this] { Work(); });
  auto id = t.get_id();
  threads_.emplace(id, std::move(t));
}

void RequestPool::Work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return shutdown_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
    std::lock_guard lock(mu_);
    auto id = std::this_thread::get_id();
    if (detached_.erase(id) == 0) continue;
    // A replacement has taken this thread's place: leave. When shutdown() already took the
    // thread object, it joins this thread itself.
    if (auto it = threads_.find(id); it != threads_.end()) {
      finished_.push_back(std::move(it->second));
      threads_.erase(it);
    }
    return;
  }
}

}  // namespace kaas::api
