// Which object keys a tenant may name, and how job URIs map onto the service's store.
//
// A tenant owns the keys under its input and output prefixes (the storage/
// object_key.h layout, optionally behind a two-hex-digit hash prefix):
//   [hh/]images/input/{tenant}/…   [hh/]videos/input/{tenant}/…
//   [hh/]images/output/{tenant}/…  [hh/]videos/output/{tenant}/…
// Every key is also checked with storage::ValidateObjectKey, so "..", "." and empty
// segments, backslashes and control characters are refused before the prefix test.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"
#include "storage/storage_uri.h"

namespace swapline::service {

// OK when `key` is valid and under one of `tenant`'s prefixes; otherwise
// PermissionDenied (another tenant's or an unknown prefix) or InvalidArgument
// (a malformed key, "..").
Status CheckTenantKey(std::string_view tenant, std::string_view key);

// The key an upload of `filename` by `tenant` goes to:
// "{images|videos}/input/{tenant}/{yyyymmddHHMM}/{random8}-{filename}" (videos by
// extension: mp4 mov mkv webm avi m4v). InvalidArgument for a filename with '/', "..",
// control characters, or longer than 200 bytes.
Result<std::string> UploadKey(std::string_view tenant, std::string_view filename,
                              std::chrono::system_clock::time_point now);

// Maps a job's object reference ("s3://bucket/key", "file:///root/key" or a bare key)
// onto a key of the store `store_uri` names. A reference to another bucket or to a
// path outside the store's folder is InvalidArgument, with `field` ("sources[0]")
// leading the message.
Result<std::string> KeyInStore(const storage::StorageUri& store_uri, std::string_view reference,
                               std::string_view field);

// The URI a result is reported as: "s3://bucket/key", or for file stores the bare key
// (results and errors never show the server's absolute paths).
std::string UriOfKey(const storage::StorageUri& store_uri, std::string_view key);

}  // namespace swapline::service
