// S3Store: an ObjectStore on one S3 bucket (AWS S3 or a compatible server: MinIO,
// Ceph radosgw, OpenStack Swift s3api, Alibaba OSS), over libcurl with our own
// SigV4 signing (storage/sigv4.h).
//
// Follows the ObjectStore contract (object_store.h); on top of it:
//  * Uploads above multipart_threshold go up in parallel parts of part_size
//    (grown so an object needs at most 10,000 parts), each checked against its
//    Content-MD5 and ETag. An interrupted upload of the same file to the same key
//    resumes: the pending upload is found with ListMultipartUploads/ListParts and
//    parts whose ETag matches the local bytes are not sent again. A failed upload
//    is left for resuming when the failure was transient, aborted otherwise; stale
//    ones are removed with AbortIncompleteUploads (or the bucket lifecycle rule).
//  * Downloads above the threshold use parallel ranged GETs (If-Match on the
//    ETag, so a concurrent overwrite fails with kFailedPrecondition) into
//    "<dest>.part", with the finished parts recorded in "<dest>.part.state"; a
//    rerun after a crash fetches only the missing parts. The result is renamed over
//    <dest> after its size and, where the ETag allows, its MD5 were checked.
//  * Every request is retried up to max_attempts times with capped exponential
//    backoff and full jitter on connection errors, timeouts, HTTP 5xx, 429,
//    SlowDown and RequestTimeout; each attempt is signed afresh. A part is retried
//    alone. 4xx answers (missing key, access denied, bad request) are not retried.
//
// Thread safety: all methods may be called from many threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/credentials.h"
#include "storage/http_client.h"
#include "storage/object_store.h"
#include "storage/s3_xml.h"

namespace swapline::storage {

struct S3Options {
  // Behaviour
  std::string endpoint_url;           // empty: https://s3.REGION.amazonaws.com
  std::string region = "us-east-1";   // also part of every signature
  enum class Addressing { kAuto, kPath, kVirtualHosted };
  // kAuto: virtual-hosted on AWS, path-style with a custom endpoint_url (what
  // MinIO, Swift and radosgw expect by default).
  Addressing addressing = Addressing::kAuto;
  CredentialsOptions credentials;
  // Replaces the chain built from `credentials` when set (tests, STS callers).
  std::shared_ptr<CredentialsProvider> credentials_provider;
  // Hash bodies with SHA-256 into the signature instead of UNSIGNED-PAYLOAD. Costs
  // CPU; Content-MD5 already protects every body we send.
  bool sign_payload = false;

  // Performance (defaults of the AWS CLI)
  std::uint64_t multipart_threshold = 8ull << 20;
  std::uint64_t part_size = 8ull << 20;
  int concurrency = 10;

  // Retries
  int max_attempts = 5;
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_cap{20'000};

  HttpOptions http;
};

class S3Api;

class S3Store final : public ObjectStore {
 public:
  // No request is made; a missing bucket shows on first use.
  static Result<std::unique_ptr<S3Store>> Open(const std::string& bucket, S3Options options);
  ~S3Store() override;

  const std::string& bucket() const { return bucket_; }

  std::string Describe() const override;
  Result<ObjectInfo> Stat(const std::string& key) override;
  Status Get(const std::string& key, const GetOptions& options, const ByteSink& sink) override;
  Result<ObjectInfo> GetToFile(const std::string& key, const std::filesystem::path& dest,
                               const GetOptions& options) override;
  Result<ObjectInfo> Put(const std::string& key, std::istream& body,
                         const PutOptions& options) override;
  Result<ObjectInfo> PutFile(const std::string& key, const std::filesystem::path& source,
                             const PutOptions& options) override;
  Result<ListPage> List(const ListOptions& options) override;
  Status Delete(const std::string& key) override;
  Status Copy(const std::string& source_key, const std::string& dest_key) override;
  Result<std::string> Presign(const std::string& key, PresignMethod method,
                              std::chrono::seconds expires) override;

  // Server-side copy from another bucket of the same endpoint into this one;
  // multipart (UploadPartCopy, in parallel) above the multipart threshold.
  Status CopyFrom(const std::string& source_bucket, const std::string& source_key,
                  const std::string& dest_key);

  Status CreateBucket();
  Result<std::vector<MultipartUpload>> ListMultipartUploads(const std::string& prefix);
  Status AbortMultipartUpload(const std::string& key, const std::string& upload_id);
  // Aborts uploads under `prefix` started more than `older_than` ago; returns how many.
  Result<int> AbortIncompleteUploads(const std::string& prefix, std::chrono::seconds older_than);

  // Bucket lifecycle configuration as S3 XML (storage/lifecycle.h builds it).
  Status PutLifecycle(const std::string& xml);
  Result<std::string> GetLifecycle();

 private:
  S3Store(std::string bucket, std::unique_ptr<S3Api> api);

  const std::string bucket_;
  const std::unique_ptr<S3Api> api_;
};

}  // namespace swapline::storage
