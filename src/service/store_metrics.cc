#include "service/store_metrics.h"

#include "storage/s3_observer.h"

namespace swapline::service {

std::string KeyPrefixLabel(const std::string& key) {
  if (key.empty()) return "/";
  const std::size_t first = key.find('/');
  if (first == std::string::npos) return key;
  const std::size_t second = key.find('/', first + 1);
  return key.substr(0, second);
}

StoreMetrics::StoreMetrics(MetricsRegistry& metrics) {
  using T = MetricsRegistry::Type;
  metrics.Declare("swapline_s3_requests_total", T::kCounter, "S3 requests sent (each attempt), by operation");
  metrics.Declare("swapline_s3_retries_total", T::kCounter, "S3 attempts that failed and were retried, by operation");
  metrics.Declare("swapline_s3_errors_total", T::kCounter,
                  "S3 requests that failed after their retries, by operation and error code");
  metrics.Declare("swapline_s3_presigned_urls_total", T::kCounter, "presigned S3 URLs handed out, by operation");
  metrics.Declare("swapline_store_bytes_written_total", T::kCounter,
                  "bytes stored in the object store (PutObject, UploadPart), by key prefix");
  storage::S3Observer observer;
  observer.on_attempt = [&metrics](const storage::S3Attempt& attempt) {
    const std::string operation(attempt.operation);
    metrics.Add("swapline_s3_requests_total", {{"operation", operation}});
    if (attempt.error == Code::kOk) {
      if (attempt.operation == "PutObject" || attempt.operation == "UploadPart") {
        metrics.Add("swapline_store_bytes_written_total", {{"prefix", KeyPrefixLabel(std::string(attempt.key))}},
                    static_cast<double>(attempt.body_bytes));
      }
    } else if (attempt.will_retry) {
      metrics.Add("swapline_s3_retries_total", {{"operation", operation}});
    } else {
      metrics.Add("swapline_s3_errors_total", {{"operation", operation}, {"code", CodeName(attempt.error)}});
    }
  };
  observer.on_presign = [&metrics](const storage::S3Presign& presign) {
    metrics.Add("swapline_s3_presigned_urls_total", {{"operation", std::string(presign.operation)}});
  };
  storage::SetS3Observer(std::move(observer));
}

StoreMetrics::~StoreMetrics() { storage::SetS3Observer({}); }

}  // namespace swapline::service
