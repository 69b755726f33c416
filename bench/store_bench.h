// `swapline-bench store`: object-storage throughput of swapline's S3 client against
// the AWS CLI, on the same loopback S3 server in one run.
//
// Starts its own OpenStack Swift + s3api server (tests/support/s3_servers.h: free
// loopback ports, own data folder, stopped at the end — or by the script's watcher
// if this process dies). Then, `runs` times with the order of the two clients
// alternating, each client as a separate process (`swapline store cp` and
// `aws s3 cp`, the same part size, multipart threshold and concurrency):
//  * uploads and downloads one big file (default 256 MiB)   → MiB/s,
//  * uploads and downloads a folder of small files (default 200 × 64 KiB,
//    `cp --recursive`)                                       → files/s,
// recording each client's wall time and CPU seconds (user + system, from wait4).
// Every download is compared byte for byte with its source. A local copy of the
// big file is printed as the ceiling. The table shows medians and the ratios
// swapline / aws (throughput) and swapline / aws (CPU).
//
// The AWS CLI is the Debian package awscli (/usr/bin/aws), else `aws` on PATH,
// configured by a temporary AWS_CONFIG_FILE; without it only swapline's numbers
// are printed, with a message saying so.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace swapline::bench {

struct StoreBenchOptions {
  std::uint64_t big_mib = 256;
  int small_files = 200;
  std::uint64_t small_kib = 64;
  int runs = 3;
  std::uint64_t part_mib = 8;  // part size and multipart threshold, both clients
  int concurrency = 10;        // requests in flight, both clients
  std::string aws;             // AWS CLI executable; empty: /usr/bin/aws, then PATH
  std::filesystem::path swift_script;  // empty: scripts/swift-s3.sh of the source tree
  std::filesystem::path work_dir;      // empty: a fresh folder in the temp dir
  std::string swapline;                // the swapline executable (`store cp`)
};

// Prints the table to stdout; returns a process exit code.
int RunStoreBench(const StoreBenchOptions& options);

}  // namespace swapline::bench
