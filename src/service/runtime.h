// Pieces `swapline serve` and `swapline worker` share: opening the store and queue
// from URIs, parsing listen addresses, and a SIGTERM/SIGINT flag.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "job/job_queue.h"
#include "storage/object_store.h"
#include "storage/s3_settings.h"
#include "storage/storage_uri.h"

namespace swapline::service {

struct Backends {
  storage::StorageUri store_uri;
  std::unique_ptr<storage::ObjectStore> store;
  std::unique_ptr<job::JobQueue> queue;
};

// S3 settings as `store` takes them (storage/s3_settings.h: endpoint, region, CA
// bundle, addressing style, … with the AWS CLI's environment defaults), credentials
// from the usual chain (env, shared files, web identity). A relative file store path is resolved now. Messages never show a
// queue URI's password.
Result<Backends> OpenBackends(const std::string& store_uri, const std::string& queue_uri,
                              const storage::S3Settings& s3_settings, const job::JobQueueOptions& queue_options);

// The queue options of `serve` and `worker`: --lease (empty: $SWAPLINE_LEASE or
// 30s), --job-retention (a duration; 0 keeps ended jobs forever), --dead-letter-max.
Result<job::JobQueueOptions> QueueOptionsFromFlags(const std::string& lease, const std::string& retention,
                                                   std::int64_t dead_letter_max);

// "127.0.0.1:8080", "[::1]:8080", ":8080" (all addresses), "8080" (loopback).
Status ParseListen(const std::string& text, std::string& host, int& port);

// Installs SIGTERM/SIGINT handlers that set a flag (async-signal-safe).
void InstallStopSignals();
// The signal that arrived (SIGTERM, SIGINT) or 0.
int StopSignal();

}  // namespace swapline::service
