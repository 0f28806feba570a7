#pragma once

// Internal to api/: the HTTP server's thread pool.

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace kaas::api {

// cpp-httplib's task queue (one job per accepted connection) with `size` request workers.
// A worker whose connection turns into a long-lived stream (server-sent events) leaves the
// pool with DetachCurrentWorker(): a new worker takes its place at once, and the detached
// thread ends when its connection does. So streams never occupy the request workers, and the
// number of extra threads is bounded by the number of open streams (capped by the caller).
class RequestPool : public httplib::TaskQueue {
 public:
  explicit RequestPool(size_t size);
  ~RequestPool() override;

  void enqueue(std::function<void()> fn) override;
  // Runs the queued jobs, then joins every thread (detached ones included).
  void shutdown() override;

  // Called on a worker thread, inside a job: this thread no longer counts as a request
  // worker. Calling it twice from one job does nothing more.
  void DetachCurrentWorker();

  size_t detached() const;

 private:
  void Work();
  void StartWorkerLocked();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::map<std::thread::id, std::thread> threads_;
  std::set<std::thread::id> detached_;
  std::vector<std::thread> finished_;  // detached threads that ended, joined later
};

}  // namespace kaas::api
