// Internal: the JobQueue implementations behind OpenJobQueue(). Not a public header.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "job/job_queue.h"

namespace swapline::job::internal {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;      // ACL user (Redis 6+); empty: default user
  std::string password;  // empty: no AUTH
  std::string stream = "swapline:jobs";
  std::string group = "workers";

  // The URI without the password.
  std::string Describe() const;
};

Result<RedisEndpoint> ParseRedisUri(const std::string& uri);

Result<std::unique_ptr<JobQueue>> OpenSqliteQueue(const std::filesystem::path& path,
                                                  const JobQueueOptions& options);
Result<std::unique_ptr<JobQueue>> OpenRedisQueue(const RedisEndpoint& endpoint,
                                                 const JobQueueOptions& options);

// Milliseconds since the Unix epoch.
std::int64_t ToMillis(TimePoint t);
TimePoint FromMillis(std::int64_t ms);

}  // namespace swapline::job::internal
