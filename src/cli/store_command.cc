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
#include "cli/s3_flags.h"
#include "core/duration.h"
#include "core/time_text.h"
#include "storage/lifecycle.h"
#include "storage/object_copy.h"
#include "storage/open_store.h"
#include "storage/s3_settings.h"

namespace swapline::cli {
namespace {

namespace fs = std::filesystem;
using storage::ObjectInfo;
using storage::ObjectStore;
using storage::StorageUri;

struct StoreArgs {
  storage::S3Settings s3;
  bool no_progress = false;
};

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
    SWAPLINE_ASSIGN_OR_RETURN(storage::S3Options options, storage::MakeS3Options(args_.s3));
    return storage::OpenObjectStore(uri, options);
  }

  Result<std::unique_ptr<storage::S3Store>> OpenS3(const std::string& bucket) {
    SWAPLINE_ASSIGN_OR_RETURN(storage::S3Options options, storage::MakeS3Options(args_.s3));
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
        const std::string when = FormatUtc(info.last_modified, "%Y-%m-%d %H:%M:%S");
        std::printf("%s %14llu %s\n", when.c_str(), static_cast<unsigned long long>(info.size), info.key.c_str());
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
    SWAPLINE_ASSIGN_OR_RETURN(storage::S3Options s3, storage::MakeS3Options(args_.s3));
    ProgressBar bar(!args_.no_progress);
    storage::CopyOptions options;
    options.put = put;
    options.recursive = recursive;
    options.concurrency = args_.s3.concurrency;
    options.progress = bar.Callback();
    options.on_copied = [](const storage::CopyReport& copied) {
      std::printf("%.*s: %s to %s\n", static_cast<int>(copied.action.size()), copied.action.data(),
                  copied.source.c_str(), copied.dest.c_str());
    };
    return storage::CopyObjects(source, std::move(dest), s3, options);
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
    SWAPLINE_ASSIGN_OR_RETURN(std::chrono::milliseconds age, ParseDuration(older_than));
    SWAPLINE_ASSIGN_OR_RETURN(auto store, OpenS3(uri.bucket));
    SWAPLINE_ASSIGN_OR_RETURN(
        int aborted, store->AbortIncompleteUploads(uri.key, std::chrono::duration_cast<std::chrono::seconds>(age)));
    std::printf("aborted %d incomplete upload(s) older than %s\n", aborted, older_than.c_str());
    return Status::Ok();
  }

 private:
  static Result<StorageUri> S3Uri(const std::string& text) {
    SWAPLINE_ASSIGN_OR_RETURN(StorageUri uri, storage::ParseStorageUri(text));
    if (!uri.is_s3()) return InvalidArgument("expected an s3://bucket/key URI, got '" + text + "'");
    return uri;
  }

  const StoreArgs& args_;
};

}  // namespace

void RegisterStoreCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<StoreArgs>();
  CLI::App* store = app.add_subcommand("store", "object storage: ls, cp, rm, stat, presign, lifecycle, abort-incomplete");
  store->require_subcommand(1);
  store->fallthrough();
  AddS3Flags(store, args->s3, "");
  store->add_option("--concurrency", args->s3.concurrency, "parallel requests per transfer")->check(CLI::Range(1, 256))->capture_default_str();
  store->add_flag("--no-progress", args->no_progress, "no progress bar");

  auto run = [args, &exit_code](const std::function<Status(StoreTool&)>& action) {
    StoreTool tool(*args);
    const Status status = action(tool);
    if (!status.ok()) exit_code = RemoteFail(status);
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
