// Load generation shared by the HTTP benchmarks: a shell command's output, and
// `ab` (Debian apache2-utils) runs parsed into requests per second and p99.
#pragma once

#include <string>

namespace swapline::bench {

// Runs a shell command; its stdout.
std::string Capture(const std::string& command);

struct LoadResult {
  bool ok = false;
  std::string error;
  double rps = 0;
  double p99_ms = 0;
  long failed = 0;  // failed and non-2xx requests
};

// `ab -k -c concurrency -n requests url`: keep-alive connections.
LoadResult RunAb(const std::string& ab, const std::string& url, int concurrency, int requests);

}  // namespace swapline::bench
