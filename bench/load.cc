#include "bench/load.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace swapline::bench {

std::string Capture(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

// ab -k: "Requests per second:    12345.67 [#/sec] (mean)" and "  99%     3".
LoadResult RunAb(const std::string& ab, const std::string& url, int concurrency, int requests) {
  LoadResult r;
  const std::string out = Capture(ab + " -k -q -c " + std::to_string(concurrency) + " -n " +
                                  std::to_string(requests) + " '" + url + "' 2>&1");
  std::istringstream lines(out);
  std::string line;
  bool have_rps = false, have_p99 = false;
  while (std::getline(lines, line)) {
    if (line.rfind("Requests per second:", 0) == 0) {
      r.rps = std::atof(line.c_str() + 20);
      have_rps = true;
    } else if (line.rfind("  99%", 0) == 0) {
      r.p99_ms = std::atof(line.c_str() + 5);
      have_p99 = true;
    } else if (line.rfind("Failed requests:", 0) == 0) {
      r.failed += std::atol(line.c_str() + 16);
    } else if (line.rfind("Non-2xx responses:", 0) == 0) {
      r.failed += std::atol(line.c_str() + 18);
    }
  }
  r.ok = have_rps && have_p99;
  if (!r.ok) r.error = "ab: " + out.substr(0, 400);
  return r;
}

}  // namespace swapline::bench
