// `swapline store ls|cp|rm|stat|presign|lifecycle|abort-incomplete`: the object
// storage tool, on the same storage/ client the workers use.
//
// Entry point: void swapline::cli::RegisterStoreCommand(CLI::App& app, int& exit_code)
// (declared with the other Register* functions in cli/commands.h).
//
// Exit codes (cli/exit_codes.h, plus two storage classes): 0 ok, 2 bad usage,
// 3 not found (kExitBadInput), 7 access denied, 8 network or server unavailable
// (after retries), 5 local output not writable, 1 anything else.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"
#include "storage/lifecycle.h"
#include "storage/open_store.h"

namespace swapline::cli {
namespace {

namespace fs = std::filesystem;
using storage::ObjectInfo;
using storage::ObjectStore;
using storage::StorageUri;

int StoreExitCode(const Status& status) {
  switch (status.code()) {
    case Code::kPermissionDenied: return kExitAccessDenied;
    case Code::kUnavailable:
    case Code::kThrottled: return kExitUnavailable;
    default: return ExitCodeFor(status);
  }
}

struct StoreArgs {
  std::string endpoint_url;
  std::string region;
  std::string profile;
  std::string addressing = "auto";
  bool no_verify_ssl = false;
  std::string ca_bundle;
  double connect_timeout_s = 10;
  double read_timeout_s = 60;
  std::string part_size = "8MiB";
  std::string multipart_threshold = "8MiB";
  int concurrency = 10;
  int max_attempts = 5;
  std::vector<std::string> resolve;
  bool no_progress = false;
};

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// "8MiB", "5M", "1048576" → bytes.
Result<std::uint64_t> ParseSize(const std::string& text) {
  std::size_t used = 0;
  double number = 0;
  try {
    number = std::stod(text, &used);
  } catch (const std::exception&) {
    return InvalidArgument("'" + text + "' is not a size (e.g. 8MiB)");
  }
  std::string unit = text.substr(used);
  if (!unit.empty() && unit.back() == 'B') unit.pop_back();
  if (!unit.empty() && unit.back() == 'i') unit.pop_back();
  const std::uint64_t scale = unit.empty() ? 1 : unit == "K" || unit == "k" ? 1ull << 10
                              : unit == "M" ? 1ull << 20 : unit == "G" ? 1ull << 30 : 0;
  if (scale == 0 || number < 0) return InvalidArgument("'" + text + "' is not a size (e.g. 8MiB)");
  return static_cast<std::uint64_t>(number * static_cast<double>(scale));
}

// "90s", "30m", "24h", "7d" → seconds.
Result<std::chrono::seconds> ParseDuration(const std::string& text) {
  if (text.empty()) return InvalidArgument("empty duration");
  const char unit = text.back();
  const std::int64_t scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
  try {
    if (scale == 0) return std::chrono::seconds(std::stoll(text));
    return std::chrono::seconds(std::stoll(text.substr(0, text.size() - 1)) * scale);
  } catch (const std::exception&) {
    return InvalidArgument("'" + text + "' is not a duration (e.g. 24h, 7d)");
  }
}

Result<storage::S3Options> MakeS3Options(const StoreArgs& args) {
  storage::S3Options options;
  options.endpoint_url = args.endpoint_url.empty() ? EnvOr("AWS_ENDPOINT_URL", "") : args.endpoint_url;
  options.region = !args.region.empty() ? args.region
                                        : EnvOr("AWS_REGION", EnvOr("AWS_DEFAULT_REGION", "us-east-1"));
  options.credentials.profile = args.profile;
  options.addressing = args.addressing == "path"      ? storage::S3Options::Addressing::kPath
                       : args.addressing == "virtual" ? storage::S3Options::Addressing::kVirtualHosted
                                                      : storage::S3Options::Addressing::kAuto;
  options.http.verify_tls = !args.no_verify_ssl;
  options.http.ca_bundle = args.ca_bundle;
  options.http.connect_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(args.connect_timeout_s * 1000));
  options.http.read_timeout = std::chrono::seconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(args.read_timeout_s)));
  options.http.resolve = args.resolve;
  SWAPLINE_ASSIGN_OR_RETURN(options.part_size, ParseSize(args.part_size));
  SWAPLINE_ASSIGN_OR_RETURN(options.multipart_threshold, ParseSize(args.multipart_threshold));
  options.concurrency = args.concurrency;
  options.max_attempts = args.max_attempts;
  return options;
}

