#include "swift_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

namespace swapline::storage::testing {
namespace {

bool PortFree(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return free;
}

std::string Script() { return std::string(SWAPLINE_SCRIPTS_DIR) + "/swift-s3.sh"; }

std::string Environment(int port, const std::string& dir) {
  return "SWIFT_S3_PORT=" + std::to_string(port) + " SWIFT_S3_DIR=" + dir + " ";
}

}  // namespace

int FreePort() {
  // Ephemeral ports come from 32768+; stay below to avoid racing with them.
  static std::mt19937 random{std::random_device{}()};
  for (;;) {
    const int port = std::uniform_int_distribution<int>(20000, 32000)(random);
    if (PortFree(port)) return port;
  }
}

Result<std::unique_ptr<SwiftServer>> SwiftServer::Start() {
  if (std::system("command -v swift-proxy-server >/dev/null 2>&1") != 0) {
    return FailedPrecondition(
        "OpenStack Swift is not installed, so the S3 integration tests cannot run: "
        "run `make deps` (Debian packages swift swift-proxy swift-account swift-container "
        "swift-object memcached)");
  }
  const std::string dir = "/tmp/swapline-swift-" + std::to_string(::getpid());
  for (int attempt = 0; attempt < 5; ++attempt) {
    // The script uses PORT..PORT+4.
    int port = FreePort();
    bool all_free = true;
    for (int i = 1; i <= 4; ++i) all_free = all_free && PortFree(port + i);
    if (!all_free) continue;
    const std::string command = Environment(port, dir) + "SWIFT_S3_WATCH_PID=" +
                                std::to_string(::getpid()) + " bash " + Script() + " start";
    if (std::system(command.c_str()) == 0) {
      return std::unique_ptr<SwiftServer>(new SwiftServer(port, dir));
    }
  }
  return Unavailable("the Swift S3 test server did not start (see the log above)");
}

SwiftServer::~SwiftServer() {
  const std::string command = Environment(port_, dir_) + "bash " + Script() + " stop";
  (void)std::system(command.c_str());
}

Result<std::unique_ptr<S3Store>> SwiftServer::OpenBucketForProcesses(const std::string& bucket) const {
  ::setenv("AWS_ACCESS_KEY_ID", kAccessKey, 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", kSecretKey, 1);
  ::setenv("AWS_ENDPOINT_URL", endpoint().c_str(), 1);
  ::setenv("AWS_REGION", "us-east-1", 1);
  S3Options s3;
  s3.endpoint_url = endpoint();
  s3.credentials.access_key_id = kAccessKey;
  s3.credentials.secret_access_key = kSecretKey;
  auto store = S3Store::Open(bucket, s3);
  if (!store.ok()) return store.status();
  SWAPLINE_RETURN_IF_ERROR((*store)->CreateBucket());
  return store;
}

}  // namespace swapline::storage::testing
