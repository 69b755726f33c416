#include "storage/s3_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <random>
#include <sstream>
#include <thread>

#include "core/time_text.h"
#include "storage/content_type.h"
#include "storage/s3_observer.h"
#include "storage/url.h"

namespace swapline::storage {
namespace {

bool IsThrottle(const std::string& code) {
  return code == "SlowDown" || code == "Throttling" || code == "ThrottlingException" ||
         code == "RequestLimitExceeded" || code == "TooManyRequestsException";
}

// Transient answers worth another attempt. Expired or skewed signatures are
// retried too: the next attempt is signed afresh with fresh credentials.
bool IsRetryable(long status, const std::string& code) {
  if (status >= 500 || status == 429 || IsThrottle(code)) return status != 501;
  return code == "RequestTimeout" || code == "InternalError" || code == "ExpiredToken" ||
         code == "RequestTimeTooSkewed";
}

Status ErrorStatus(const std::string& what, long status, const S3Error& error) {
  std::string message = what + ": HTTP " + std::to_string(status);
  if (!error.code.empty()) message += " " + error.code;
  if (!error.message.empty()) message += ": " + error.message;
  if (!error.request_id.empty()) message += " (request id " + error.request_id + ")";
  const std::string& code = error.code;
  if (status == 404 || code == "NoSuchKey" || code == "NoSuchBucket" || code == "NoSuchUpload") {
    return NotFound(message);
  }
  if (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId") {
    return PermissionDenied(message + " (check the access key and secret)");
  }
  if (status == 403 || status == 401) return PermissionDenied(message);
  if (status == 429 || IsThrottle(code)) return {Code::kThrottled, message};
  if (status == 412 || status == 501) return FailedPrecondition(message);
  if (status >= 500 || code == "RequestTimeout") return Unavailable(message);
  return InvalidArgument(message);
}

}  // namespace

BodyDigest DigestOf(std::span<const std::uint8_t> bytes) {
  const Md5Digest md5 = Md5Of(bytes);
  return {HexEncode(md5), Base64Encode(md5)};
}

std::string MultipartEtag(const std::vector<std::string>& part_md5_hex) {
  Md5 md5;
  for (const std::string& hex : part_md5_hex) {
    std::array<std::uint8_t, 16> raw{};
    for (std::size_t i = 0; i < raw.size() && 2 * i + 1 < hex.size(); ++i) {
      raw[i] = static_cast<std::uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    }
    md5.Update(raw);
  }
  return HexEncode(md5.Finish()) + "-" + std::to_string(part_md5_hex.size());
}

HeaderList PutHeaders(const std::string& key, const PutOptions& options) {
  HeaderList headers;
  headers.emplace_back("Content-Type",
                       options.content_type.empty() ? ContentTypeForKey(key) : options.content_type);
  for (const auto& [name, value] : options.metadata) headers.emplace_back("x-amz-meta-" + name, value);
  if (!options.sse.empty()) {
    headers.emplace_back("x-amz-server-side-encryption", options.sse);
    if (!options.sse_kms_key_id.empty()) {
      headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", options.sse_kms_key_id);
    }
  }
  return headers;
}

S3Api::S3Api(S3Options options)
    : options_(std::move(options)), signer_(options_.region), http_(options_.http) {
  credentials_ = options_.credentials_provider;
  if (!credentials_) {
    CredentialsOptions credentials = options_.credentials;
    credentials.region = options_.region;
    credentials.verify_tls = options_.http.verify_tls;
    credentials.ca_bundle = options_.http.ca_bundle;
    credentials_ = NewCredentialsChain(credentials);
  }
  std::string endpoint = options_.endpoint_url;
  if (endpoint.empty()) endpoint = "https://s3." + options_.region + ".amazonaws.com";
  const Result<Url> url = ParseUrl(endpoint, "https");  // checked by S3Store::Open
  scheme_ = url.ok() ? url->scheme : "https";
  endpoint_host_ = url.ok() ? url->HostPort() : endpoint;
  switch (options_.addressing) {
    case S3Options::Addressing::kPath: path_style_ = true; break;
    case S3Options::Addressing::kVirtualHosted: path_style_ = false; break;
    case S3Options::Addressing::kAuto: path_style_ = !options_.endpoint_url.empty(); break;
  }
}

S3Api::Target S3Api::TargetFor(const std::string& bucket, const std::string& key,
                               const QueryParams& query) const {
  Target target;
  if (path_style_) {
    target.host = endpoint_host_;
    target.encoded_path = "/" + bucket + "/" + UriEncode(key, true);
  } else {
    target.host = bucket + "." + endpoint_host_;
    target.encoded_path = "/" + UriEncode(key, true);
  }
  target.url = scheme_ + "://" + target.host + target.encoded_path;
  if (!query.empty()) target.url += "?" + CanonicalQueryString(query);
  return target;
}

std::chrono::milliseconds S3Api::Backoff(int attempt) const {
  // Full jitter: uniform in [0, min(cap, base * 2^attempt)].
  thread_local std::mt19937_64 random{std::random_device{}()};
  const double ceiling = std::min<double>(static_cast<double>(options_.backoff_cap.count()),
                                          static_cast<double>(options_.backoff_base.count()) *
                                              static_cast<double>(1ull << std::min(attempt, 30)));
  std::uniform_real_distribution<double> jitter(0.0, ceiling);
  return std::chrono::milliseconds(static_cast<std::int64_t>(jitter(random)));
}

Result<HttpResponse> S3Api::Execute(S3Request request) {
  const std::string what = request.method + " " + Describe(request.bucket, request.key);
  const std::string operation = S3OperationName(request.method, request.key, request.query, request.headers);
  const int max_attempts = std::max(1, options_.max_attempts);
  Status last_error;
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(Backoff(attempt - 1));
    if (request.before_attempt) request.before_attempt(request);
    SWAPLINE_ASSIGN_OR_RETURN(const Credentials credentials, credentials_->Get());

    const Target target = TargetFor(request.bucket, request.key, request.query);
    SigningRequest signing;
    signing.method = request.method;
    signing.encoded_path = target.encoded_path;
    signing.query = request.query;
    signing.headers = request.headers;
    signing.headers.emplace_back("host", target.host);
    const bool has_body = request.body_fd >= 0 || !request.body.empty();
    if (!has_body) {
      signing.payload_hash = std::string(kEmptyPayloadSha256);
    } else if (options_.sign_payload && request.body_fd < 0) {
      signing.payload_hash = Sha256Hex(request.body);
    } else {
      signing.payload_hash = std::string(kUnsignedPayload);
    }
    signer_.SignHeaders(signing, credentials, std::chrono::system_clock::now());

    HttpRequest http_request;
    http_request.method = request.method;
    http_request.url = target.url;
    http_request.headers = std::move(signing.headers);
    http_request.body = request.body;
    http_request.body_fd = request.body_fd;
    http_request.body_offset = request.body_offset;
    http_request.body_length = request.body_length;
    http_request.fresh_connection = request.fresh_connection;

    Result<HttpResponse> response = http_.Send(http_request, request.sink);
    bool retryable = false;
    if (!response.ok()) {
      last_error = response.status().WithContext(what);
      retryable = response.status().code() == Code::kUnavailable;
    } else {
      const long status = response->status;
      S3Error error;
      if (status >= 300 && status != 304) {
        error = ParseS3Error(response->body);
      } else if (request.error_in_ok_body) {
        error = ParseS3Error(response->body);
      }
      if (error.code.empty() && (status < 300 || status == 304)) {
        spdlog::debug("s3 {} -> {} (attempt {})", what, status, attempt + 1);
        ReportS3Attempt({.operation = operation, .key = request.key, .http_status = status,
                         .body_bytes = request.body_fd >= 0 ? request.body_length : request.body.size()});
        return response;
      }
      last_error = ErrorStatus(what, status, error);
      retryable = IsRetryable(status, error.code);
    }
    spdlog::debug("s3 {} failed (attempt {}): {}", what, attempt + 1, last_error.message());
    ReportS3Attempt({.operation = operation, .key = request.key, .http_status = response.ok() ? response->status : 0,
                     .error = last_error.code(), .will_retry = retryable && attempt + 1 < max_attempts});
    if (!retryable) return last_error;
  }
  return last_error;
}

