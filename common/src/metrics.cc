#include "kaas/common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kaas::metrics {
namespace {

std::string LabelText(const std::vector<std::string>& names, const LabelValues& values,
                      const std::string& extra_name = "", const std::string& extra_value = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    out += (out.empty() ? "" : ",") + extra_name + "=\"" + extra_value + "\"";
  }
  return out.empty() ? "" : "{" + out + "}";
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", value);
  return buf;
}

void Exposition::Family(const std::string& name, const std::string& help, const std::string& type) {
  out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void Exposition::Append(const std::string& lines) { out_ += lines; }

void Exposition::Sample(const std::string& name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) out_ += ",";
      out_ += labels[i].first + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
    }
    out_ += "}";
  }
  out_ += " " + FormatValue(value) + "\n";
}

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void CounterFamily::Inc(const LabelValues& values, double by) {
  std::lock_guard lock(mu_);
  values_[values] += by;
}

double CounterFamily::Value(const LabelValues& values) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(values);
  return it == values_.end() ? 0 : it->second;
}

void CounterFamily::Render(Exposition& out) const {
  out.Family(name_, help_, "counter");
  std::string text;
  {
    std::lock_guard lock(mu_);
    for (const auto& [values, v] : values_) {
      text += name_ + LabelText(label_names_, values) + " " + FormatValue(v) + "\n";
    }
  }
  out.Append(text);
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

void HistogramFamily::Observe(const LabelValues& values, double value) {
  size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  std::lock_guard lock(mu_);
  Series& s = series_[values];
  if (s.buckets.empty()) s.buckets.assign(bounds_.size() + 1, 0);
  s.buckets[bucket]++;
  s.sum += value;
  s.count++;
}

void HistogramFamily::Touch(const LabelValues& values) {
  std::lock_guard lock(mu_);
  Series& s = series_[values];
  if (s.buckets.empty()) s.buckets.assign(bounds_.size() + 1, 0);
}

uint64_t HistogramFamily::Count(const LabelValues& values) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second.count;
}

void HistogramFamily::Render(Exposition& out) const {
  out.Family(name_, help_, "histogram");
  std::string text;
  {
    std::lock_guard lock(mu_);
    for (const auto& [values, s] : series_) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= bounds_.size(); ++i) {
        cumulative += s.buckets[i];
        std::string le = i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf";
        text += name_ + "_bucket" + LabelText(label_names_, values, "le", le) + " " +
                std::to_string(cumulative) + "\n";
      }
      std::string labels = LabelText(label_names_, values);
      text += name_ + "_sum" + labels + " " + FormatValue(s.sum) + "\n";
      text += name_ + "_count" + labels + " " + std::to_string(s.count) + "\n";
    }
  }
  out.Append(text);
}

std::vector<double> RequestBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> LongBuckets() {
  return {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600};
}

CounterFamily& Registry::Counter(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  auto& slot = counters_[name];
  if (!slot) slot = std::make_unique<CounterFamily>(name, help, std::move(label_names));
  return *slot;
}

HistogramFamily& Registry::Histogram(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names,
                                     std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& slot = histograms_[name];
  if (!slot) {
    slot = std::make_unique<HistogramFamily>(name, help, std::move(label_names), std::move(bounds));
  }
  return *slot;
}

void Registry::AddCollector(std::function<void(Exposition&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::Render() const {
  std::vector<std::function<void(Exposition&)>> collectors;
  Exposition out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, c] : counters_) c->Render(out);
    for (const auto& [name, h] : histograms_) h->Render(out);
    collectors = collectors_;
  }
  for (const auto& c : collectors) c(out);
  return out.text();
}

}  // namespace kaas::metrics
