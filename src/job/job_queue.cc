#include "job/job_queue.h"

#include <algorithm>
#include <charconv>

#include "job/queue_backends.h"
#include "storage/url.h"

namespace swapline::job {
namespace internal {

std::int64_t ToMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint FromMillis(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

std::string RedisEndpoint::Describe() const {
  std::string s = "redis://";
  if (!user.empty()) s += user + "@";
  s += (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
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
  if (!uri.starts_with("redis://")) return InvalidArgument("queue URI must start with redis://");
  // An empty host means the default one: curl's parser wants a host.
  const std::string text = uri.size() == 8 || uri[8] == '/' || uri[8] == '?' ? "redis://127.0.0.1" + uri.substr(8) : uri;
  Result<storage::Url> url = storage::ParseUrl(text);
  if (!url.ok()) return InvalidArgument("queue URI: " + url.status().message());
  RedisEndpoint ep;
  ep.user = url->user.value_or("");
  ep.password = url->password.value_or("");
  ep.host = url->host;
  ep.port = url->port.value_or(ep.port);
  if (ep.port <= 0) return InvalidArgument("queue URI: port out of range");
  const std::string_view path = std::string_view(url->path).substr(1);
  if (!path.empty() && !ParseInt(path, ep.db)) {
    return InvalidArgument("queue URI: database '" + std::string(path) + "' is not a number");
  }
  if (ep.db < 0) return InvalidArgument("queue URI: database must be >= 0");
  std::string_view query = url->query;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (kv.empty()) continue;
    const std::size_t eq = kv.find('=');
    const std::string key = storage::PercentDecode(kv.substr(0, eq));
    const std::string value = eq == std::string_view::npos ? "" : storage::PercentDecode(kv.substr(eq + 1));
    if (key == "stream") {
      if (!ValidName(value)) return InvalidArgument("queue URI: bad stream name");
      ep.stream = value;
    } else if (key == "group") {
      if (!ValidName(value)) return InvalidArgument("queue URI: bad group name");
      ep.group = value;
    } else {
      return InvalidArgument("queue URI: unknown parameter '" + key + "' (known: stream, group)");
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
