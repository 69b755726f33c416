// Whole-object transfers on top of S3Api: multipart uploads (parallel, resumable),
// parallel ranged downloads into "<dest>.part" (resumable), streaming GETs that
// continue where a failed attempt stopped, and server-side copies (multipart
// above the threshold). Internal to storage/; S3Store documents the behaviour.
#pragma once

#include <filesystem>
#include <istream>
#include <string>

#include "storage/object_store.h"
#include "storage/s3_api.h"

namespace swapline::storage {

Result<ObjectInfo> UploadFile(S3Api& api, const std::string& bucket, const std::string& key,
                              const std::filesystem::path& source, const PutOptions& options);

Result<ObjectInfo> UploadStream(S3Api& api, const std::string& bucket, const std::string& key,
                                std::istream& body, const PutOptions& options);

Status StreamObject(S3Api& api, const std::string& bucket, const std::string& key,
                    const GetOptions& options, const ByteSink& sink);

Result<ObjectInfo> DownloadFile(S3Api& api, const std::string& bucket, const std::string& key,
                                const std::filesystem::path& dest, const GetOptions& options);

Status CopyObjectAnySize(S3Api& api, const std::string& source_bucket,
                         const std::string& source_key, const std::string& bucket,
                         const std::string& key);

// The part size for an object of `size` bytes: at least `preferred` and 5 MiB,
// doubled until the object fits in 10,000 parts.
std::uint64_t PartSizeFor(std::uint64_t size, std::uint64_t preferred);

}  // namespace swapline::storage
