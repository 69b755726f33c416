#include "storage/s3_observer.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

namespace swapline::storage {
namespace {

std::mutex observer_mutex;
std::shared_ptr<const S3Observer> observer;  // guarded by observer_mutex

std::shared_ptr<const S3Observer> CurrentObserver() {
  std::lock_guard lock(observer_mutex);
  return observer;
}

bool Has(const std::vector<std::pair<std::string, std::string>>& pairs, std::string_view name) {
  return std::any_of(pairs.begin(), pairs.end(), [&](const auto& pair) { return pair.first == name; });
}

}  // namespace

void SetS3Observer(S3Observer replacement) {
  auto next = std::make_shared<const S3Observer>(std::move(replacement));
  std::lock_guard lock(observer_mutex);
  observer = std::move(next);
}

void ReportS3Attempt(const S3Attempt& attempt) {
  const auto current = CurrentObserver();
  if (current && current->on_attempt) current->on_attempt(attempt);
}

void ReportS3Presign(const S3Presign& presign) {
  const auto current = CurrentObserver();
  if (current && current->on_presign) current->on_presign(presign);
}

std::string S3OperationName(const std::string& method, const std::string& key, const QueryParams& query,
                            const HeaderList& headers) {
  const bool copy = Has(headers, "x-amz-copy-source");
  if (Has(query, "uploadId")) {
    if (method == "PUT") return copy ? "UploadPartCopy" : "UploadPart";
    if (method == "POST") return "CompleteMultipartUpload";
    if (method == "DELETE") return "AbortMultipartUpload";
    return "ListParts";
  }
  if (Has(query, "uploads")) return method == "POST" ? "CreateMultipartUpload" : "ListMultipartUploads";
  if (Has(query, "lifecycle")) return method == "PUT" ? "PutBucketLifecycleConfiguration" : "GetBucketLifecycleConfiguration";
  if (key.empty()) {
    if (method == "PUT") return "CreateBucket";
    return Has(query, "list-type") ? "ListObjectsV2" : "ListObjects";
  }
  if (method == "HEAD") return "HeadObject";
  if (method == "GET") return "GetObject";
  if (method == "DELETE") return "DeleteObject";
  if (method == "PUT") return copy ? "CopyObject" : "PutObject";
  return method;
}

}  // namespace swapline::storage
