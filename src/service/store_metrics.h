// Object-store metrics of a serve or worker process, from the S3 client's request
// events (storage/s3_observer.h):
//   swapline_s3_requests_total{operation}        every attempt sent
//   swapline_s3_retries_total{operation}         attempts that failed and were retried
//   swapline_s3_errors_total{operation,code}     requests that failed for good (code:
//                                                not_found, permission_denied, …)
//   swapline_s3_presigned_urls_total{operation}  URLs handed to clients
//   swapline_store_bytes_written_total{prefix}   bytes stored by PutObject/UploadPart,
//                                                by the key's first two segments
//                                                ("videos/output")
// Lives as long as the registry it feeds: construct after it, destroy before it.
#pragma once

#include <string>

#include "service/metrics.h"

namespace swapline::service {

class StoreMetrics {
 public:
  explicit StoreMetrics(MetricsRegistry& metrics);  // starts reporting into `metrics`
  ~StoreMetrics();                                  // stops
  StoreMetrics(const StoreMetrics&) = delete;
  StoreMetrics& operator=(const StoreMetrics&) = delete;
};

// "videos/output/u1/202504051423/x.mp4" → "videos/output"; "a.txt" → "a.txt";
// "" → "/" (bucket operations).
std::string KeyPrefixLabel(const std::string& key);

}  // namespace swapline::service