Result<std::string> S3Api::PresignUrl(const std::string& method, const std::string& bucket,
                                      const std::string& key, std::chrono::seconds expires) {
  if (expires.count() < 1 || expires.count() > 604800) {
    return InvalidArgument("presigned URLs expire after 1 second to 7 days (604800 s)");
  }
  SWAPLINE_ASSIGN_OR_RETURN(const Credentials credentials, credentials_->Get());
  const Target target = TargetFor(bucket, key, {});
  SigningRequest signing;
  signing.method = method;
  signing.encoded_path = target.encoded_path;
  signing.headers.emplace_back("host", target.host);
  const std::string operation = S3OperationName(method, key, {}, {});
  ReportS3Presign({.operation = operation, .key = key});
  return target.url + "?" +
         signer_.PresignQuery(signing, credentials, std::chrono::system_clock::now(), expires);
}

Result<ObjectInfo> S3Api::HeadObject(const std::string& bucket, const std::string& key) {
  S3Request request{.method = "HEAD", .bucket = bucket, .key = key};
  SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, Execute(std::move(request)));
  ObjectInfo info;
  info.key = key;
  info.size = std::strtoull(response.Header("content-length").c_str(), nullptr, 10);
  info.etag = Unquote(response.Header("etag"));
  info.content_type = response.Header("content-type");
  info.last_modified = ParseHttpDate(response.Header("last-modified")).value_or(std::chrono::system_clock::time_point{});
  for (const auto& [name, value] : response.headers) {
    if (name.starts_with("x-amz-meta-")) info.metadata[name.substr(11)] = value;
  }
  return info;
}

