// Helpers for tests and benchmarks that start servers and processes on this
// machine: free loopback ports, executables on the PATH, temporary folders, waiting
// on a condition, and a child process killed with its parent.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace swapline::testing {

// A loopback TCP port nobody listens on, from 20000..32000 (below the ephemeral
// range, so an outgoing connection does not take it meanwhile).
int FreePort();
// The first of `count` consecutive such ports. Neither hands out a port twice in one
// process.
int FreePorts(int count);
// A TCP connection to 127.0.0.1:`port` (close-on-exec); -1 when refused.
int ConnectLoopback(int port);

// How much longer than usual code under test may take: SWAPLINE_TEST_TIME_SCALE
// (the sanitizer builds set it: instrumented code runs several times slower), else 1.
// Every time limit a test sets goes through Scaled; a limit is never a claim on speed.
double TimeScale();
std::chrono::milliseconds Scaled(std::chrono::milliseconds limit);
// Scaled(`limit`) as a command-line duration ("4500ms"): leases and the like that
// the processes under test must renew in time.
std::string ScaledArg(std::chrono::milliseconds limit);

// Polls `done` every 20 ms until it holds (true) or Scaled(`limit`) passes (false):
// how tests wait for another process, never by sleeping a guessed time.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit);

// `text` quoted for the shell, single quotes and all.
std::string ShellQuote(const std::string& text);

// The path of executable `name` on $PATH, /usr/bin or /usr/sbin; "" when none.
std::string FindExecutable(const std::string& name);

// A fresh folder under the system temp dir, removed with everything in it.
// Throws std::runtime_error when it cannot be created.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "swapline_test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // A new empty subfolder.
  std::filesystem::path Sub(const std::string& name) const;

 private:
  std::filesystem::path path_;
};

// A child process with stdout and stderr in `log`, killed with its parent
// (PR_SET_PDEATHSIG), stopped by PID.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { Stop(); }

  // argv[0] is a path (no PATH lookup). False when fork fails.
  bool Start(const std::vector<std::string>& argv, const std::filesystem::path& log);
  // False once it has exited (reaped).
  bool Running();
  // SIGTERM, then SIGKILL after 5 s.
  void Stop();
  // SIGKILL, now.
  void Kill();
  // Waits for it to exit by itself.
  void Wait();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

}  // namespace swapline::testing
