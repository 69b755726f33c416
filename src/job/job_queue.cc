#include "job/job_queue.h"

#include <algorithm>
#include <charconv>

#include "job/queue_backends.h"

namespace swapline::job {
namespace internal {

std::int64_t ToMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint FromMillis(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

std::string RedisEndpoint::Describe() const {
  std::string s = "redis://";
  if (!user.empty()) s += user + "@";
  s += host + ":" + std::to_string(port) + "/" + std::to_string(db);
  s += "?stream=" + stream;
  if (group != "workers") s += "&group=" + group;
  return s;
}

namespace {

bool ParseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  const auto* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, out);
  return r.ec == std::errc() && r.ptr == end;
}

bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 200) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == ':' || c == '-' || c == '_' || c == '.' || c == '{' ||
           c == '}';
  });
}

}  // namespace

Result<RedisEndpoint> ParseRedisUri(const std::string& uri) {
  RedisEndpoint ep;
  std::string_view rest(uri);
  if (!rest.starts_with("redis://")) return InvalidArgument("queue URI must start with redis://");
  rest.remove_prefix(8);
  std::string_view query;
  if (const std::size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (const std::size_t s = rest.find('/'); s != std::string_view::npos) {
    path = rest.substr(s + 1);
    rest = rest.substr(0, s);
  }
  if (const std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (const std::size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
      ep.user = std::string(userinfo.substr(0, colon));
      ep.password = std::string(userinfo.substr(colon + 1));
    } else {
      ep.user = std::string(userinfo);
    }
  }
  std::string_view host = rest;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:6379
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return InvalidArgument("queue URI: unclosed '[' in host");
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || !ParseInt(rest.substr(1), ep.port)) {
        return InvalidArgument("queue URI: bad port");
      }
    }
  } else if (const std::size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    if (!ParseInt(rest.substr(colon + 1), ep.port)) {
      return InvalidArgument("queue URI: bad port");
    }
  }
  if (ep.port <= 0 || ep.port > 65535) return InvalidArgument("queue URI: port out of range");
  if (!host.empty()) ep.host = std::string(host);
  if (!path.empty() && !ParseInt(path, ep.db)) {
    return InvalidArgument("queue URI: database '" + std::string(path) + "' is not a number");
  }
  if (ep.db < 0) return InvalidArgument("queue URI: database must be >= 0");
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (kv.empty()) continue;
    const std::size_t eq = kv.find('=');
    const std::string_view key = kv.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : kv.substr(eq + 1);
    if (key == "stream") {
      if (!ValidName(value)) return InvalidArgument("queue URI: bad stream name");
      ep.stream = std::string(value);
    } else if (key == "group") {
      if (!ValidName(value)) return InvalidArgument("queue URI: bad group name");
      ep.group = std::string(value);
    } else {
      return InvalidArgument("queue URI: unknown parameter '" + std::string(key) +
                             "' (known: stream, group)");
    }
  }
  return ep;
}

}  // namespace internal

std::chrono::milliseconds RetryBackoff(const JobQueueOptions& options, int attempt) {
  using std::chrono::milliseconds;
  milliseconds delay = options.retry_backoff_initial;
  for (int i = 1; i < attempt && delay < options.retry_backoff_max; ++i) delay *= 2;
  return std::clamp(delay, milliseconds(0), std::max(options.retry_backoff_max, milliseconds(0)));
}

Result<std::unique_ptr<JobQueue>> OpenJobQueue(const std::string& uri,
                                               const JobQueueOptions& options) {
  if (options.lease.count() <= 0) return InvalidArgument("lease must be positive");
  if (options.max_deliveries < 1) return InvalidArgument("max_deliveries must be at least 1");
  if (uri.starts_with("sqlite://")) {
    std::string path = uri.substr(9);
    if (path.empty()) return InvalidArgument("queue URI 'sqlite://' names no file");
    return internal::OpenSqliteQueue(path, options);
  }
  if (uri.starts_with("redis://")) {
    SWAPLINE_ASSIGN_OR_RETURN(internal::RedisEndpoint ep, internal::ParseRedisUri(uri));
    return internal::OpenRedisQueue(ep, options);
  }
  // The URI is not echoed: it may carry a password.
  return InvalidArgument("unsupported queue URI scheme: use sqlite:///path/queue.db or redis://host:port");
}

Status ActiveJobsLimitError(const std::string& tenant, int max_active_jobs) {
  return Status(Code::kThrottled, "limit max_active_jobs_per_tenant: tenant '" + tenant + "' already has " +
                   std::to_string(max_active_jobs) + " queued or running jobs; wait for some to finish");
}

}  // namespace swapline::job
