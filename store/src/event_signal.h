// Wakes the readers of a cluster's event stream when its events are committed
// (Database::EventGeneration / WaitForEvents): after a commit in this process, and on
// PostgreSQL after a commit in any process, through LISTEN kaas_events on a connection of its
// own.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace kaas::store {

class EventSignal {
 public:
  EventSignal() = default;
  ~EventSignal();
  EventSignal(const EventSignal&) = delete;
  EventSignal& operator=(const EventSignal&) = delete;

  uint64_t Generation(const std::string& cluster_id) const;
  // True when the cluster's generation moved past `seen` within `timeout_ms`.
  bool Wait(const std::string& cluster_id, uint64_t seen, int64_t timeout_ms);
  void Bump(const std::string& cluster_id);
  // Once (later calls do nothing): a thread that LISTENs on kaas_events with libpq's
  // `conninfo` and bumps the cluster each notification names; it reconnects with a growing
  // pause when the connection breaks, and wakes everyone when it is back (what was committed in
  // between was not heard).
  void Listen(const std::string& conninfo);

 private:
  static constexpr size_t kBuckets = 64;
  static size_t Bucket(const std::string& cluster_id);
  void BumpAll();
  void ListenLoop(std::string conninfo);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::array<uint64_t, kBuckets> generations_{};
  bool stopping_ = false;
  bool listening_ = false;
  std::thread listener_;
};

}  // namespace kaas::store
