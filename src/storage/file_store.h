// FileStore: an ObjectStore in a local folder, the embedded default
// (`--store file://./var/objects`). Key "a/b.jpg" is the file DIR/a/b.jpg; its
// content type, user metadata and MD5 ETag live in DIR/.swapline-meta/a/b.jpg.json.
//
// Follows the ObjectStore contract (object_store.h). Differences from S3, which
// follow from mapping keys to paths: keys must pass ValidateObjectKey (no "..",
// empty segments or leading '/'), no segment may start with ".swapline-" (reserved
// for metadata and temporaries), and a key cannot be both an object and a prefix of
// another object ("a" and "a/b"): the second Put gives kInvalidArgument.
#pragma once

#include <filesystem>
#include <memory>

#include "storage/object_store.h"

namespace swapline::storage {

// Creates `root` if missing.
Result<std::unique_ptr<ObjectStore>> OpenFileStore(const std::filesystem::path& root);

// A folder inside the store at `root` (reserved: never listed, never a key) where
// bytes on their way into it can be staged, on the store's own filesystem and
// under its operator's quota rather than in a system temp folder.
std::filesystem::path FileStoreStagingDir(const std::filesystem::path& root);

}  // namespace swapline::storage
