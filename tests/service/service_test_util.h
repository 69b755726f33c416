// Helpers for the service end-to-end tests: swapline processes in the background,
// stopped by PID.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_test_util.h"

namespace swapline::service {

namespace fs = std::filesystem;

// A swapline process in the background, output in `log_dir`; SIGKILLed (by PID) if
// still running when destroyed.
class Process {
 public:
  Process(const std::vector<std::string>& args, const fs::path& log_dir) {
    const std::string binary = SWAPLINE_BINARY;
    fs::create_directories(log_dir);
    log_ = log_dir / "stderr.txt";
    std::vector<std::string> storage = {binary};
    storage.insert(storage.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int out = ::open((log_dir / "stdout.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& a : storage) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~Process() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool running() {
    if (exited_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }
  void Signal(int sig) { ::kill(pid_, sig); }
  // Exit code, or -1 when still running after Scaled(`timeout`).
  int WaitExit(std::chrono::seconds timeout) {
    const auto end = std::chrono::steady_clock::now() + swapline::testing::Scaled(timeout);
    while (running()) {
      if (std::chrono::steady_clock::now() > end) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exit_code_;
  }
  std::string log() const { return swapline::testing::ReadFileBytes(log_); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  fs::path log_;
};

}  // namespace swapline::service
