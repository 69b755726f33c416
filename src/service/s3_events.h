// S3 / MinIO bucket notifications (the JSON an S3 event webhook POSTs):
//   {"Records": [{"eventName": "ObjectCreated:Put" | "s3:ObjectCreated:Put",
//                 "eventTime": "2025-04-05T14:23:01.123Z",
//                 "s3": {"bucket": {"name": "b"},
//                        "object": {"key": "url-encoded key", "size": 1, "eTag": "…",
//                                   "sequencer": "…"}}}]}
// Only object-created records are returned; others are counted as ignored.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace swapline::service {

struct CreatedObject {
  std::string bucket;
  std::string key;  // decoded (S3 form-encodes keys in notifications: '+' is a space)
  std::string etag;
  std::string sequencer;
  std::uint64_t size = 0;
  std::optional<std::chrono::system_clock::time_point> event_time;
};

struct BucketNotification {
  std::vector<CreatedObject> created;
  int ignored = 0;  // records of other event types
};

// InvalidArgument naming the field ("Records[2].s3.object.key: ...") when malformed.
Result<BucketNotification> ParseBucketNotification(const nlohmann::json& body);

// A job id (job/job_spec.h format) that is the same for every delivery of the same
// notification: the time part from the event time (now when absent), the random
// part from SHA-256 of bucket, key, eTag and sequencer. Redelivered events then
// submit the same id, which the queue answers with the existing job.
std::string EventJobId(const CreatedObject& object, std::chrono::system_clock::time_point now);

// "%2F" → '/', '+' → ' '.
std::string DecodeFormComponent(std::string_view text);

}  // namespace swapline::service