Result<std::string> S3Api::PutObject(const std::string& bucket, const std::string& key,
                                     const HeaderList& headers,
                                     std::span<const std::uint8_t> body, int body_fd,
                                     std::uint64_t body_length,
                                     const std::string& content_md5_base64) {
  S3Request request{.method = "PUT", .bucket = bucket, .key = key, .headers = headers,
                    .body = body, .body_fd = body_fd, .body_length = body_length};
  request.headers.emplace_back("Content-MD5", content_md5_base64);
  SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, Execute(std::move(request)));
  return Unquote(response.Header("etag"));
}

Result<ListPage> S3Api::ListObjects(const std::string& bucket, const ListOptions& options) {
  S3Request request{.method = "GET", .bucket = bucket};
  request.query = {{"list-type", "2"}, {"encoding-type", "url"},
                   {"max-keys", std::to_string(options.max_keys > 0 ? options.max_keys : 1000)}};
  if (!options.prefix.empty()) request.query.emplace_back("prefix", options.prefix);
  if (!options.delimiter.empty()) request.query.emplace_back("delimiter", options.delimiter);
  if (!options.continuation_token.empty()) {
    request.query.emplace_back("continuation-token", options.continuation_token);
  }
  SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, Execute(std::move(request)));
  return ParseListObjectsV2(response.body);
}

Status S3Api::DeleteObject(const std::string& bucket, const std::string& key) {
  S3Request request{.method = "DELETE", .bucket = bucket, .key = key};
  Result<HttpResponse> response = Execute(std::move(request));
  // Deleting a missing key is no error; a missing bucket is.
  if (!response.ok() && response.status().code() == Code::kNotFound &&
      response.status().message().find("NoSuchBucket") == std::string::npos) {
    return Status::Ok();
  }
  return response.status();
}

Status S3Api::CopyObject(const std::string& source_bucket, const std::string& source_key,
                         const std::string& bucket, const std::string& key) {
  S3Request request{.method = "PUT", .bucket = bucket, .key = key};
  request.headers = {{"x-amz-copy-source", "/" + source_bucket + "/" + UriEncode(source_key, true)}};
  request.error_in_ok_body = true;
  return Execute(std::move(request)).status();
}

Result<std::string> S3Api::InitiateUpload(const std::string& bucket, const std::string& key,
                                          const HeaderList& headers) {
  // Retried like the rest, but an attempt whose answer was lost (a reset or a
  // timeout after the request went out) may have created an upload whose id nobody
  // knows; it would stay until the lifecycle rule. So after a retry, uploads of this
  // key started since the first attempt (Initiated has second resolution: a margin)
  // that are not ours and have no part yet are aborted, best effort. Each attempt
  // goes on a fresh connection, so libcurl never resends it unseen.
  int attempts = 0;
  const auto first_attempt = std::chrono::system_clock::now() - std::chrono::seconds(2);
  S3Request request{.method = "POST", .bucket = bucket, .key = key, .query = {{"uploads", ""}},
                    .headers = headers, .before_attempt = [&attempts](S3Request&) { ++attempts; },
                    .fresh_connection = true};
  SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, Execute(std::move(request)));
  SWAPLINE_ASSIGN_OR_RETURN(std::string upload_id, ParseElementText(response.body, "UploadId"));
  if (attempts > 1) {
    auto uploads = ListUploads(bucket, key);
    for (const MultipartUpload& upload : uploads.ok() ? *uploads : std::vector<MultipartUpload>{}) {
      if (upload.key != key || upload.upload_id == upload_id || upload.initiated < first_attempt) continue;
      auto parts = ListParts(bucket, key, upload.upload_id);
      if (!parts.ok() || !parts->empty()) continue;
      const Status aborted = AbortUpload(bucket, key, upload.upload_id);
      spdlog::info("aborted orphan upload {} of {} left by a retried initiate: {}", upload.upload_id,
                   Describe(bucket, key), aborted.ToString());
    }
  }
  return upload_id;
}

Result<std::string> S3Api::UploadPart(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id, int part_number,
                                      std::span<const std::uint8_t> body,
                                      const std::string& content_md5_base64) {
  S3Request request{.method = "PUT", .bucket = bucket, .key = key,
                    .query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}},
                    .headers = {{"Content-MD5", content_md5_base64}}, .body = body};
  SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, Execute(std::move(request)));
  return Unquote(response.Header("etag"));
}