// Prints "\r<done> / <total>  <rate>/s  ETA <s>" on stderr when it is a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}
  ~ProgressBar() {
    if (drawn_) std::fputc('\n', stderr);
  }
  storage::ProgressCallback Callback() {
    if (!enabled_) return {};
    return [this](std::uint64_t done, std::uint64_t total) { Draw(done, total); };
  }

 private:
  void Draw(std::uint64_t done, std::uint64_t total) {
    std::lock_guard lock(mutex_);  // many files may report at once (cp --recursive)
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(200) && done != total) return;
    last_draw_ = now;
    drawn_ = true;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    constexpr double kMiB = 1 << 20;
    if (total > 0) {
      const double eta = rate > 0 ? static_cast<double>(total - std::min(done, total)) / rate : 0;
      std::fprintf(stderr, "\r%9.1f / %.1f MiB  %7.1f MiB/s  ETA %4.0fs ", static_cast<double>(done) / kMiB,
                   static_cast<double>(total) / kMiB, rate / kMiB, eta);
    } else {
      std::fprintf(stderr, "\r%9.1f MiB  %7.1f MiB/s ", static_cast<double>(done) / kMiB, rate / kMiB);
    }
    std::fflush(stderr);
  }

  const bool enabled_;
  std::mutex mutex_;
  bool drawn_ = false;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

class StoreTool {
 public:
  explicit StoreTool(const StoreArgs& args) : args_(args) {}

  Result<std::unique_ptr<ObjectStore>> Open(const StorageUri& uri) {
    SWAPLINE_ASSIGN_OR_RETURN(storage::S3Options options, MakeS3Options(args_));
    return storage::OpenObjectStore(uri, options);
  }

  Result<std::unique_ptr<storage::S3Store>> OpenS3(const std::string& bucket) {
    SWAPLINE_ASSIGN_OR_RETURN(storage::S3Options options, MakeS3Options(args_));
    return storage::S3Store::Open(bucket, options);
  }

  Status Ls(const std::string& target, bool recursive) {
    SWAPLINE_ASSIGN_OR_RETURN(StorageUri uri, S3Uri(target));
    SWAPLINE_ASSIGN_OR_RETURN(auto store, Open(uri));
    storage::ListOptions options;
    options.prefix = uri.key;
    if (!recursive) options.delimiter = "/";
    do {
      SWAPLINE_ASSIGN_OR_RETURN(storage::ListPage page, store->List(options));
      for (const std::string& prefix : page.common_prefixes) std::printf("%30s PRE %s\n", "", prefix.c_str());
      for (const ObjectInfo& info : page.objects) {
        const std::time_t t = std::chrono::system_clock::to_time_t(info.last_modified);
        std::tm tm{};
        gmtime_r(&t, &tm);
        char when[32];
        std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        std::printf("%s %14llu %s\n", when, static_cast<unsigned long long>(info.size), info.key.c_str());
      }
      options.continuation_token = page.next_continuation_token;
    } while (!options.continuation_token.empty());
    return Status::Ok();
  }

  Status Cp(const std::string& source_text, const std::string& dest_text, bool recursive,
            const storage::PutOptions& put) {
    SWAPLINE_ASSIGN_OR_RETURN(StorageUri source, storage::ParseStorageUri(source_text));
    SWAPLINE_ASSIGN_OR_RETURN(StorageUri dest, storage::ParseStorageUri(dest_text));
    if (!source.is_s3() && !dest.is_s3()) {
      return InvalidArgument("one side of 'store cp' must be an s3:// URI");
    }
    if (recursive) return CpRecursive(source, dest, put);
    return CpOne(source, dest, put);
  }

