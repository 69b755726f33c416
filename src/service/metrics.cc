#include "service/metrics.h"

#include <map>
#include <mutex>
#include <shared_mutex>
#include <variant>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace swapline::service {
namespace {

prometheus::Labels ToPrometheus(const Labels& labels) { return {labels.begin(), labels.end()}; }

}  // namespace

struct MetricsRegistry::Impl {
  struct Histogram {
    prometheus::Family<prometheus::Histogram>* family;
    prometheus::Histogram::BucketBoundaries bounds;
  };
  using Family = std::variant<prometheus::Family<prometheus::Counter>*, prometheus::Family<prometheus::Gauge>*,
                              Histogram>;
  struct Entry {
    Family family;
    prometheus::MetricFamily header;  // name, help and type, no samples
  };

  // The family of `name` if it has type F; null otherwise.
  template <typename F>
  F* Find(const std::string& name) {
    std::shared_lock lock(families_mutex);
    auto it = families.find(name);
    return it == families.end() ? nullptr : std::get_if<F>(&it->second.family);
  }

  prometheus::Registry registry;
  std::shared_mutex families_mutex;
  std::map<std::string, Entry> families;  // guarded by families_mutex; the registry owns the families
  std::mutex collectors_mutex;
  std::vector<std::function<void(MetricsRegistry&)>> collectors;  // guarded by collectors_mutex
};

MetricsRegistry::MetricsRegistry() : impl_(std::make_unique<Impl>()) {}
MetricsRegistry::~MetricsRegistry() = default;

void MetricsRegistry::Declare(const std::string& name, Type type, const std::string& help,
                              std::vector<double> buckets) {
  std::unique_lock lock(impl_->families_mutex);
  if (impl_->families.count(name) != 0) return;
  Impl::Entry entry;
  entry.header.name = name;
  entry.header.help = help;
  switch (type) {
    case Type::kCounter:
      entry.family = &prometheus::BuildCounter().Name(name).Help(help).Register(impl_->registry);
      entry.header.type = prometheus::MetricType::Counter;
      break;
    case Type::kGauge:
      entry.family = &prometheus::BuildGauge().Name(name).Help(help).Register(impl_->registry);
      entry.header.type = prometheus::MetricType::Gauge;
      break;
    case Type::kHistogram:
      entry.family = Impl::Histogram{&prometheus::BuildHistogram().Name(name).Help(help).Register(impl_->registry),
                                     std::move(buckets)};
      entry.header.type = prometheus::MetricType::Histogram;
      break;
  }
  impl_->families.emplace(name, std::move(entry));
}

void MetricsRegistry::Add(const std::string& name, const Labels& labels, double value) {
  if (auto* family = impl_->Find<prometheus::Family<prometheus::Counter>*>(name)) {
    (*family)->Add(ToPrometheus(labels)).Increment(value);
  }
}

void MetricsRegistry::Set(const std::string& name, const Labels& labels, double value) {
  if (auto* family = impl_->Find<prometheus::Family<prometheus::Gauge>*>(name)) {
    (*family)->Add(ToPrometheus(labels)).Set(value);
  }
}

void MetricsRegistry::Observe(const std::string& name, const Labels& labels, double value) {
  if (auto* histogram = impl_->Find<Impl::Histogram>(name)) {
    histogram->family->Add(ToPrometheus(labels), histogram->bounds).Observe(value);
  }
}

void MetricsRegistry::AddCollector(std::function<void(MetricsRegistry&)> collector) {
  std::lock_guard lock(impl_->collectors_mutex);
  impl_->collectors.push_back(std::move(collector));
}

double MetricsRegistry::Value(const std::string& name, const Labels& labels) {
  const prometheus::Labels key = ToPrometheus(labels);
  if (auto* counter = impl_->Find<prometheus::Family<prometheus::Counter>*>(name)) {
    return (*counter)->Has(key) ? (*counter)->Add(key).Value() : 0;
  }
  if (auto* gauge = impl_->Find<prometheus::Family<prometheus::Gauge>*>(name)) {
    return (*gauge)->Has(key) ? (*gauge)->Add(key).Value() : 0;
  }
  return 0;
}

std::string MetricsRegistry::Render() {
  {
    std::lock_guard lock(impl_->collectors_mutex);
    for (auto& collector : impl_->collectors) collector(*this);
  }
  // prometheus-cpp leaves out families without samples; a declared family is still
  // announced (HELP and TYPE) so that dashboards and alert rules that name it find it
  // before its first event, e.g. S3 retries on a healthy store.
  std::vector<prometheus::MetricFamily> collected = impl_->registry.Collect();
  {
    std::shared_lock lock(impl_->families_mutex);
    std::map<std::string, prometheus::MetricFamily> by_name;
    for (auto& family : collected) by_name.emplace(family.name, std::move(family));
    for (const auto& [name, entry] : impl_->families) by_name.emplace(name, entry.header);
    collected.clear();
    for (auto& [name, family] : by_name) collected.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(collected);
}

std::vector<double> JobDurationBuckets() { return {0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800}; }
std::vector<double> RequestLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

}  // namespace swapline::service
