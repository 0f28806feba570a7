#include "kaas/lifecycle/faults.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>

namespace kaas::lifecycle {

void FaultInjector::Set(std::vector<FaultRule> rules) {
  std::lock_guard lock(mu_);
  rules_ = std::move(rules);
}

std::vector<FaultRule> FaultInjector::Rules() const {
  std::lock_guard lock(mu_);
  return rules_;
}

Status FaultInjector::Check(const std::string& on, const std::string& name, const std::string& kind,
                            std::string* crash) {
  int64_t delay = 0;
  Status result;
  {
    std::lock_guard lock(mu_);
    for (auto& r : rules_) {
      if (r.on != on) continue;
      if (!r.match.empty() && r.match != name && r.match != kind) continue;
      ++r.seen;
      if (r.seen < r.nth) continue;
      if (r.times > 0 && r.fired >= r.times) continue;
      ++r.fired;
      if (r.action == "delay") {
        delay += r.delay_ms;
      } else if (r.action == "crash" || r.action == "crash_after_act") {
        if (crash) *crash = r.action;
      } else if (result.ok()) {
        result = Status(r.code == "internal" ? Code::kInternal : Code::kUnavailable,
                        "injected fault on " + on + " " + (name.empty() ? kind : name));
      }
    }
  }
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  return result;
}

std::vector<std::string> FaultInjector::TakeNodeCrashes() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (auto& r : rules_) {
    if (r.on != "node" || r.action != "crash" || r.fired > 0) continue;
    ++r.seen;
    ++r.fired;
    out.push_back(r.match);
  }
  return out;
}

namespace {

// What a "crash" fault does: kaasd dies as a kill -9 would, nothing written after.
[[noreturn]] void CrashNow() {
  kill(getpid(), SIGKILL);
  std::abort();  // not reached
}

}  // namespace

StepEntry FaultHooks::BeforeStep(const store::Operation& op, const store::Step& step) {
  std::string crash;
  StepEntry entry;
  entry.fault = faults_.Check("step", step.name, step.kind, &crash);
  if (crash == "crash") CrashNow();
  if (crash == "crash_after_act") {
    std::lock_guard lock(mu_);
    crash_after_act_.insert({op.id, step.index});
  }
  return entry;
}

void FaultHooks::AfterStep(const store::Operation& op, const store::Step& step) {
  std::lock_guard lock(mu_);
  if (crash_after_act_.count({op.id, step.index})) CrashNow();
}

namespace {

class FaultyHypervisor : public provisioner::Hypervisor {
 public:
  FaultyHypervisor(provisioner::Hypervisor& inner, FaultInjector& faults)
      : inner_(inner), faults_(faults) {}
  const std::string& name() const override { return inner_.name(); }
  Result<provisioner::DomainInfo> EnsureDomainRunning(const provisioner::DomainSpec& s) override {
    KAAS_RETURN_IF_ERROR(faults_.Check("hypervisor", inner_.name(), "ensure_domain"));
    return inner_.EnsureDomainRunning(s);
  }
  Result<provisioner::DomainInfo> ResizeDomain(const provisioner::DomainSpec& s) override {
    KAAS_RETURN_IF_ERROR(faults_.Check("hypervisor", inner_.name(), "resize_domain"));
    return inner_.ResizeDomain(s);
  }
  Status DestroyDomain(const std::string& d) override {
    KAAS_RETURN_IF_ERROR(faults_.Check("hypervisor", inner_.name(), "destroy_domain"));
    return inner_.DestroyDomain(d);
  }
  Status PowerOff(const std::string& d) override { return inner_.PowerOff(d); }
  Result<provisioner::DomainInfo> FindDomain(const std::string& d) override {
    KAAS_RETURN_IF_ERROR(faults_.Check("hypervisor", inner_.name(), "find_domain"));
    return inner_.FindDomain(d);
  }
  Result<std::vector<provisioner::DomainInfo>> ListDomains() override {
    return inner_.ListDomains();  // reconciliation is not a fault target
  }

 private:
  provisioner::Hypervisor& inner_;
  FaultInjector& faults_;
};

}  // namespace

Result<provisioner::Hypervisor*> FaultyFleet::Get(const std::string& name, const std::string& uri) {
  KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * inner, inner_.Get(name, uri));
  std::lock_guard lock(mu_);
  for (auto& w : wrappers_) {
    if (w->name() == name) return w.get();
  }
  wrappers_.push_back(std::make_unique<FaultyHypervisor>(*inner, faults_));
  return wrappers_.back().get();
}

}  // namespace kaas::lifecycle
