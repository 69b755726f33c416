// Pieces `swapline serve` and `swapline worker` share: opening the store and queue
// from URIs (S3 settings from the environment, as the AWS CLI reads them), parsing
// durations and listen addresses, and a SIGTERM/SIGINT flag.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/status.h"
#include "job/job_queue.h"
#include "storage/object_store.h"
#include "storage/storage_uri.h"

namespace swapline::service {

struct Backends {
  storage::StorageUri store_uri;
  std::unique_ptr<storage::ObjectStore> store;
  std::unique_ptr<job::JobQueue> queue;
};

// S3 settings: endpoint `s3_endpoint` or $AWS_ENDPOINT_URL, region $AWS_REGION /
// $AWS_DEFAULT_REGION, credentials from the usual chain (env, shared files, web
// identity). `lease` goes into the queue's options.
Result<Backends> OpenBackends(const std::string& store_uri, const std::string& queue_uri,
                              const std::string& s3_endpoint, std::chrono::milliseconds lease);

// "250ms", "30s", "2m", "1h"; a bare number is seconds.
Result<std::chrono::milliseconds> ParseDuration(const std::string& text);

// "127.0.0.1:8080", "[::1]:8080", ":8080" (all addresses), "8080" (loopback).
Status ParseListen(const std::string& text, std::string& host, int& port);

// Installs SIGTERM/SIGINT handlers that set a flag (async-signal-safe).
void InstallStopSignals();
// The signal that arrived (SIGTERM, SIGINT) or 0.
int StopSignal();

}  // namespace swapline::service
