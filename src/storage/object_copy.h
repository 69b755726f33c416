// Copies between local files and object stores (`swapline store cp`): local→S3
// (uploads), S3→local (downloads) and S3→S3 (server-side). A destination key or
// folder ending in '/' (or an existing local folder) keeps the source's file name.
// Recursive copies take every file under a folder or every object under a prefix
// ("folder" markers skipped) on one store (one connection pool), with up to
// `concurrency` files in flight, as the AWS CLI does; after the first failure no new
// file starts, and that failure is returned.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "storage/object_store.h"
#include "storage/s3_store.h"
#include "storage/storage_uri.h"

namespace swapline::storage {

// One finished file: `action` is "upload", "download" or "copy".
struct CopyReport {
  std::string_view action;
  std::string source;
  std::string dest;
};

struct CopyOptions {
  PutOptions put;                 // uploads and copies
  bool recursive = false;
  int concurrency = 10;           // files in flight (recursive)
  ProgressCallback progress;      // bytes of all files: (done, total)
  // Called after each file, possibly from several threads at once.
  std::function<void(const CopyReport&)> on_copied;
};

// kInvalidArgument when neither side is an s3:// URI.
Status CopyObjects(const StorageUri& source, StorageUri dest, const S3Options& s3, const CopyOptions& options);

}  // namespace swapline::storage
