#include "storage/s3_store.h"

#include "storage/s3_api.h"
#include "storage/s3_transfer.h"
#include "storage/url.h"

namespace swapline::storage {

Result<std::unique_ptr<S3Store>> S3Store::Open(const std::string& bucket, S3Options options) {
  if (bucket.empty()) return InvalidArgument("no S3 bucket given");
  if (options.part_size < (5ull << 20)) {
    return InvalidArgument("the multipart part size must be at least 5 MiB (S3's minimum)");
  }
  if (options.part_size > (5ull << 30)) {
    return InvalidArgument("the multipart part size must be at most 5 GiB (S3's maximum)");
  }
  if (options.concurrency < 1) return InvalidArgument("concurrency must be at least 1");
  if (!options.endpoint_url.empty()) {
    const std::string shown = "S3 endpoint '" + RedactPassword(options.endpoint_url) + "'";
    Result<Url> endpoint = ParseUrl(options.endpoint_url, "https");
    if (!endpoint.ok()) return InvalidArgument(shown + ": " + endpoint.status().message());
    if (endpoint->scheme != "http" && endpoint->scheme != "https") {
      return InvalidArgument(shown + ": must be http:// or https://");
    }
    if (endpoint->user || endpoint->password) {
      return InvalidArgument(shown + ": must not carry user:password@ (credentials come from the AWS chain)");
    }
    if (endpoint->path != "/" || !endpoint->query.empty()) {
      return InvalidArgument(shown + ": must name a server only, without a path or query");
    }
  }
  return std::unique_ptr<S3Store>(new S3Store(bucket, std::make_unique<S3Api>(std::move(options))));
}

S3Store::S3Store(std::string bucket, std::unique_ptr<S3Api> api)
    : bucket_(std::move(bucket)), api_(std::move(api)) {}

S3Store::~S3Store() = default;

std::string S3Store::Describe() const { return "s3://" + bucket_; }

Result<ObjectInfo> S3Store::Stat(const std::string& key) { return api_->HeadObject(bucket_, key); }

Status S3Store::Get(const std::string& key, const GetOptions& options, const ByteSink& sink) {
  return StreamObject(*api_, bucket_, key, options, sink);
}

Result<ObjectInfo> S3Store::GetToFile(const std::string& key, const std::filesystem::path& dest,
                                      const GetOptions& options) {
  return DownloadFile(*api_, bucket_, key, dest, options);
}

Result<ObjectInfo> S3Store::Put(const std::string& key, std::istream& body,
                                const PutOptions& options) {
  return UploadStream(*api_, bucket_, key, body, options);
}

Result<ObjectInfo> S3Store::PutFile(const std::string& key, const std::filesystem::path& source,
                                    const PutOptions& options) {
  return UploadFile(*api_, bucket_, key, source, options);
}

Result<ListPage> S3Store::List(const ListOptions& options) { return api_->ListObjects(bucket_, options); }

Status S3Store::Delete(const std::string& key) { return api_->DeleteObject(bucket_, key); }

Status S3Store::Copy(const std::string& source_key, const std::string& dest_key) {
  return CopyFrom(bucket_, source_key, dest_key);
}

Status S3Store::CopyFrom(const std::string& source_bucket, const std::string& source_key,
                         const std::string& dest_key) {
  return CopyObjectAnySize(*api_, source_bucket, source_key, bucket_, dest_key);
}

Result<std::string> S3Store::Presign(const std::string& key, PresignMethod method,
                                     std::chrono::seconds expires) {
  return api_->PresignUrl(method == PresignMethod::kGet ? "GET" : "PUT", bucket_, key, expires);
}

Status S3Store::CreateBucket() { return api_->CreateBucket(bucket_); }

Result<std::vector<MultipartUpload>> S3Store::ListMultipartUploads(const std::string& prefix) {
  return api_->ListUploads(bucket_, prefix);
}

Status S3Store::AbortMultipartUpload(const std::string& key, const std::string& upload_id) {
  return api_->AbortUpload(bucket_, key, upload_id);
}

Result<int> S3Store::AbortIncompleteUploads(const std::string& prefix,
                                            std::chrono::seconds older_than) {
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<MultipartUpload> uploads, api_->ListUploads(bucket_, prefix));
  const auto cutoff = std::chrono::system_clock::now() - older_than;
  int aborted = 0;
  for (const MultipartUpload& upload : uploads) {
    if (upload.initiated > cutoff) continue;
    SWAPLINE_RETURN_IF_ERROR(api_->AbortUpload(bucket_, upload.key, upload.upload_id));
    ++aborted;
  }
  return aborted;
}

Status S3Store::PutLifecycle(const std::string& xml) { return api_->PutLifecycle(bucket_, xml); }

Result<std::string> S3Store::GetLifecycle() { return api_->GetLifecycle(bucket_); }

}  // namespace swapline::storage
