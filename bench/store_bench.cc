#include "bench/store_bench.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "storage/s3_store.h"
#include "support/process.h"
#include "support/s3_servers.h"

namespace swapline::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr double kMiB = 1 << 20;
using testing::ShellQuote;
using testing::SwiftServer;
constexpr const char* kBucket = "swapline-bench";

// ---- child processes ----

struct ChildRun {
  bool ok = false;
  double wall_s = 0;
  double cpu_s = 0;  // user + system of the child (and children it waited for)
};

using Env = std::vector<std::pair<std::string, std::string>>;

// Runs argv (PATH lookup for argv[0]) with `env` added and the AWS_* variables
// that could change either client's behaviour removed; stdout is discarded,
// stderr goes to `log`, whose tail is printed when the command fails.
ChildRun RunChild(const std::vector<std::string>& argv, const Env& env, const fs::path& log) {
  ChildRun run;
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) return run;
  if (pid == 0) {
    for (const char* name : {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN",
                             "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONFIG_FILE",
                             "AWS_SHARED_CREDENTIALS_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) {
      ::unsetenv(name);
    }
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (null_fd >= 0) ::dup2(null_fd, STDOUT_FILENO);
    if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  run.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  const auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  run.cpu_s = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  run.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!run.ok) {
    std::ifstream in(log);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::string command;
    for (const std::string& arg : argv) command += arg + " ";
    std::fprintf(stderr, "command failed (%s): %s\n",
                 WIFEXITED(status) ? ("exit " + std::to_string(WEXITSTATUS(status))).c_str() : "signal",
                 command.c_str());
    for (std::size_t i = lines.size() > 15 ? lines.size() - 15 : 0; i < lines.size(); ++i) {
      std::fprintf(stderr, "  | %s\n", lines[i].c_str());
    }
  }
  return run;
}

// First line of a command's stdout (and stderr), or nullopt when it fails.
std::optional<std::string> FirstLine(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::array<char, 512> buffer{};
  std::string line;
  if (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) line = buffer.data();
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) {
  }
  if (::pclose(pipe) != 0) return std::nullopt;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

// ---- data ----

bool WriteRandomFile(const fs::path& path, std::uint64_t size, std::uint64_t seed) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<std::uint64_t> block(1 << 17);  // 1 MiB
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::uint64_t written = 0; written < size;) {
    for (std::uint64_t& word : block) {  // xorshift64*: fast, incompressible enough
      state ^= state >> 12;
      state ^= state << 25;
      state ^= state >> 27;
      word = state * 0x2545F4914F6CDD1Dull;
    }
    const std::uint64_t n = std::min<std::uint64_t>(size - written, block.size() * sizeof(std::uint64_t));
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    written += n;
  }
  return static_cast<bool>(out.flush());
}

bool SameBytes(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::file_size(a, ec) != fs::file_size(b, ec) || ec) return false;
  std::ifstream in_a(a, std::ios::binary), in_b(b, std::ios::binary);
  std::vector<char> buf_a(1 << 20), buf_b(1 << 20);
  while (in_a && in_b) {
    in_a.read(buf_a.data(), static_cast<std::streamsize>(buf_a.size()));
    in_b.read(buf_b.data(), static_cast<std::streamsize>(buf_b.size()));
    if (in_a.gcount() != in_b.gcount() ||
        std::memcmp(buf_a.data(), buf_b.data(), static_cast<std::size_t>(in_a.gcount())) != 0) {
      return false;
    }
  }
  return true;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// ---- the two clients ----

enum class Op { kBigUp, kBigDown, kSmallUp, kSmallDown };
constexpr std::array<Op, 4> kOps = {Op::kBigUp, Op::kBigDown, Op::kSmallUp, Op::kSmallDown};

struct Client {
  std::string name;
  // argv for "copy SOURCE to DEST", recursive or not
  std::function<std::vector<std::string>(const std::string&, const std::string&, bool)> command;
  Env env;
  std::string tag;  // key prefix on the server
  std::map<Op, std::vector<ChildRun>> runs;
  bool failed = false;
};

}  // namespace

