// S3Api: the S3 REST operations the store needs, one method per operation, each a
// signed request with retries (internal to storage/; S3Store is the public face).
//
// Thread safety: all methods may be called from many threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/credentials.h"
#include "storage/http_client.h"
#include "storage/s3_store.h"
#include "storage/s3_xml.h"
#include "storage/sigv4.h"

namespace swapline::storage {

struct S3Request {
  std::string method{};
  std::string bucket{};
  std::string key{};  // empty for bucket operations
  QueryParams query{};
  HeaderList headers{};
  // Body, as in HttpRequest: memory, or a file range.
  std::span<const std::uint8_t> body{};
  int body_fd = -1;
  std::uint64_t body_offset = 0;
  std::uint64_t body_length = 0;
  // Receives 2xx bodies; `before_attempt` runs before every attempt so a sink can
  // start over (or continue where the last attempt stopped).
  const ByteSink* sink = nullptr;
  std::function<void(S3Request&)> before_attempt{};
  // Some operations (CopyObject, UploadPartCopy, CompleteMultipartUpload) may
  // answer 200 with an <Error> document.
  bool error_in_ok_body = false;
  // HttpRequest::fresh_connection: every attempt is one the retry loop sees.
  bool fresh_connection = false;
};

// Part ETag check and Content-MD5 header for one part or object body.
struct BodyDigest {
  std::string md5_hex;
  std::string md5_base64;
};
BodyDigest DigestOf(std::span<const std::uint8_t> bytes);

// "md5-of-md5s-N": the ETag S3 gives an object completed from these parts.
std::string MultipartEtag(const std::vector<std::string>& part_md5_hex);

class S3Api {
 public:
  explicit S3Api(S3Options options);

  const S3Options& options() const { return options_; }

  // Signs, sends and retries; 2xx → the response, anything else → an error Status
  // whose message starts with `what` ("GET s3://bucket/key").
  Result<HttpResponse> Execute(S3Request request);

  Result<std::string> PresignUrl(const std::string& method, const std::string& bucket,
                                 const std::string& key, std::chrono::seconds expires);

  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key);
  // `headers`: Content-Type, metadata, SSE (PutHeaders).
  Result<std::string> PutObject(const std::string& bucket, const std::string& key,
                                const HeaderList& headers, std::span<const std::uint8_t> body,
                                int body_fd, std::uint64_t body_length,
                                const std::string& content_md5_base64);
  Result<ListPage> ListObjects(const std::string& bucket, const ListOptions& options);
  Status DeleteObject(const std::string& bucket, const std::string& key);
  Status CopyObject(const std::string& source_bucket, const std::string& source_key,
                    const std::string& bucket, const std::string& key);

  Result<std::string> InitiateUpload(const std::string& bucket, const std::string& key,
                                     const HeaderList& headers);
  // Returns the part's ETag (unquoted).
  Result<std::string> UploadPart(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id, int part_number,
                                 std::span<const std::uint8_t> body,
                                 const std::string& content_md5_base64);
  Result<std::string> UploadPartCopy(const std::string& source_bucket,
                                     const std::string& source_key, std::uint64_t first,
                                     std::uint64_t last, const std::string& bucket,
                                     const std::string& key, const std::string& upload_id,
                                     int part_number);
  // Returns the object's ETag (unquoted).
  Result<std::string> CompleteUpload(const std::string& bucket, const std::string& key,
                                     const std::string& upload_id,
                                     const std::vector<UploadedPart>& parts);
  Status AbortUpload(const std::string& bucket, const std::string& key,
                     const std::string& upload_id);
  Result<std::vector<UploadedPart>> ListParts(const std::string& bucket, const std::string& key,
                                              const std::string& upload_id);
  Result<std::vector<MultipartUpload>> ListUploads(const std::string& bucket,
                                                   const std::string& prefix);

  Status CreateBucket(const std::string& bucket);
  Status PutLifecycle(const std::string& bucket, const std::string& xml);
  Result<std::string> GetLifecycle(const std::string& bucket);

  std::string Describe(const std::string& bucket, const std::string& key) const {
    return "s3://" + bucket + "/" + key;
  }

 private:
  struct Target {
    std::string url;
    std::string host;
    std::string encoded_path;
  };
  Target TargetFor(const std::string& bucket, const std::string& key,
                   const QueryParams& query) const;
  std::chrono::milliseconds Backoff(int attempt) const;

  const S3Options options_;
  std::string scheme_;         // "https"
  std::string endpoint_host_;  // "s3.us-east-1.amazonaws.com" or "127.0.0.1:8080"
  bool path_style_ = true;
  SigV4Signer signer_;
  std::shared_ptr<CredentialsProvider> credentials_;
  HttpClient http_;
};

// Headers of a PUT or CreateMultipartUpload: Content-Type (from the key when not
// given), x-amz-meta-*, SSE.
HeaderList PutHeaders(const std::string& key, const PutOptions& options);

}  // namespace swapline::storage
