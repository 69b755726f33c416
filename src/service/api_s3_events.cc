#include "service/api_server_impl.h"

#include <cctype>

#include <spdlog/spdlog.h>

#include "service/s3_events.h"
#include "service/tenancy.h"

namespace swapline::service {

Result<WatchRule> ParseWatchRule(const std::string& text) {
  WatchRule rule;
  const std::size_t eq = text.find('=');
  rule.prefix = text.substr(0, eq);
  if (eq != std::string::npos) rule.default_source = text.substr(eq + 1);
  if (rule.prefix.empty()) return InvalidArgument("--watch '" + text + "': empty prefix (PREFIX[=SOURCE_KEY])");
  return rule;
}

namespace {
// The tenant of an input key "[hh/]{images|videos}/input/{tenant}/…", or "".
std::string InputKeyTenant(const std::string& key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= key.size()) {
    const std::size_t slash = key.find('/', start);
    parts.push_back(key.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::size_t i = 0;
  if (parts.size() > 1 && parts[0].size() == 2 && std::isxdigit(static_cast<unsigned char>(parts[0][0])) &&
      std::isxdigit(static_cast<unsigned char>(parts[0][1]))) {
    i = 1;
  }
  if (parts.size() < i + 4) return "";
  if ((parts[i] != "images" && parts[i] != "videos") || parts[i + 1] != "input") return "";
  return parts[i + 2];
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}
}  // namespace

void ApiServer::Impl::S3Event(const Request& req, Response& res, const std::string& caller) {
  const json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return SendError(res, 400, "invalid_argument", "body: malformed JSON");
  auto notification = ParseBucketNotification(body);
  if (!notification.ok()) return SendStatus(res, notification.status());
  json jobs = json::array();
  json ignored = json::array();
  int ignored_count = notification->ignored;
  const auto now = std::chrono::system_clock::now();
  for (const CreatedObject& object : notification->created) {
    auto skip = [&](const std::string& why) {
      ++ignored_count;
      ignored.push_back({{"key", object.key}, {"reason", why}});
    };
    if (options_.store_uri.is_s3() && object.bucket != options_.store_uri.bucket) {
      skip("bucket '" + object.bucket + "' is not this service's store");
      continue;
    }
    const WatchRule* rule = nullptr;
    for (const WatchRule& r : options_.watch) {
      if (object.key.rfind(r.prefix, 0) == 0) rule = &r;
    }
    if (rule == nullptr) {
      skip("not under a watched prefix");
      continue;
    }
    const std::string tenant = InputKeyTenant(object.key);
    if (tenant.empty() || !CheckTenantKey(tenant, object.key).ok()) {
      skip("not a tenant input key ({images,videos}/input/{tenant}/...)");
      continue;
    }
    if (caller != kEventTenant && caller != tenant) {
      skip("the token's tenant may not post events for tenant '" + tenant + "'");
      continue;
    }
    auto info = store_.Stat(object.key);
    if (!info.ok()) {
      if (info.status().code() == Code::kNotFound) {
        skip("object does not exist");
        continue;
      }
      return SendStatus(res, info.status());
    }
    std::vector<std::string> sources;
    auto meta = info->metadata.find("swapline-sources");
    if (meta != info->metadata.end()) sources = SplitComma(meta->second);
    if (sources.empty() && !rule->default_source.empty()) {
      std::string source = rule->default_source;
      const std::size_t at = source.find("{tenant}");
      if (at != std::string::npos) source.replace(at, 8, tenant);
      sources.push_back(source);
    }
    if (sources.empty()) {
      skip("no source face: set user metadata 'swapline-sources' or a default in --watch PREFIX=SOURCE");
      continue;
    }
    job::JobSpec spec;
    spec.id = EventJobId(object, now);
    spec.sources = sources;
    spec.target = object.key;
    Status status = job::FinalizeJobSpec(spec, tenant);
    // A new job counts toward its tenant's submission rate (a redelivered event's job
    // exists already). Over it, the whole notification is answered 429 so the sender
    // delivers it again later; the jobs made so far are found again by their ids.
    if (status.ok() && !queue_.Get(tenant, spec.id).ok() && !WithinRate(admission_.job_rate(), tenant, res)) return;
    Result<AdmittedJob> admitted = status.ok() ? AdmitSpec(spec) : Result<AdmittedJob>(status);
    if (!admitted.ok()) {
      skip(admitted.status().message());
      continue;
    }
    auto record = queue_.Submit(admitted->spec, options_.limits.max_active_jobs_per_tenant);
    if (!record.ok() && record.status().code() == Code::kThrottled) {
      skip(record.status().message());
      continue;
    }
    if (!record.ok()) return SendStatus(res, record.status());
    metrics_.Add("swapline_api_jobs_submitted_total", {{"source", "s3_event"}});
    jobs.push_back({{"id", record->id()}, {"key", object.key}, {"state", job::JobStateName(record->state)}});
  }
  SendJson(res, 200, {{"jobs", jobs}, {"ignored", ignored_count}, {"ignored_records", ignored}});
}

}  // namespace swapline::service
