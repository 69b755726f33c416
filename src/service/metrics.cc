#include "service/metrics.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>

namespace swapline::service {
namespace {

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// "a=\"x\",b=\"y\"" (no braces).
std::string RenderLabels(const Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out += ',';
    out += name + "=\"" + EscapeLabelValue(value) + "\"";
  }
  return out;
}

std::string FormatNumber(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

std::string WithLabel(const std::string& labels, const std::string& extra) {
  if (labels.empty()) return "{" + extra + "}";
  return "{" + labels + "," + extra + "}";
}

}  // namespace

void MetricsRegistry::Declare(const std::string& name, Type type, const std::string& help,
                              std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  if (families_.count(name) != 0) return;
  Family& family = families_[name];
  family.type = type;
  family.help = help;
  family.bounds = std::move(buckets);
}

MetricsRegistry::Series& MetricsRegistry::SeriesFor(const std::string& name, const Labels& labels) {
  Family& family = families_[name];
  Series& series = family.series[RenderLabels(labels)];
  if (family.type == Type::kHistogram && series.buckets.size() != family.bounds.size()) {
    series.buckets.assign(family.bounds.size(), 0);
  }
  return series;
}

void MetricsRegistry::Add(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  SeriesFor(name, labels).value += value;
}

void MetricsRegistry::Set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  SeriesFor(name, labels).value = value;
}

void MetricsRegistry::Observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  const std::vector<double>& bounds = families_[name].bounds;
  Series& series = SeriesFor(name, labels);
  series.value += value;
  series.count += 1;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (value <= bounds[i]) {
      series.buckets[i] += 1;
      break;
    }
  }
}

void MetricsRegistry::Clear(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.series.clear();
}

void MetricsRegistry::AddCollector(std::function<void(MetricsRegistry&)> collector) {
  std::lock_guard lock(collectors_mutex_);
  collectors_.push_back(std::move(collector));
}

double MetricsRegistry::Value(const std::string& name, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto family = families_.find(name);
  if (family == families_.end()) return 0;
  auto series = family->second.series.find(RenderLabels(labels));
  return series == family->second.series.end() ? 0 : series->second.value;
}

std::string MetricsRegistry::Render() {
  {
    std::lock_guard lock(collectors_mutex_);
    for (auto& collector : collectors_) collector(*this);
  }
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  for (const auto& [name, family] : families_) {
    const char* type = family.type == Type::kCounter ? "counter" : family.type == Type::kGauge ? "gauge" : "histogram";
    out << "# HELP " << name << ' ' << EscapeHelp(family.help) << '\n';
    out << "# TYPE " << name << ' ' << type << '\n';
    for (const auto& [labels, series] : family.series) {
      if (family.type != Type::kHistogram) {
        out << name << (labels.empty() ? "" : "{" + labels + "}") << ' ' << FormatNumber(series.value) << '\n';
        continue;
      }
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < family.bounds.size(); ++i) {
        cumulative += series.buckets[i];
        out << name << "_bucket" << WithLabel(labels, "le=\"" + FormatNumber(family.bounds[i]) + "\"") << ' '
            << cumulative << '\n';
      }
      out << name << "_bucket" << WithLabel(labels, "le=\"+Inf\"") << ' ' << series.count << '\n';
      out << name << "_sum" << (labels.empty() ? "" : "{" + labels + "}") << ' ' << FormatNumber(series.value) << '\n';
      out << name << "_count" << (labels.empty() ? "" : "{" + labels + "}") << ' ' << series.count << '\n';
    }
  }
  return out.str();
}

std::vector<double> JobDurationBuckets() { return {0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800}; }
std::vector<double> RequestLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

}  // namespace swapline::service
