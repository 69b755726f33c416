// The S3 XML documents the client reads and writes (pugixml), kept apart from the
// transport so each is unit-tested on documented examples.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/object_store.h"

namespace swapline::storage {

struct S3Error {
  std::string code;     // "NoSuchKey"; empty when the body was not an <Error>
  std::string message;
  std::string request_id;
};

// Parses an <Error> document; an empty S3Error for anything else.
S3Error ParseS3Error(const std::string& body);


Result<ListPage> ParseListObjectsV2(const std::string& body);

struct UploadedPart {
  int number = 0;
  std::uint64_t size = 0;
  std::string etag;  // without quotes
};

struct PartsPage {
  std::vector<UploadedPart> parts;
  std::optional<int> next_marker;  // set while truncated
};
Result<PartsPage> ParseListParts(const std::string& body);

struct MultipartUpload {
  std::string key;
  std::string upload_id;
  std::chrono::system_clock::time_point initiated;
};

struct UploadsPage {
  std::vector<MultipartUpload> uploads;
  std::string next_key_marker;  // both set while truncated
  std::string next_upload_id_marker;
};
Result<UploadsPage> ParseListMultipartUploads(const std::string& body);

// The text of the first element called `name` anywhere in the document
// (UploadId, ETag of CopyObjectResult/CompleteMultipartUploadResult, ...).
Result<std::string> ParseElementText(const std::string& body, const char* name);

std::string BuildCompleteMultipartXml(const std::vector<UploadedPart>& parts);

// "\"abc\"" → "abc"
std::string Unquote(const std::string& etag);

}  // namespace swapline::storage
