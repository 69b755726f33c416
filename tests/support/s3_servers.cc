#include "support/s3_servers.h"

#include <unistd.h>

#include <cstdlib>

#include "support/process.h"

namespace swapline::testing {
namespace {

// Runs `bash script command` with `env` (NAME=VALUE ...) and the script's
// port/folder variables named by `prefix` (SWIFT_S3, RGW_MINI).
int RunScript(const std::string& prefix, const std::filesystem::path& script, int port, const std::string& dir,
              const std::string& command, bool watch) {
  std::string line = prefix + "_PORT=" + std::to_string(port) + " " + prefix + "_DIR=" + ShellQuote(dir) + " ";
  // The servers stop when this process dies, however it dies.
  if (watch) line += prefix + "_WATCH_PID=" + std::to_string(::getpid()) + " ";
  line += "bash " + ShellQuote(script.string()) + " " + command;
  return std::system(line.c_str());
}

// Starts a script's servers on `ports` consecutive free ports; the first port.
int StartOnFreePorts(const std::string& prefix, const std::filesystem::path& script, const std::string& dir,
                     int ports) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    const int port = FreePorts(ports);
    if (RunScript(prefix, script, port, dir, "start", /*watch=*/true) == 0) return port;
  }
  return 0;
}

std::filesystem::path ScriptsDir() { return SWAPLINE_SCRIPTS_DIR; }

}  // namespace

std::filesystem::path SwiftServer::DefaultScript() { return ScriptsDir() / "swift-s3.sh"; }

Result<std::unique_ptr<SwiftServer>> SwiftServer::Start(const std::filesystem::path& script) {
  if (FindExecutable("swift-proxy-server").empty()) {
    return FailedPrecondition(
        "OpenStack Swift is not installed, so there is no S3 test server: "
        "run `make deps` (Debian packages swift swift-proxy swift-account swift-container "
        "swift-object memcached)");
  }
  const std::string dir = "/tmp/swapline-swift-" + std::to_string(::getpid());
  const int port = StartOnFreePorts("SWIFT_S3", script, dir, 5);  // PORT..PORT+4
  if (port == 0) return Unavailable("the Swift S3 test server did not start (see the log above)");
  return std::unique_ptr<SwiftServer>(new SwiftServer(script, port, dir));
}

SwiftServer::~SwiftServer() { (void)RunScript("SWIFT_S3", script_, port_, dir_, "stop", /*watch=*/false); }

Result<std::unique_ptr<storage::S3Store>> SwiftServer::OpenBucketForProcesses(const std::string& bucket) const {
  ::setenv("AWS_ACCESS_KEY_ID", kAccessKey, 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", kSecretKey, 1);
  ::setenv("AWS_ENDPOINT_URL", endpoint().c_str(), 1);
  ::setenv("AWS_REGION", "us-east-1", 1);
  storage::S3Options s3;
  s3.endpoint_url = endpoint();
  s3.credentials.access_key_id = kAccessKey;
  s3.credentials.secret_access_key = kSecretKey;
  auto store = storage::S3Store::Open(bucket, s3);
  if (!store.ok()) return store.status();
  SWAPLINE_RETURN_IF_ERROR((*store)->CreateBucket());
  return store;
}

Result<std::unique_ptr<RgwServer>> RgwServer::Start() {
  for (const char* tool : {"ceph-mon", "ceph-osd", "radosgw", "radosgw-admin"}) {
    if (FindExecutable(tool).empty()) {
      return FailedPrecondition(std::string(tool) +
                                " is not installed, so there is no radosgw to test against: run `make deps` "
                                "(Debian packages radosgw ceph-mon ceph-osd)");
    }
  }
  const std::string dir = "/tmp/swapline-rgw-" + std::to_string(::getpid());
  const int port = StartOnFreePorts("RGW_MINI", ScriptsDir() / "rgw-mini.sh", dir, 10);
  if (port == 0) return Unavailable("radosgw (scripts/rgw-mini.sh) did not start; see its log above");
  return std::unique_ptr<RgwServer>(new RgwServer(port, dir));
}

RgwServer::~RgwServer() {
  (void)RunScript("RGW_MINI", ScriptsDir() / "rgw-mini.sh", port_, dir_, "stop", /*watch=*/false);
}

}  // namespace swapline::testing
