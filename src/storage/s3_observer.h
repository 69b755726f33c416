// S3 request events for metrics. The S3 client reports every attempt of every
// request it sends, and every URL it presigns, to one process-wide observer; the
// service layer turns them into Prometheus counters (requests, retries and errors
// by operation, bytes written by key prefix). storage/ knows nothing of metrics.
//
// Operations are named as in the S3 API reference ("PutObject", "UploadPart",
// "ListObjectsV2", …), which is also how IAM policies name them (with "s3:" and a
// few merged: see deploy/s3/).
//
// Thread safety: SetS3Observer and the Report functions may be called from many
// threads at once; the observer itself must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "storage/sigv4.h"

namespace swapline::storage {

struct S3Attempt {
  std::string_view operation;
  std::string_view key;       // empty for bucket operations
  long http_status = 0;       // 0: no response (connection failed, timed out)
  Code error = Code::kOk;     // kOk: the attempt succeeded
  bool will_retry = false;    // a failed attempt that is tried again
  std::uint64_t body_bytes = 0;  // request body sent (PutObject, UploadPart: bytes stored)
};

struct S3Presign {
  std::string_view operation;  // "GetObject" or "PutObject"
  std::string_view key;
};

struct S3Observer {
  std::function<void(const S3Attempt&)> on_attempt;
  std::function<void(const S3Presign&)> on_presign;
};

// Replaces the observer (an empty one stops reporting).
void SetS3Observer(S3Observer observer);

void ReportS3Attempt(const S3Attempt& attempt);
void ReportS3Presign(const S3Presign& presign);

// The S3 API operation a request performs, from its method, query and headers.
std::string S3OperationName(const std::string& method, const std::string& key,
                            const QueryParams& query, const HeaderList& headers);

}  // namespace swapline::storage
