// A small Prometheus metrics registry that renders the text exposition format
// (version 0.0.4) itself. Debian 12 does package prometheus-cpp
// (prometheus-cpp-dev 1.0.1), whose core registry and text serializer could stand
// behind this same interface.
//
// Families are declared once (name, type, help, histogram buckets) and then
// updated by label set. Label values are escaped as the format requires; names are
// the caller's constants and are not checked.
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace swapline::service {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a family. Re-declaring the same name is a no-op.
  void Declare(const std::string& name, Type type, const std::string& help, std::vector<double> buckets = {});

  // REQUIRES: the family was declared with the matching type.
  void Add(const std::string& name, const Labels& labels, double value = 1);      // counter
  void Set(const std::string& name, const Labels& labels, double value);          // gauge
  void Observe(const std::string& name, const Labels& labels, double value);      // histogram
  // Drops every series of a gauge family (before re-filling it from a snapshot).
  void Clear(const std::string& name);

  // Functions run at the start of Render(), e.g. to refresh gauges from the queue.
  void AddCollector(std::function<void(MetricsRegistry&)> collector);

  // The whole registry in the text format, families in name order.
  std::string Render();

  // A counter's or gauge's current value (tests); 0 when absent.
  double Value(const std::string& name, const Labels& labels);

 private:
  struct Series {
    double value = 0;                    // counter, gauge; histogram: sum
    std::vector<std::uint64_t> buckets;  // histogram: per-bucket (non-cumulative) counts
    std::uint64_t count = 0;             // histogram
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // by rendered label set
  };
  Series& SeriesFor(const std::string& name, const Labels& labels);  // REQUIRES: mutex_ held

  std::mutex collectors_mutex_;
  std::vector<std::function<void(MetricsRegistry&)>> collectors_;
  std::mutex mutex_;
  std::map<std::string, Family> families_;  // guarded by mutex_
};

// Bucket bounds for job durations: 0.5 s … 1800 s.
std::vector<double> JobDurationBuckets();
// Bucket bounds for HTTP request latencies: 0.5 ms … 5 s.
std::vector<double> RequestLatencyBuckets();

}  // namespace swapline::service
