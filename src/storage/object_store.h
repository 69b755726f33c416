// ObjectStore: a flat namespace of immutable byte objects addressed by key, the one
// door through which swapline reads inputs and writes results (S3-compatible
// storage in a cluster, a local folder on one machine).
//
// Contract, the same for every backend (tests run the same code against each):
//  * Thread safety: a store may be used from many threads at once without outside
//    locking.
//  * Atomic put: readers see the previous object or the complete new one, never a
//    partial upload (S3: single PUT or CompleteMultipartUpload; file: rename).
//  * Missing keys: Stat, Get and Copy of a missing key give Code::kNotFound; Delete of
//    a missing key is no error (as S3).
//  * List returns keys in ascending byte order (as S3), pages of at most max_keys
//    entries, folding keys past `delimiter` into common prefixes.
//  * Local files written by GetToFile appear whole or not at all: bytes go to a
//    temporary beside <dest> (S3: "<dest>.part", kept for resuming), which is
//    renamed over <dest> only when complete and verified.
//  * Errors: kNotFound, kPermissionDenied (credentials, access), kInvalidArgument
//    (bad key or request), kUnavailable / kThrottled (transient, already retried),
//    kFailedPrecondition (the server lacks a feature, or the object changed while
//    read), kIOError (local files). Messages name the object, never a secret.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace swapline::storage {

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;  // without quotes; S3: MD5 hex, or "<md5 of part md5s>-<parts>"
  std::chrono::system_clock::time_point last_modified{};
  std::string content_type;                     // empty in List results
  std::map<std::string, std::string> metadata;  // user metadata, lowercase names
};

struct ByteRange {
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length;  // nullopt: to the end
};

// Called with (bytes done, bytes total; 0 when unknown) from any thread, in order.
using ProgressCallback = std::function<void(std::uint64_t done, std::uint64_t total)>;
// Receives object bytes in order; an error status stops the transfer.
using ByteSink = std::function<Status(std::span<const std::uint8_t>)>;

struct PutOptions {
  std::string content_type;  // empty: from the key's extension (storage/content_type.h)
  std::map<std::string, std::string> metadata;
  std::string sse;             // "", "AES256" or "aws:kms" (S3 only)
  std::string sse_kms_key_id;  // with sse == "aws:kms"
  ProgressCallback progress;
};

struct GetOptions {
  std::optional<ByteRange> range;
  ProgressCallback progress;
  // The object's size and ETag when the caller already has them (from a listing:
  // `cp --recursive`). S3 GetToFile then skips its HEAD request for an object of
  // one part (small objects: half the requests); the GET still carries If-Match
  // on this ETag, so an object changed since the listing fails with
  // kFailedPrecondition. Ignored by the file store and for bigger objects.
  std::optional<ObjectInfo> known;
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;            // usually "" or "/"
  int max_keys = 1000;
  std::string continuation_token;   // from the previous page; empty: first page
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  std::string next_continuation_token;  // empty on the last page
};

enum class PresignMethod { kGet, kPut };

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // "s3://bucket" or "file:///abs/dir", for messages.
  virtual std::string Describe() const = 0;

  virtual Result<ObjectInfo> Stat(const std::string& key) = 0;

  // Streams the object (or a range of it) into `sink`.
  virtual Status Get(const std::string& key, const GetOptions& options, const ByteSink& sink) = 0;

  // Writes the object to a local file, atomically (see the contract above).
  virtual Result<ObjectInfo> GetToFile(const std::string& key, const std::filesystem::path& dest,
                                       const GetOptions& options) = 0;

  // Stores everything `body` yields until EOF.
  virtual Result<ObjectInfo> Put(const std::string& key, std::istream& body,
                                 const PutOptions& options) = 0;

  // Stores a local file. S3: multipart above the threshold, resumable.
  virtual Result<ObjectInfo> PutFile(const std::string& key, const std::filesystem::path& source,
                                     const PutOptions& options) = 0;

  virtual Result<ListPage> List(const ListOptions& options) = 0;

  virtual Status Delete(const std::string& key) = 0;

  // Server-side copy within this store; metadata and content type are kept.
  virtual Status Copy(const std::string& source_key, const std::string& dest_key) = 0;

  // A URL that lets anyone holding it GET or PUT the object until it expires.
  // file:// stores cannot presign (kFailedPrecondition).
  virtual Result<std::string> Presign(const std::string& key, PresignMethod method,
                                      std::chrono::seconds expires) = 0;
};

// Every object whose key starts with `prefix`, across pages.
Result<std::vector<ObjectInfo>> ListAll(ObjectStore& store, const std::string& prefix);

}  // namespace swapline::storage
