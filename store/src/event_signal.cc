#include "event_signal.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "kaas/common/log.h"

namespace kaas::store {

EventSignal::~EventSignal() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (listener_.joinable()) listener_.join();
}

size_t EventSignal::Bucket(const std::string& cluster_id) {
  return std::hash<std::string>{}(cluster_id) % kBuckets;
}

uint64_t EventSignal::Generation(const std::string& cluster_id) const {
  std::lock_guard lock(mu_);
  return generations_[Bucket(cluster_id)];
}

bool EventSignal::Wait(const std::string& cluster_id, uint64_t seen, int64_t timeout_ms) {
  const size_t b = Bucket(cluster_id);
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return stopping_ || generations_[b] != seen;
  }) && generations_[b] != seen;
}

void EventSignal::Bump(const std::string& cluster_id) {
  {
    std::lock_guard lock(mu_);
    ++generations_[Bucket(cluster_id)];
  }
  cv_.notify_all();
}

void EventSignal::BumpAll() {
  {
    std::lock_guard lock(mu_);
    for (auto& g : generations_) ++g;
  }
  cv_.notify_all();
}

void EventSignal::Listen(const std::string& conninfo) {
  std::lock_guard lock(mu_);
  if (listening_ || stopping_) return;
  listening_ = true;
  listener_ = std::thread([this, conninfo] { ListenLoop(conninfo); });
}

void EventSignal::ListenLoop(std::string conninfo) {
  int64_t pause_ms = 500;
  auto stopping = [&] {
    std::lock_guard lock(mu_);
    return stopping_;
  };
  auto pause = [&] {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(pause_ms), [&] { return stopping_; });
    pause_ms = std::min<int64_t>(pause_ms * 2, 5000);
  };
  bool logged = false;
  while (!stopping()) {
    PGconn* conn = PQconnectdb(conninfo.c_str());
    bool ok = PQstatus(conn) == CONNECTION_OK;
    if (ok) {
      PGresult* r = PQexec(conn, "LISTEN kaas_events");
      ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      PQclear(r);
    }
    if (!ok) {
      if (!logged) {
        log::Warn("not listening for events of other replicas (streams poll meanwhile)",
                  {{"error", PQerrorMessage(conn)}});
        logged = true;
      }
      PQfinish(conn);
      pause();
      continue;
    }
    logged = false;
    pause_ms = 500;
    BumpAll();  // what was committed while nobody listened: look again
    while (!stopping()) {
      pollfd p{PQsocket(conn), POLLIN, 0};
      if (poll(&p, 1, 500) < 0 && errno != EINTR) break;
      if (PQconsumeInput(conn) == 0) break;  // the connection broke
      while (PGnotify* n = PQnotifies(conn)) {
        Bump(n->extra);
        PQfreemem(n);
      }
      if (PQstatus(conn) != CONNECTION_OK) break;
    }
    PQfinish(conn);
  }
}

}  // namespace kaas::store
