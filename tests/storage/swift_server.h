// A throwaway OpenStack Swift + s3api server for tests (scripts/swift-s3.sh): free
// loopback ports, its own data folder, stopped by PID when this object dies (and by
// the script's watcher if the test process is killed).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "storage/s3_store.h"

namespace swapline::storage::testing {

class SwiftServer {
 public:
  // Fails with a message naming `make deps` when Swift is not installed.
  static Result<std::unique_ptr<SwiftServer>> Start();
  ~SwiftServer();

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Points the AWS_* environment at this server (swapline processes a test starts read
  // it, as in a pod) and opens `bucket` on it, creating it.
  Result<std::unique_ptr<S3Store>> OpenBucketForProcesses(const std::string& bucket) const;

  static constexpr const char* kAccessKey = "test:tester";
  static constexpr const char* kSecretKey = "testing";
  // In the same account but without .admin: denied every request on its buckets.
  static constexpr const char* kReaderAccessKey = "test:reader";
  static constexpr const char* kReaderSecretKey = "reading";
  // Another account: its own (empty) bucket namespace.
  static constexpr const char* kOtherAccountAccessKey = "test2:tester2";
  static constexpr const char* kOtherAccountSecretKey = "testing2";

 private:
  SwiftServer(int port, std::string dir) : port_(port), dir_(std::move(dir)) {}
  int port_;
  std::string dir_;
};

// A loopback TCP port nobody listens on.
int FreePort();

}  // namespace swapline::storage::testing
