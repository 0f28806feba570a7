#pragma once

// Metrics in the Prometheus text exposition format (version 0.0.4): counters and histograms
// that code updates as things happen, and gauges that collectors compute at scrape time.
//
// A Registry is owned by whoever wires the process (kaasd's main) and handed to the parts that
// record; nothing here is global. Label values must come from small, fixed sets (route
// patterns, step kinds, error codes) — never ids — so that a family's series stay bounded.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace kaas::metrics {

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;
// (name, value) pairs for a gauge sample.
using Labels = std::vector<std::pair<std::string, std::string>>;

// The exposition text being written for one scrape. Collectors use Family + Sample for gauges.
class Exposition {
 public:
  // `# HELP` and `# TYPE` lines; `type` is gauge, counter or histogram.
  void Family(const std::string& name, const std::string& help, const std::string& type);
  void Sample(const std::string& name, const Labels& labels, double value);
  // Sample lines already formatted (the families below).
  void Append(const std::string& lines);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// A monotonically increasing count per label-value combination.
class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);
  void Inc(const LabelValues& values, double by = 1);
  void Render(Exposition& out) const;
  // The current value (0 for a combination never incremented); for tests.
  double Value(const LabelValues& values) const;

 private:
  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<LabelValues, double> values_;
};

// Observations in cumulative buckets (upper bounds, ascending; +Inf is implicit), with _sum and
// _count, per label-value combination.
class HistogramFamily {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  void Observe(const LabelValues& values, double value);
  // Makes the combination's series exist at zero, so that its first observation is an
  // increase Prometheus' rate() and increase() can see (a series born at 1 looks flat).
  void Touch(const LabelValues& values);
  void Render(Exposition& out) const;
  // Observations so far for a combination; for tests.
  uint64_t Count(const LabelValues& values) const;

 private:
  struct Series {
    std::vector<uint64_t> buckets;  // non-cumulative; the last one is +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<LabelValues, Series> series_;
};

// Bucket bounds in seconds.
// HTTP requests: 1 ms .. 10 s.
std::vector<double> RequestBuckets();
// Operations, steps and playbook runs: 10 ms .. 1 h.
std::vector<double> LongBuckets();

class Registry {
 public:
  // The family of that name, created on first use; a second call with the same name returns
  // the same family (the help, labels and buckets of the first call stand).
  CounterFamily& Counter(const std::string& name, const std::string& help,
                         std::vector<std::string> label_names);
  HistogramFamily& Histogram(const std::string& name, const std::string& help,
                             std::vector<std::string> label_names, std::vector<double> bounds);
  // Called at every Render, in the order added, after the counters and histograms: gauges
  // computed from current state (the database, a pool). A collector must not call Render.
  void AddCollector(std::function<void(Exposition&)> collector);
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<CounterFamily>> counters_;
  std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_;
  std::vector<std::function<void(Exposition&)>> collectors_;
};

// A label value escaped for the exposition format (backslash, double quote, newline).
std::string EscapeLabelValue(const std::string& value);
// A sample value: integers without a fraction, +Inf/-Inf/NaN as Prometheus spells them.
std::string FormatValue(double value);

}  // namespace kaas::metrics
