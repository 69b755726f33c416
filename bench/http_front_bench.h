// `swapline-bench http-front`: the HTTP servers the API could stand on, under the same
// normal and hostile load, each serving GET /healthz (a small JSON answer) from 16
// threads on a free loopback port in this process:
//   - cpp-httplib 0.11.4 (Debian), set up as the API was on it (thread pool, keep-alive
//     5 s, read timeout 30 s): the baseline;
//   - libmicrohttpd 0.9.75 (Debian): epoll, a pool of 16 polling threads, a 10 s
//     connection timeout, 64 connections per address, 16 KiB per connection;
//   - swapline's front (service/http_server.h, Boost.Beast): default limits.
// Normal load: `ab -k -c concurrency -n requests` (req/s, p99; ratio to httplib).
// Hostile load, one attack at a time on a fresh server:
//   - slowloris: `slow_clients` connections each sending one header line a second; 20
//     /healthz requests on new connections meanwhile, each given 5 s: how many are
//     answered, and the median time;
//   - a head of 100,000 header lines (1.3 MB): the status line it gets;
//   - a head that never completes (a header line every 500 ms): how long the server
//     lets it hold the connection (up to 15 s);
//   - a refused body that holds a second request ("smuggling"): how many answers come
//     back on the connection (1 is right).
#pragma once

#include <string>

namespace swapline::bench {

struct HttpFrontBenchOptions {
  int requests = 50000;   // normal load
  int concurrency = 32;   // keep-alive connections
  int slow_clients = 48;  // slowloris connections
  std::string ab;         // ab executable; empty: /usr/bin/ab, then PATH
};

// Prints the table to stdout; returns a process exit code.
int RunHttpFrontBench(const HttpFrontBenchOptions& options);

}  // namespace swapline::bench
