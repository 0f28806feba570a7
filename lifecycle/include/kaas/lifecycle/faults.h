#pragma once

#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kaas/common/status.h"
#include "kaas/lifecycle/engine_hooks.h"
#include "kaas/provisioner/hypervisor.h"

namespace kaas::lifecycle {

// A fault to inject (tests and demos only; kaasd enables it with --fault-injection true).
struct FaultRule {
  // Which calls it applies to: "step" (an operation step starts), "hypervisor" (any
  // hypervisor call), "node" (the health monitor's next sweep: action "crash" powers the
  // node's machine off, as if it had died).
  std::string on = "step";
  std::string match;  // step name or kind ("" = any); for "node": CLUSTER/NODE (id or name)
  // fail: the call fails with `code`; delay: it takes delay_ms longer; crash: kaasd kills itself
  // with SIGKILL before the step starts; crash_after_act: SIGKILL after the step acted but
  // before its result was recorded (a mid-step crash).
  std::string action = "fail";
  std::string code = "unavailable";  // unavailable (retried) | internal (permanent)
  int64_t nth = 1;                   // first matching call it fires on (1 = the next one)
  int64_t times = 1;                 // how many calls it fires on (0 = every one from nth on)
  int64_t delay_ms = 0;
  // Bookkeeping.
  int64_t seen = 0;
  int64_t fired = 0;
};

// Thread-safe list of fault rules, consulted by the engine and the hypervisor decorator.
class FaultInjector {
 public:
  void Set(std::vector<FaultRule> rules);
  std::vector<FaultRule> Rules() const;

  // What the matching rule says for this call: OK (nothing), or an error, after sleeping for
  // any delay. Crash actions are returned as the action name in `*crash` ("crash" or
  // "crash_after_act"), left to the caller.
  Status Check(const std::string& on, const std::string& name, const std::string& kind,
               std::string* crash = nullptr);

  // The CLUSTER/NODE of every "node" crash rule that has not fired yet; each fires once.
  std::vector<std::string> TakeNodeCrashes();

 private:
  mutable std::mutex mu_;
  std::vector<FaultRule> rules_;
};

// The engine hooks of fault injection (kaasd gives them to its engine with --fault-injection
// true): before every step attempt the injector's "step" rules may delay it, fail it, or kill
// kaasd with SIGKILL before the step starts ("crash") or after it acted but before its result
// is recorded ("crash_after_act").
class FaultHooks : public EngineHooks {
 public:
  explicit FaultHooks(FaultInjector& faults) : faults_(faults) {}
  StepEntry BeforeStep(const store::Operation& op, const store::Step& step) override;
  void AfterStep(const store::Operation& op, const store::Step& step) override;

 private:
  FaultInjector& faults_;
  std::mutex mu_;
  std::set<std::pair<std::string, int64_t>> crash_after_act_;  // (operation, step index)
};

// A Fleet whose hypervisors consult the injector before every call.
class FaultyFleet : public provisioner::Fleet {
 public:
  FaultyFleet(provisioner::Fleet& inner, FaultInjector& faults) : inner_(inner), faults_(faults) {}
  Result<provisioner::Hypervisor*> Get(const std::string& name, const std::string& uri) override;

 private:
  provisioner::Fleet& inner_;
  FaultInjector& faults_;
  std::mutex mu_;
  std::vector<std::unique_ptr<provisioner::Hypervisor>> wrappers_;
};

}  // namespace kaas::lifecycle
