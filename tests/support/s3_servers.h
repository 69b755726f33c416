// Throwaway S3 servers for tests and benchmarks, each on free loopback ports with its
// own data folder, stopped when its object dies (and by its script's watcher if the
// process is killed): OpenStack Swift + s3api (scripts/swift-s3.sh) and Ceph
// radosgw (scripts/rgw-mini.sh).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/status.h"
#include "storage/s3_store.h"

namespace swapline::testing {

// OpenStack Swift + s3api: ready in a few seconds, no lifecycle API.
class SwiftServer {
 public:
  // The source tree's scripts/swift-s3.sh.
  static std::filesystem::path DefaultScript();
  // Fails with a message naming `make deps` when Swift is not installed.
  static Result<std::unique_ptr<SwiftServer>> Start(const std::filesystem::path& script = DefaultScript());
  ~SwiftServer();

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Points the AWS_* environment at this server (swapline processes a test starts read
  // it, as in a pod) and opens `bucket` on it, creating it.
  Result<std::unique_ptr<storage::S3Store>> OpenBucketForProcesses(const std::string& bucket) const;

  static constexpr const char* kAccessKey = "test:tester";
  static constexpr const char* kSecretKey = "testing";
  // In the same account but without .admin: denied every request on its buckets.
  static constexpr const char* kReaderAccessKey = "test:reader";
  static constexpr const char* kReaderSecretKey = "reading";
  // Another account: its own (empty) bucket namespace.
  static constexpr const char* kOtherAccountAccessKey = "test2:tester2";
  static constexpr const char* kOtherAccountSecretKey = "testing2";

 private:
  SwiftServer(std::filesystem::path script, int port, std::string dir)
      : script_(std::move(script)), port_(port), dir_(std::move(dir)) {}
  std::filesystem::path script_;
  int port_;
  std::string dir_;
};

// Ceph radosgw with one monitor and one RAM-backed OSD (scripts/rgw-mini.sh) on
// free loopback ports (radosgw on port(), the others on the nine above), its own
// data folder, stopped when this object dies. About 13 s to start.
class RgwServer {
 public:
  static constexpr const char* kAccessKey = "rgwtest";  // scripts/rgw-mini.sh
  static constexpr const char* kSecretKey = "rgwtestsecret";

  // Fails with a message naming `make deps` when the Ceph packages are missing.
  static Result<std::unique_ptr<RgwServer>> Start();
  ~RgwServer();

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  RgwServer(int port, std::string dir) : port_(port), dir_(std::move(dir)) {}
  int port_;
  std::string dir_;
};

}  // namespace swapline::testing
