// The process's Prometheus metrics: a thin layer over prometheus-cpp's core registry
// (Debian's prometheus-cpp-dev 1.0.1) and its text serializer. The HTTP side stays
// ours (`/metrics` on the API server, `MetricsServer` for workers), so only the
// core library is linked, not prometheus-cpp's civetweb exposer.
//
// Families are declared once (name, type, help, histogram buckets) and then updated
// by label set, so call sites name a family by its string and never hold
// prometheus-cpp types. Label values are escaped by the serializer; names are the
// caller's constants (prometheus-cpp rejects invalid ones when declared).
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace swapline::service {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Declares a family. Re-declaring the same name is a no-op.
  void Declare(const std::string& name, Type type, const std::string& help, std::vector<double> buckets = {});

  // Updates of a family that was not declared with the matching type are ignored.
  void Add(const std::string& name, const Labels& labels, double value = 1);      // counter
  void Set(const std::string& name, const Labels& labels, double value);          // gauge
  void Observe(const std::string& name, const Labels& labels, double value);      // histogram

  // Functions run at the start of Render(), e.g. to refresh gauges from the queue.
  void AddCollector(std::function<void(MetricsRegistry&)> collector);

  // The whole registry in the text exposition format (version 0.0.4).
  std::string Render();

  // A counter's or gauge's current value (tests); 0 when absent.
  double Value(const std::string& name, const Labels& labels);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Bucket bounds for job durations: 0.5 s … 1800 s.
std::vector<double> JobDurationBuckets();
// Bucket bounds for HTTP request latencies: 0.5 ms … 5 s.
std::vector<double> RequestLatencyBuckets();

}  // namespace swapline::service
