// `swapline-bench queue` and `swapline-bench api`: the job service's dispatch
// overhead, each against a baseline measured in the same run.
//
// queue: starts its own redis-server (tests/support/redis_server.h: free loopback
// port, own temporary folder, stopped by PID, killed with this process). The
// baseline is `redis-benchmark -n 20000 -q XADD bench * f v` (one stream append per
// request, the floor of a Redis Streams submit). Then, for the Redis queue and for an
// SQLite queue in a temporary folder: `jobs` no-op jobs are submitted from one
// thread (submit jobs/s), then drained by 4 worker threads, each with its own queue
// handle, Claim → Complete (jobs/s); then 500 jobs are submitted one at a time every
// 2 ms to 4 waiting workers, and the dispatch latency (before Submit → Claim
// returned) is reported as p50/p99. The table shows each rate's ratio to XADD.
//
// api: starts `swapline serve` (the swapline executable) on a free loopback port with a file
// store and an SQLite queue in a temporary folder and --workers 0, submits one job
// through POST /v1/jobs, then loads `GET /v1/jobs/{id}` and, as the baseline,
// `GET /healthz` with keep-alive connections: `ab -k -c 8 -n 50000` (Debian
// apache2-utils) when installed, else an in-process libcurl loop with the same
// concurrency. Prints req/s and p99 for both and the ratio.
#pragma once

#include <string>

namespace swapline::bench {

struct QueueBenchOptions {
  int jobs = 5000;    // no-op jobs in the throughput phase
  int probes = 500;   // paced jobs for the dispatch latency
  int workers = 4;    // worker threads
  bool sqlite = true; // also measure the SQLite queue
};

// Prints the table to stdout; returns a process exit code.
int RunQueueBench(const QueueBenchOptions& options);

struct ApiBenchOptions {
  int requests = 50000;  // per endpoint
  int concurrency = 8;   // keep-alive connections
  std::string ab;        // ab executable; empty: /usr/bin/ab, then PATH; "none": libcurl loop
  std::string swapline;  // the swapline executable to run `serve` of
};

int RunApiBench(const ApiBenchOptions& options);

}  // namespace swapline::bench