int RunStoreBench(const StoreBenchOptions& options) {
  const std::uint64_t big_size = options.big_mib << 20;
  const std::uint64_t small_size = options.small_kib << 10;
  const std::string part = std::to_string(options.part_mib);
  const std::string concurrency = std::to_string(options.concurrency);

  const fs::path script = options.swift_script.empty() ? SwiftServer::DefaultScript() : options.swift_script;
  if (!fs::exists(script)) {
    spdlog::error("cannot find the Swift start script '{}' (use --swift-script)", script.string());
    return 1;
  }

  // The AWS CLI: the Debian package first (what `make deps` installs), then PATH.
  std::string aws = options.aws;
  if (aws.empty()) aws = fs::exists("/usr/bin/aws") ? "/usr/bin/aws" : "aws";
  const std::optional<std::string> aws_version = FirstLine(ShellQuote(aws) + " --version");
  if (!aws_version) {
    std::printf("NOTE: the AWS CLI ('%s') cannot be run here, so only swapline's numbers are printed. "
                "Install it with `make deps` (Debian package awscli).\n", aws.c_str());
  }

  const fs::path work = options.work_dir.empty()
                            ? fs::temp_directory_path() / ("swapline-store-bench-" + std::to_string(::getpid()))
                            : options.work_dir;
  std::error_code ec;
  fs::remove_all(work, ec);
  fs::create_directories(work / "small", ec);
  fs::create_directories(work / "logs", ec);
  if (ec) {
    spdlog::error("cannot create the work folder '{}': {}", work.string(), ec.message());
    return 1;
  }
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } cleanup{work};

  std::printf("swapline-bench store: preparing %llu MiB and %d x %llu KiB of random data in %s\n",
              static_cast<unsigned long long>(options.big_mib), options.small_files,
              static_cast<unsigned long long>(options.small_kib), work.c_str());
  std::fflush(stdout);
  const fs::path big = work / "big.bin";
  bool data_ok = WriteRandomFile(big, big_size, 1);
  for (int i = 0; i < options.small_files && data_ok; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "f%05d.bin", i);
    data_ok = WriteRandomFile(work / "small" / name, small_size, 1000 + static_cast<std::uint64_t>(i));
  }
  if (!data_ok) {
    spdlog::error("cannot write the test data under '{}'", work.string());
    return 1;
  }

  const auto server_start = Clock::now();
  Result<std::unique_ptr<SwiftServer>> server = SwiftServer::Start(script);
  if (!server.ok()) {
    spdlog::error("{}", server.status().message());
    return 1;
  }
  const double server_start_s = std::chrono::duration<double>(Clock::now() - server_start).count();
  const std::string endpoint = (*server)->endpoint();

  storage::S3Options s3;
  s3.endpoint_url = endpoint;
  s3.credentials.access_key_id = SwiftServer::kAccessKey;
  s3.credentials.secret_access_key = SwiftServer::kSecretKey;
  Result<std::unique_ptr<storage::S3Store>> store = storage::S3Store::Open(kBucket, s3);
  if (!store.ok() || !(*store)->CreateBucket().ok()) {
    spdlog::error("cannot create the bucket {} on {}", kBucket, endpoint);
    return 1;
  }

  // The AWS CLI's settings, as `aws configure set default.s3.multipart_chunksize 8MB`
  // (and the others) would write them into this temporary AWS_CONFIG_FILE.
  const fs::path aws_config = work / "aws-config";
  std::ofstream(aws_config) << "[default]\nregion = us-east-1\ns3 =\n"
                            << "  multipart_threshold = " << part << "MB\n"
                            << "  multipart_chunksize = " << part << "MB\n"
                            << "  max_concurrent_requests = " << concurrency << "\n"
                            << "  addressing_style = path\n";

  std::vector<Client> clients;
  const std::string self = options.swapline;
  clients.push_back(Client{
      .name = "swapline",
      .command = [=](const std::string& from, const std::string& to, bool recursive) {
        std::vector<std::string> argv = {self, "--log-level", "warn", "store", "--endpoint-url", endpoint,
                                         "--no-progress", "--part-size", part + "MiB",
                                         "--multipart-threshold", part + "MiB", "--concurrency", concurrency,
                                         "cp", from, to};
        if (recursive) argv.push_back("--recursive");
        return argv;
      },
      .env = {{"AWS_ACCESS_KEY_ID", SwiftServer::kAccessKey}, {"AWS_SECRET_ACCESS_KEY", SwiftServer::kSecretKey},
              {"AWS_CONFIG_FILE", (work / "none").string()},
              {"AWS_SHARED_CREDENTIALS_FILE", (work / "none").string()}},
      .tag = "swapline",
      .runs = {}});
  if (aws_version) {
    clients.push_back(Client{
        .name = "aws CLI",
        .command = [=](const std::string& from, const std::string& to, bool recursive) {
          std::vector<std::string> argv = {aws, "s3", "cp", from, to, "--endpoint-url", endpoint,
                                           "--only-show-errors", "--no-progress"};
          if (recursive) argv.push_back("--recursive");
          return argv;
        },
        .env = {{"AWS_ACCESS_KEY_ID", SwiftServer::kAccessKey}, {"AWS_SECRET_ACCESS_KEY", SwiftServer::kSecretKey},
                {"AWS_DEFAULT_REGION", "us-east-1"}, {"AWS_CONFIG_FILE", aws_config.string()},
                {"AWS_SHARED_CREDENTIALS_FILE", (work / "none").string()},
                {"AWS_EC2_METADATA_DISABLED", "true"}, {"AWS_PAGER", ""}},
        .tag = "aws",
        .runs = {}});
  }

  std::printf("server: OpenStack Swift s3api on %s (started in %.1f s); part size %s MiB, %s requests "
              "in flight, %d run(s), the clients' order alternating\n",
              endpoint.c_str(), server_start_s, part.c_str(), concurrency.c_str(), options.runs);
  std::printf("clients: swapline %s; %s\n", self.c_str(),
              aws_version ? aws_version->c_str() : "aws CLI: not available");
  std::fflush(stdout);

  std::vector<double> copy_s;
  bool all_ok = true;
  const std::string bucket_uri = std::string("s3://") + kBucket + "/";
  for (int run = 0; run < options.runs; ++run) {
    std::vector<Client*> order;
    for (Client& client : clients) order.push_back(&client);
    if (run % 2 == 1) std::reverse(order.begin(), order.end());
    const std::string r = std::to_string(run);
    for (const Op op : kOps) {
      for (Client* client : order) {
        if (client->failed) continue;
        const std::string big_key = bucket_uri + client->tag + "/big-" + r + ".bin";
        const std::string small_prefix = bucket_uri + client->tag + "/small-" + r + "/";
        const fs::path big_back = work / (client->tag + "-big.bin");
        const fs::path small_back = work / (client->tag + "-small");
        std::vector<std::string> argv;
        switch (op) {
          case Op::kBigUp: argv = client->command(big.string(), big_key, false); break;
          case Op::kBigDown: argv = client->command(big_key, big_back.string(), false); break;
          case Op::kSmallUp: argv = client->command((work / "small").string(), small_prefix, true); break;
          case Op::kSmallDown: argv = client->command(small_prefix, small_back.string() + "/", true); break;
        }
        const ChildRun result = RunChild(argv, client->env, work / "logs" / (client->tag + ".log"));
        bool ok = result.ok;
        if (ok && op == Op::kBigDown) {
          ok = SameBytes(big, big_back);
          if (!ok) std::fprintf(stderr, "%s: the downloaded big file differs from its source\n", client->name.c_str());
          fs::remove(big_back, ec);
          // The server keeps what it does not need any more: drop the big object.
          (void)(*store)->Delete(client->tag + "/big-" + r + ".bin");
        }
        if (ok && op == Op::kSmallDown) {
          for (int i = 0; i < options.small_files && ok; ++i) {
            char name[32];
            std::snprintf(name, sizeof(name), "f%05d.bin", i);
            ok = SameBytes(work / "small" / name, small_back / name);
          }
          if (!ok) std::fprintf(stderr, "%s: the downloaded small files differ from their sources\n", client->name.c_str());
          fs::remove_all(small_back, ec);
        }
        if (!ok) {
          client->failed = true;
          all_ok = false;
          continue;
        }
        client->runs[op].push_back(result);
      }
    }
    const auto copy_start = Clock::now();
    fs::copy_file(big, work / "copy.bin", fs::copy_options::overwrite_existing, ec);
    copy_s.push_back(std::chrono::duration<double>(Clock::now() - copy_start).count());
    fs::remove(work / "copy.bin", ec);
    std::printf("run %d/%d done\n", run + 1, options.runs);
    std::fflush(stdout);
  }

  // ---- the table ----
  const auto rate = [&](Op op, double seconds) {
    if (seconds <= 0) return 0.0;
    return op == Op::kBigUp || op == Op::kBigDown ? static_cast<double>(big_size) / kMiB / seconds
                                                  : options.small_files / seconds;
  };
  const auto label = [&](Op op) {
    char text[64];
    switch (op) {
      case Op::kBigUp: std::snprintf(text, sizeof(text), "%llu MiB upload", static_cast<unsigned long long>(options.big_mib)); break;
      case Op::kBigDown: std::snprintf(text, sizeof(text), "%llu MiB download", static_cast<unsigned long long>(options.big_mib)); break;
      case Op::kSmallUp: std::snprintf(text, sizeof(text), "%d x %llu KiB upload", options.small_files, static_cast<unsigned long long>(options.small_kib)); break;
      case Op::kSmallDown: std::snprintf(text, sizeof(text), "%d x %llu KiB download", options.small_files, static_cast<unsigned long long>(options.small_kib)); break;
    }
    return std::string(text);
  };
  const bool have_aws = clients.size() > 1;
  std::printf("\nmedians of %d run(s); wall time includes each client's process start\n", options.runs);
  std::printf("%-24s %-7s %12s %12s %8s   %10s %10s %8s\n", "", "unit", "swapline", have_aws ? "aws CLI" : "-",
              "ratio", "cpu s sw", have_aws ? "cpu s aws" : "-", "cpu ratio");
  for (const Op op : kOps) {
    const bool big_op = op == Op::kBigUp || op == Op::kBigDown;
    std::vector<double> wall[2], cpu[2];
    for (std::size_t c = 0; c < clients.size(); ++c) {
      for (const ChildRun& run : clients[c].runs[op]) {
        wall[c].push_back(run.wall_s);
        cpu[c].push_back(run.cpu_s);
      }
    }
    const auto cell = [](const std::vector<double>& values, double number, const char* format) {
      char text[32];
      if (values.empty()) return std::string("failed");
      std::snprintf(text, sizeof(text), format, number);
      return std::string(text);
    };
    const double sw_rate = rate(op, Median(wall[0])), aws_rate = have_aws ? rate(op, Median(wall[1])) : 0;
    const double sw_cpu = Median(cpu[0]), aws_cpu = have_aws ? Median(cpu[1]) : 0;
    const bool both = have_aws && !wall[0].empty() && !wall[1].empty();
    std::printf("%-24s %-7s %12s %12s %8s   %10s %10s %8s\n", label(op).c_str(), big_op ? "MiB/s" : "files/s",
                cell(wall[0], sw_rate, "%.1f").c_str(), have_aws ? cell(wall[1], aws_rate, "%.1f").c_str() : "-",
                both ? cell(wall[0], sw_rate / aws_rate, "%.2fx").c_str() : "-",
                cell(cpu[0], sw_cpu, "%.2f").c_str(), have_aws ? cell(cpu[1], aws_cpu, "%.2f").c_str() : "-",
                both && aws_cpu > 0 ? cell(cpu[0], sw_cpu / aws_cpu, "%.2fx").c_str() : "-");
  }
  const double copy_median = Median(copy_s);
  std::printf("%-24s %-7s %12.1f   (local copy of the big file: the ceiling)\n", "local disk copy", "MiB/s",
              copy_median > 0 ? static_cast<double>(big_size) / kMiB / copy_median : 0.0);
  if (!have_aws) {
    std::printf("NOTE: no aws CLI numbers: the AWS CLI could not be run (install the Debian package awscli: make deps)\n");
  } else {
    std::printf("goals: big file >= 1.2x the aws CLI, small files >= 2x, client CPU <= 0.2x the aws CLI's\n");
  }
  if (!all_ok) {
    std::printf("some transfers failed or returned different bytes (see above)\n");
    return 1;
  }
  return 0;
}

}  // namespace swapline::bench
