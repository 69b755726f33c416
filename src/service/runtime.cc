#include "service/runtime.h"

#include <csignal>
#include <filesystem>

#include "core/duration.h"
#include "core/env.h"
#include "storage/open_store.h"
#include "storage/url.h"

namespace swapline::service {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void OnStopSignal(int signal) { g_stop_signal = signal; }

}  // namespace

Result<Backends> OpenBackends(const std::string& store_uri, const std::string& queue_uri,
                              const storage::S3Settings& s3_settings, const job::JobQueueOptions& queue_options) {
  Backends backends;
  SWAPLINE_ASSIGN_OR_RETURN(backends.store_uri, storage::ParseStorageUri(store_uri));
  if (!backends.store_uri.is_s3()) {
    // Resolved once: a working directory that disappears later must not matter.
    std::error_code ec;
    backends.store_uri.local_path = std::filesystem::absolute(backends.store_uri.local_path, ec);
    if (ec) return IOError("--store: cannot resolve '" + store_uri + "': " + ec.message());
  }
  SWAPLINE_ASSIGN_OR_RETURN(storage::S3Options s3, storage::MakeS3Options(s3_settings));
  SWAPLINE_ASSIGN_OR_RETURN(backends.store, storage::OpenObjectStore(backends.store_uri, s3));
  auto queue = job::OpenJobQueue(queue_uri, queue_options);
  if (!queue.ok()) return queue.status().WithContext("queue '" + storage::RedactPassword(queue_uri) + "'");
  backends.queue = std::move(queue).value();
  return backends;
}

Result<job::JobQueueOptions> QueueOptionsFromFlags(const std::string& lease, const std::string& retention,
                                                   std::int64_t dead_letter_max) {
  job::JobQueueOptions options;
  auto lease_ms = ParseDuration(lease.empty() ? EnvOr("SWAPLINE_LEASE", "30s") : lease);
  if (!lease_ms.ok()) return lease_ms.status().WithContext("--lease");
  options.lease = *lease_ms;
  auto retention_ms = ParseDuration(retention);
  if (!retention_ms.ok()) return retention_ms.status().WithContext("--job-retention");
  options.retention = *retention_ms;
  if (dead_letter_max < 1) return InvalidArgument("--dead-letter-max must be at least 1");
  options.dead_letter_max = dead_letter_max;
  return options;
}

Status ParseListen(const std::string& text, std::string& host, int& port) {
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgument("--listen '" + text + "': expected [ADDR]:PORT");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else if (const std::size_t colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    if (host.empty()) host = "0.0.0.0";
    port_text = text.substr(colon + 1);
  } else {
    host = "127.0.0.1";
    port_text = text;
  }
  std::size_t used = 0;
  try {
    port = std::stoi(port_text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != port_text.size() || port < 0 || port > 65535) {
    return InvalidArgument("--listen '" + text + "': bad port (HOST:PORT, e.g. 127.0.0.1:8080)");
  }
  return Status::Ok();
}

void InstallStopSignals() {
  std::signal(SIGTERM, OnStopSignal);
  std::signal(SIGINT, OnStopSignal);
}

int StopSignal() { return g_stop_signal; }

}  // namespace swapline::service