  Status Rm(const std::string& target, bool recursive) {
    SWAPLINE_ASSIGN_OR_RETURN(StorageUri uri, S3Uri(target));
    SWAPLINE_ASSIGN_OR_RETURN(auto store, Open(uri));
    if (!recursive) {
      SWAPLINE_RETURN_IF_ERROR(store->Delete(uri.key));
      std::printf("delete: %s\n", uri.ToString().c_str());
      return Status::Ok();
    }
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, storage::ListAll(*store, uri.key));
    for (const ObjectInfo& info : objects) {
      SWAPLINE_RETURN_IF_ERROR(store->Delete(info.key));
      std::printf("delete: s3://%s/%s\n", uri.bucket.c_str(), info.key.c_str());
    }
    return Status::Ok();
  }

  Status Stat(const std::string& target) {
    SWAPLINE_ASSIGN_OR_RETURN(StorageUri uri, S3Uri(target));
    SWAPLINE_ASSIGN_OR_RETURN(auto store, Open(uri));
    SWAPLINE_ASSIGN_OR_RETURN(ObjectInfo info, store->Stat(uri.key));
    const nlohmann::json json = {
        {"key", info.key},
        {"size", info.size},
        {"etag", info.etag},
        {"content_type", info.content_type},
        {"last_modified", std::chrono::system_clock::to_time_t(info.last_modified)},
        {"metadata", info.metadata}};
    std::printf("%s\n", json.dump(2).c_str());
    return Status::Ok();
  }

  Status Presign(const std::string& target, const std::string& method, std::int64_t expires_in) {
    SWAPLINE_ASSIGN_OR_RETURN(StorageUri uri, S3Uri(target));
    SWAPLINE_ASSIGN_OR_RETURN(auto store, Open(uri));
    SWAPLINE_ASSIGN_OR_RETURN(
        std::string url,
        store->Presign(uri.key, method == "PUT" ? storage::PresignMethod::kPut : storage::PresignMethod::kGet,
                       std::chrono::seconds(expires_in)));
    std::printf("%s\n", url.c_str());
    return Status::Ok();
  }

  Status Lifecycle(const std::string& action, const std::string& bucket_text, const std::string& file) {
    SWAPLINE_ASSIGN_OR_RETURN(StorageUri uri, S3Uri(bucket_text.starts_with("s3://") ? bucket_text : "s3://" + bucket_text));
    SWAPLINE_ASSIGN_OR_RETURN(auto store, OpenS3(uri.bucket));
    if (action == "get") {
      SWAPLINE_ASSIGN_OR_RETURN(std::string xml, store->GetLifecycle());
      std::printf("%s\n", xml.c_str());
      return Status::Ok();
    }
    std::ifstream in(file);
    if (!in) return NotFound("cannot read the lifecycle file '" + file + "'");
    std::stringstream json;
    json << in.rdbuf();
    SWAPLINE_ASSIGN_OR_RETURN(std::string xml, storage::LifecycleJsonToXml(json.str()));
    SWAPLINE_RETURN_IF_ERROR(store->PutLifecycle(xml));
    std::printf("lifecycle of s3://%s set from %s\n", uri.bucket.c_str(), file.c_str());
    return Status::Ok();
  }

  Status AbortIncomplete(const std::string& target, const std::string& older_than) {
    SWAPLINE_ASSIGN_OR_RETURN(StorageUri uri, S3Uri(target));
    SWAPLINE_ASSIGN_OR_RETURN(std::chrono::seconds age, ParseDuration(older_than));
    SWAPLINE_ASSIGN_OR_RETURN(auto store, OpenS3(uri.bucket));
    SWAPLINE_ASSIGN_OR_RETURN(int aborted, store->AbortIncompleteUploads(uri.key, age));
    std::printf("aborted %d incomplete upload(s) older than %s\n", aborted, older_than.c_str());
    return Status::Ok();
  }

 private:
  static Result<StorageUri> S3Uri(const std::string& text) {
    SWAPLINE_ASSIGN_OR_RETURN(StorageUri uri, storage::ParseStorageUri(text));
    if (!uri.is_s3()) return InvalidArgument("expected an s3://bucket/key URI, got '" + text + "'");
    return uri;
  }

  static std::string BaseName(const std::string& key) {
    const std::size_t slash = key.rfind('/');
    return slash == std::string::npos ? key : key.substr(slash + 1);
  }

  // Fills in the name a copy ends up with: "s3://b/dir/" or an existing folder
  // keeps the source's file name.
  static void ResolveDest(const StorageUri& source, StorageUri& dest) {
    if (!source.is_s3()) {
      if (dest.key.empty() || dest.key.ends_with('/')) dest.key += source.local_path.filename().string();
    } else if (!dest.is_s3()) {
      std::error_code ec;
      if (fs::is_directory(dest.local_path, ec) || NamesFolder(dest.local_path)) {
        dest.local_path /= BaseName(source.key);
      }
    } else if (dest.key.empty() || dest.key.ends_with('/')) {
      dest.key += BaseName(source.key);
    }
  }

  // The store a copy runs on: the S3 side (the destination bucket for s3→s3).
  Result<std::unique_ptr<ObjectStore>> OpenFor(const StorageUri& source, const StorageUri& dest) {
    return Open(dest.is_s3() ? dest : source);
  }

  // One copy on `store` (from OpenFor); prints what it did.
  // `known`: the source object's size and ETag from a listing (saves a HEAD).
  static Status CpOn(ObjectStore& store, const StorageUri& source, const StorageUri& dest,
                     const storage::PutOptions& put_options, const storage::ProgressCallback& progress,
                     const std::optional<ObjectInfo>& known = std::nullopt) {
    if (!source.is_s3()) {
      storage::PutOptions put = put_options;
      put.progress = progress;
      SWAPLINE_RETURN_IF_ERROR(store.PutFile(dest.key, source.local_path, put).status());
      std::printf("upload: %s to %s\n", source.local_path.c_str(), dest.ToString().c_str());
    } else if (!dest.is_s3()) {
      storage::GetOptions get;
      get.progress = progress;
      get.known = known;
      SWAPLINE_RETURN_IF_ERROR(store.GetToFile(source.key, dest.local_path, get).status());
      std::printf("download: %s to %s\n", source.ToString().c_str(), dest.local_path.c_str());
    } else {
      auto* s3 = dynamic_cast<storage::S3Store*>(&store);
      if (s3 == nullptr) return InvalidArgument("server-side copy needs an s3:// destination");
      SWAPLINE_RETURN_IF_ERROR(s3->CopyFrom(source.bucket, source.key, dest.key));
      std::printf("copy: %s to %s\n", source.ToString().c_str(), dest.ToString().c_str());
    }
    return Status::Ok();
  }

  Status CpOne(const StorageUri& source, StorageUri dest, const storage::PutOptions& put_options) {
    ProgressBar bar(!args_.no_progress);
    ResolveDest(source, dest);
    SWAPLINE_ASSIGN_OR_RETURN(auto store, OpenFor(source, dest));
    return CpOn(*store, source, dest, put_options, bar.Callback());
  }

  static bool NamesFolder(const fs::path& path) { return !path.has_filename(); }

  // Every file under a folder, or every object under a prefix, on one store (one
  // connection pool), with up to --concurrency files in flight (as the AWS CLI).
  // After the first failure no new file starts; that failure is returned.
  Status CpRecursive(const StorageUri& source, const StorageUri& dest, const storage::PutOptions& put) {
    const auto join = [](const std::string& prefix, const std::string& rest) {
      return prefix.empty() || prefix.ends_with('/') ? prefix + rest : prefix + "/" + rest;
    };
    struct Job {
      StorageUri source, dest;
      std::uint64_t size = 0;
      std::optional<ObjectInfo> listed;  // S3 sources: from the listing
    };
    std::vector<Job> jobs;
    SWAPLINE_ASSIGN_OR_RETURN(auto store, OpenFor(source, dest));
    if (!source.is_s3()) {
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(source.local_path, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file()) continue;
        Job job{.source = {}, .dest = dest, .size = 0, .listed = std::nullopt};
        job.source.local_path = it->path();
        job.dest.key = join(dest.key, it->path().lexically_relative(source.local_path).generic_string());
        job.size = it->file_size(ec);
        jobs.push_back(std::move(job));
      }
      if (ec) return ErrnoStatus(ec.value(), "cannot walk", source.local_path.string());
    } else {
      std::unique_ptr<ObjectStore> listing;
      if (dest.is_s3()) {
        SWAPLINE_ASSIGN_OR_RETURN(listing, Open(source));  // the source bucket
      }
      SWAPLINE_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects,
                                storage::ListAll(listing ? *listing : *store, source.key));
      for (const ObjectInfo& info : objects) {
        const std::string relative = info.key.substr(source.key.size());
        if (relative.empty() || relative.ends_with('/')) continue;  // "folder" markers
        Job job{.source = source, .dest = dest, .size = info.size, .listed = info};
        job.source.key = info.key;
        if (dest.is_s3()) {
          job.dest.key = join(dest.key, relative);
        } else {
          job.dest.local_path = dest.local_path / relative;
          std::error_code ec;
          fs::create_directories(job.dest.local_path.parent_path(), ec);
        }
        jobs.push_back(std::move(job));
      }
    }

    ProgressBar bar(!args_.no_progress);
    const storage::ProgressCallback overall = bar.Callback();
    std::uint64_t total = 0;
    for (const Job& job : jobs) total += job.size;
    std::atomic<std::uint64_t> done_bytes{0};
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mutex;
    Status first_error;
    auto work = [&] {
      for (std::size_t i = next++; i < jobs.size() && !failed; i = next++) {
        storage::ProgressCallback progress;
        std::uint64_t reported = 0;  // this file's bytes already added to done_bytes
        if (overall) {
          progress = [&](std::uint64_t done, std::uint64_t) {
            const std::uint64_t now = done_bytes += done - std::min(done, reported);
            reported = std::max(reported, done);
            overall(now, total);
          };
        }
        const Status status = CpOn(*store, jobs[i].source, jobs[i].dest, put, progress, jobs[i].listed);
        if (!status.ok()) {
          std::lock_guard lock(mutex);
          if (!failed.exchange(true)) first_error = status;
        }
      }
    };
    const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, args_.concurrency)), jobs.size());
    std::vector<std::thread> threads;
    for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(work);
    if (workers > 0) work();
    for (std::thread& thread : threads) thread.join();
    return first_error;
  }

  const StoreArgs& args_;
};

}  // namespace

void RegisterStoreCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<StoreArgs>();
  CLI::App* store = app.add_subcommand("store", "object storage: ls, cp, rm, stat, presign, lifecycle, abort-incomplete");
  store->require_subcommand(1);
  store->fallthrough();
  store->add_option("--endpoint-url", args->endpoint_url, "S3 endpoint for non-AWS servers (default: AWS_ENDPOINT_URL)");
  store->add_option("--region", args->region, "S3 region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)");
  store->add_option("--profile", args->profile, "profile in ~/.aws/credentials and ~/.aws/config");
  store->add_option("--addressing-style", args->addressing, "auto, path or virtual")
      ->check(CLI::IsMember({"auto", "path", "virtual"}))->capture_default_str();
  store->add_flag("--no-verify-ssl", args->no_verify_ssl, "do not verify TLS certificates");
  store->add_option("--ca-bundle", args->ca_bundle, "PEM file of CA certificates to trust");
  store->add_option("--connect-timeout", args->connect_timeout_s, "seconds to establish a connection")->capture_default_str();
  store->add_option("--read-timeout", args->read_timeout_s, "seconds without a byte moving before a request fails")->capture_default_str();
  store->add_option("--part-size", args->part_size, "multipart part size (min 5MiB)")->capture_default_str();
  store->add_option("--multipart-threshold", args->multipart_threshold, "multipart above this size")->capture_default_str();
  store->add_option("--concurrency", args->concurrency, "parallel requests per transfer")->check(CLI::Range(1, 256))->capture_default_str();
  store->add_option("--max-attempts", args->max_attempts, "attempts per request, with backoff")->check(CLI::Range(1, 20))->capture_default_str();
  store->add_option("--resolve", args->resolve, "HOST:PORT:ADDRESS, pin a name to an address (as curl --resolve)");
  store->add_flag("--no-progress", args->no_progress, "no progress bar");

  auto run = [args, &exit_code](const std::function<Status(StoreTool&)>& action) {
    StoreTool tool(*args);
    const Status status = action(tool);
    if (!status.ok()) {
      spdlog::error("{}", status.message());
      exit_code = StoreExitCode(status);
    }
  };

  auto ls = std::make_shared<std::pair<std::string, bool>>();
  CLI::App* ls_cmd = store->add_subcommand("ls", "list objects under s3://bucket/prefix");
  ls_cmd->add_option("uri", ls->first, "s3://bucket[/prefix]")->required();
  ls_cmd->add_flag("-r,--recursive", ls->second, "list every key, not one level");
  ls_cmd->callback([run, ls] { run([&](StoreTool& t) { return t.Ls(ls->first, ls->second); }); });

  struct CpArgs {
    std::string source, dest, content_type, sse, sse_kms_key_id;
    std::vector<std::string> metadata;
    bool recursive = false;
  };
  auto cp = std::make_shared<CpArgs>();
  CLI::App* cp_cmd = store->add_subcommand("cp", "copy local→s3, s3→local or s3→s3 (server-side)");
  cp_cmd->add_option("source", cp->source, "local path or s3://bucket/key")->required();
  cp_cmd->add_option("dest", cp->dest, "local path or s3://bucket/key (a trailing / keeps the name)")->required();
  cp_cmd->add_flag("-r,--recursive", cp->recursive, "copy a folder or a whole prefix");
  cp_cmd->add_option("--content-type", cp->content_type, "Content-Type (default: from the extension)");
  cp_cmd->add_option("--sse", cp->sse, "server-side encryption: AES256 or aws:kms")
      ->check(CLI::IsMember({"AES256", "aws:kms"}));
  cp_cmd->add_option("--sse-kms-key-id", cp->sse_kms_key_id, "KMS key for --sse aws:kms");
  cp_cmd->add_option("--metadata", cp->metadata, "user metadata KEY=VALUE (repeatable)");
  cp_cmd->callback([run, cp] {
    run([&](StoreTool& t) -> Status {
      storage::PutOptions put;
      put.content_type = cp->content_type;
      put.sse = cp->sse;
      put.sse_kms_key_id = cp->sse_kms_key_id;
      for (const std::string& pair : cp->metadata) {
        const std::size_t eq = pair.find('=');
        if (eq == std::string::npos) return InvalidArgument("--metadata wants KEY=VALUE, got '" + pair + "'");
        put.metadata[pair.substr(0, eq)] = pair.substr(eq + 1);
      }
      return t.Cp(cp->source, cp->dest, cp->recursive, put);
    });
  });

  auto rm = std::make_shared<std::pair<std::string, bool>>();
  CLI::App* rm_cmd = store->add_subcommand("rm", "delete an object, or a prefix with --recursive");
  rm_cmd->add_option("uri", rm->first, "s3://bucket/key")->required();
  rm_cmd->add_flag("-r,--recursive", rm->second, "delete every object under the prefix");
  rm_cmd->callback([run, rm] { run([&](StoreTool& t) { return t.Rm(rm->first, rm->second); }); });

  auto stat = std::make_shared<std::string>();
  CLI::App* stat_cmd = store->add_subcommand("stat", "print an object's size, ETag, type and metadata as JSON");
  stat_cmd->add_option("uri", *stat, "s3://bucket/key")->required();
  stat_cmd->callback([run, stat] { run([&](StoreTool& t) { return t.Stat(*stat); }); });

  struct PresignArgs {
    std::string uri, method = "GET";
    std::int64_t expires_in = 3600;
  };
  auto presign = std::make_shared<PresignArgs>();
  CLI::App* presign_cmd = store->add_subcommand("presign", "print a presigned URL for GET or PUT");
  presign_cmd->add_option("uri", presign->uri, "s3://bucket/key")->required();
  presign_cmd->add_option("--method", presign->method, "GET or PUT")->check(CLI::IsMember({"GET", "PUT"}))->capture_default_str();
  presign_cmd->add_option("--expires-in", presign->expires_in, "seconds, up to 604800 (7 days)")
      ->check(CLI::Range(1, 604800))->capture_default_str();
  presign_cmd->callback([run, presign] {
    run([&](StoreTool& t) { return t.Presign(presign->uri, presign->method, presign->expires_in); });
  });

  struct LifecycleArgs {
    std::string action, bucket, file = "deploy/lifecycle.json";
  };
  auto lifecycle = std::make_shared<LifecycleArgs>();
  CLI::App* lifecycle_cmd = store->add_subcommand("lifecycle", "put or get a bucket's lifecycle rules");
  lifecycle_cmd->add_option("action", lifecycle->action, "put or get")->required()->check(CLI::IsMember({"put", "get"}));
  lifecycle_cmd->add_option("bucket", lifecycle->bucket, "bucket or s3://bucket")->required();
  lifecycle_cmd->add_option("--file", lifecycle->file, "rules as JSON (AWS CLI form)")->capture_default_str();
  lifecycle_cmd->callback([run, lifecycle] {
    run([&](StoreTool& t) { return t.Lifecycle(lifecycle->action, lifecycle->bucket, lifecycle->file); });
  });

  auto abort = std::make_shared<std::pair<std::string, std::string>>("", "24h");
  CLI::App* abort_cmd = store->add_subcommand("abort-incomplete", "abort multipart uploads left unfinished");
  abort_cmd->add_option("uri", abort->first, "s3://bucket[/prefix]")->required();
  abort_cmd->add_option("--older-than", abort->second, "age, e.g. 90s, 30m, 24h, 7d")->capture_default_str();
  abort_cmd->callback([run, abort] { run([&](StoreTool& t) { return t.AbortIncomplete(abort->first, abort->second); }); });
}

}  // namespace swapline::cli