Result<std::string> S3Api::UploadPartCopy(const std::string& source_bucket,
                                          const std::string& source_key, std::uint64_t first,
                                          std::uint64_t last, const std::string& bucket,
                                          const std::string& key, const std::string& upload_id,
                                          int part_number) {
  S3Request request{.method = "PUT", .bucket = bucket, .key = key,
                    .query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}}};
  request.headers = {
      {"x-amz-copy-source", "/" + source_bucket + "/" + UriEncode(source_key, true)},
      {"x-amz-copy-source-range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)}};
  request.error_in_ok_body = true;
  SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, Execute(std::move(request)));
  SWAPLINE_ASSIGN_OR_RETURN(std::string etag, ParseElementText(response.body, "ETag"));
  return Unquote(etag);
}

Result<std::string> S3Api::CompleteUpload(const std::string& bucket, const std::string& key,
                                          const std::string& upload_id,
                                          const std::vector<UploadedPart>& parts) {
  const std::string xml = BuildCompleteMultipartXml(parts);
  S3Request request{.method = "POST", .bucket = bucket, .key = key,
                    .query = {{"uploadId", upload_id}},
                    .headers = {{"Content-Type", "application/xml"}}, .body = AsBytes(xml)};
  request.error_in_ok_body = true;
  SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, Execute(std::move(request)));
  SWAPLINE_ASSIGN_OR_RETURN(std::string etag, ParseElementText(response.body, "ETag"));
  return Unquote(etag);
}

Status S3Api::AbortUpload(const std::string& bucket, const std::string& key,
                          const std::string& upload_id) {
  S3Request request{.method = "DELETE", .bucket = bucket, .key = key,
                    .query = {{"uploadId", upload_id}}};
  return Execute(std::move(request)).status();
}

Result<std::vector<UploadedPart>> S3Api::ListParts(const std::string& bucket,
                                                   const std::string& key,
                                                   const std::string& upload_id) {
  std::vector<UploadedPart> parts;
  std::optional<int> marker;
  do {
    S3Request request{.method = "GET", .bucket = bucket, .key = key,
                      .query = {{"uploadId", upload_id}}};
    if (marker) request.query.emplace_back("part-number-marker", std::to_string(*marker));
    SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, Execute(std::move(request)));
    SWAPLINE_ASSIGN_OR_RETURN(PartsPage page, ParseListParts(response.body));
    parts.insert(parts.end(), page.parts.begin(), page.parts.end());
    marker = page.next_marker;
  } while (marker);
  return parts;
}

Result<std::vector<MultipartUpload>> S3Api::ListUploads(const std::string& bucket,
                                                        const std::string& prefix) {
  std::vector<MultipartUpload> uploads;
  std::string key_marker, upload_id_marker;
  do {
    S3Request request{.method = "GET", .bucket = bucket, .query = {{"uploads", ""}}};
    if (!prefix.empty()) request.query.emplace_back("prefix", prefix);
    if (!key_marker.empty()) {
      request.query.emplace_back("key-marker", key_marker);
      request.query.emplace_back("upload-id-marker", upload_id_marker);
    }
    SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, Execute(std::move(request)));
    SWAPLINE_ASSIGN_OR_RETURN(UploadsPage page, ParseListMultipartUploads(response.body));
    uploads.insert(uploads.end(), page.uploads.begin(), page.uploads.end());
    key_marker = page.next_key_marker;
    upload_id_marker = page.next_upload_id_marker;
  } while (!key_marker.empty());
  return uploads;
}

Status S3Api::CreateBucket(const std::string& bucket) {
  S3Request request{.method = "PUT", .bucket = bucket};
  Result<HttpResponse> response = Execute(std::move(request));
  if (!response.ok() && response.status().message().find("BucketAlreadyOwnedByYou") != std::string::npos) {
    return Status::Ok();
  }
  return response.status();
}

Status S3Api::PutLifecycle(const std::string& bucket, const std::string& xml) {
  S3Request request{.method = "PUT", .bucket = bucket, .query = {{"lifecycle", ""}},
                    .headers = {{"Content-Type", "application/xml"},
                                {"Content-MD5", DigestOf(AsBytes(xml)).md5_base64}},
                    .body = AsBytes(xml)};
  return Execute(std::move(request)).status();
}

Result<std::string> S3Api::GetLifecycle(const std::string& bucket) {
  S3Request request{.method = "GET", .bucket = bucket, .query = {{"lifecycle", ""}}};
  SWAPLINE_ASSIGN_OR_RETURN(HttpResponse response, Execute(std::move(request)));
  return response.body;
}

}  // namespace swapline::storage
