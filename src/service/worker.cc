#include "service/worker.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <map>

#include "core/cancellation.h"
#include "core/logging.h"
#include "media/video.h"
#include "pipeline/image_job.h"
#include "pipeline/swap_options.h"
#include "pipeline/video_job.h"
#include "service/tenancy.h"

namespace swapline::service {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kJobIdMetadata = "swapline-job-id";

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

std::string DefaultWorkerName() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "worker");
  return std::string(host) + "-" + std::to_string(::getpid());
}

std::string Extension(const std::string& key) {
  const std::string ext = fs::path(key).extension().string();
  return ext.empty() ? ".bin" : ext;
}

// Removes scratch folders "job-…" no running job holds (see Process): those of a
// worker killed with SIGKILL. The lock, not the name's PID, tells: a worker restarted
// in its container has the dead one's PID, and containers sharing a volume see each
// other's PIDs as their own.
void SweepStaleScratch(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("job-", 0) != 0) continue;
    const int fd = ::open(entry.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      std::error_code remove_ec;
      fs::remove_all(entry.path(), remove_ec);
      if (!remove_ec) spdlog::info("removed stale scratch folder {} of a dead worker", entry.path().string());
    }
    ::close(fd);
  }
}

}  // namespace

void DeclareWorkerMetrics(MetricsRegistry& m) {
  using T = MetricsRegistry::Type;
  m.Declare("swapline_worker_jobs_total", T::kCounter,
            "job attempts finished by workers, by outcome (succeeded, failed, retried, cancelled, released, lost)");
  m.Declare("swapline_job_duration_seconds", T::kHistogram, "claim to acknowledgement of succeeded jobs, by kind",
            JobDurationBuckets());
  m.Declare("swapline_worker_bytes_total", T::kCounter, "object bytes downloaded (in) and uploaded (out) by workers");
  m.Declare("swapline_worker_retries_total", T::kCounter, "retryable job failures (the job is queued again)");
  m.Declare("swapline_worker_busy_slots", T::kGauge, "worker slots running a job");
  m.Declare("swapline_worker_leases_lost_total", T::kCounter, "jobs dropped because their lease was taken over");
  m.Declare("swapline_worker_results_reused_total", T::kCounter,
            "jobs completed from a result an earlier attempt had already uploaded");
}

bool IsRetryable(const Status& status) {
  switch (status.code()) {
    case Code::kUnavailable:
    case Code::kThrottled:
    case Code::kIOError:
    case Code::kOutputNotWritable:  // local scratch
    case Code::kInternal:
    case Code::kCancelled:
      return true;
    default:
      return false;
  }
}

struct Worker::EngineCache {
  std::optional<pipeline::ImageSwapEngine> engine;
  std::string key;  // recognizer path + detect side
};

struct Worker::JobContext {
  job::Lease lease;
  Cancellation cancel;
  std::atomic<bool> lease_lost{false};
  std::atomic<bool> cancel_requested{false};
  std::atomic<bool> released{false};
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;  // guarded by mutex
  fs::path scratch;
  int scratch_lock = -1;  // the scratch folder, flock'ed while the job runs
  std::string output_key;
  std::string kind = "image";
  bool reused_result = false;
  Clock::time_point started = Clock::now();
  std::int64_t last_progress_ms = 0;
};

Worker::Worker(job::JobQueue& queue, storage::ObjectStore& store, MetricsRegistry* metrics, WorkerOptions options)
    : queue_(queue),
      store_(store),
      metrics_(metrics),
      options_(std::move(options)),
      admission_(options_.limits, options_.store_uri),
      models_(options_.models_dir, options_.manifest),
      callbacks_({.allowed_hosts = options_.limits.allowed_callback_hosts}) {
  if (options_.name.empty()) options_.name = DefaultWorkerName();
  if (options_.scratch_dir.empty()) options_.scratch_dir = fs::temp_directory_path() / "swapline-scratch";
  if (options_.concurrency < 1) options_.concurrency = 1;
  if (metrics_ != nullptr) DeclareWorkerMetrics(*metrics_);
}

Worker::~Worker() {
  Drain(std::chrono::milliseconds(0));
  Wait();
}

Status Worker::Start() {
  std::error_code ec;
  fs::create_directories(options_.scratch_dir, ec);
  if (ec) {
    return FailedPrecondition("cannot create scratch folder '" + options_.scratch_dir.string() + "': " + ec.message());
  }
  SweepStaleScratch(options_.scratch_dir);
  for (int i = 0; i < options_.concurrency; ++i) engines_.push_back(std::make_unique<EngineCache>());
  for (int i = 0; i < options_.concurrency; ++i) slots_.emplace_back([this, i] { Slot(i); });
  spdlog::info("worker {}: {} slot(s), lease {} ms, scratch {}", options_.name, options_.concurrency,
               options_.lease.count(), options_.scratch_dir.string());
  return Status::Ok();
}

void Worker::Drain(std::chrono::milliseconds grace) {
  if (!draining_.exchange(true)) {
    drain_deadline_ms_ = NowMs() + grace.count();
    if (!slots_.empty()) {
      spdlog::info("worker {}: draining: no new jobs; running jobs have {} ms to finish", options_.name,
                   grace.count());
    }
  } else {
    drain_deadline_ms_ = std::min<std::int64_t>(drain_deadline_ms_, NowMs() + grace.count());
  }
  wake_.notify_all();
}

void Worker::Wait() {
  for (auto& slot : slots_) {
    if (slot.joinable()) slot.join();
  }
}

void Worker::Slot(int index) {
  const std::string worker_id = options_.name + "-" + std::to_string(index);
  std::chrono::milliseconds backoff{100};
  while (!draining_) {
    auto claim = queue_.Claim(worker_id, options_.claim_wait);
    if (!claim.ok()) {
      spdlog::warn("worker {}: cannot claim jobs from {}: {}; retrying in {} ms", worker_id, queue_.Describe(),
                   claim.status().ToString(), backoff.count());
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, backoff, [this] { return draining_.load(); });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5'000));
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    if (!claim->has_value()) continue;
    RunJob(index, **claim);
  }
}

void Worker::Heartbeat(JobContext& ctx) {
  const auto period = std::max(std::chrono::milliseconds(10), options_.lease / 3);
  const auto tick = std::min(period, std::chrono::milliseconds(200));
  auto next_renew = Clock::now() + period;
  std::unique_lock lock(ctx.mutex);
  while (!ctx.done) {
    ctx.done_cv.wait_for(lock, tick);
    if (ctx.done) break;
    lock.unlock();
    if (draining_ && NowMs() > drain_deadline_ms_ && !ctx.released) {
      spdlog::info("job {}: grace period over; stopping it to release it", ctx.lease.job_id());
      ctx.released = true;
      ctx.cancel.Cancel();
    }
    if (Clock::now() >= next_renew && !ctx.lease_lost) {
      auto renewed = queue_.Renew(ctx.lease);
      if (renewed.ok()) {
        next_renew = Clock::now() + period;
        if (renewed->cancel_requested && !ctx.cancel_requested) {
          spdlog::info("job {}: cancel requested; stopping", ctx.lease.job_id());
          ctx.cancel_requested = true;
          ctx.cancel.Cancel();
        }
      } else if (job::IsLeaseLost(renewed.status())) {
        spdlog::warn("job {}: lease lost ({}); stopping without an outcome", ctx.lease.job_id(),
                     renewed.status().message());
        ctx.lease_lost = true;
        ctx.cancel.Cancel();
      } else {
        // Transient: try again soon; if the queue stays away the lease expires and
        // the job is taken over, which the next successful call reports.
        spdlog::warn("job {}: lease renewal failed: {}", ctx.lease.job_id(), renewed.status().ToString());
        next_renew = Clock::now() + std::min(period, std::chrono::milliseconds(1'000));
      }
    }
    lock.lock();
  }
}

void Worker::RunJob(int slot, const job::Lease& lease) {
  JobContext ctx;
  ctx.lease = lease;
  ++busy_;
  if (metrics_ != nullptr) metrics_->Set("swapline_worker_busy_slots", {{"worker", options_.name}}, busy_);
  LogEvent("job claimed", {{"event", "job_claimed"}, {"job_id", lease.job_id()}, {"tenant", lease.spec.tenant},
                           {"attempt", lease.attempt}, {"delivery", lease.delivery}});
  std::thread heartbeat([this, &ctx] { Heartbeat(ctx); });
  Status status;
  try {
    status = Process(slot, ctx);
  } catch (const std::exception& e) {
    // A library throwing (e.g. std::filesystem when the working directory is gone)
    // fails this attempt; it must not take the process and its other jobs down.
    spdlog::error("job {}: unexpected exception: {}", lease.job_id(), e.what());
    status = Internal("unexpected error while running the job");
  }
  {
    std::lock_guard lock(ctx.mutex);
    ctx.done = true;
  }
  ctx.done_cv.notify_all();
  heartbeat.join();
  if (!ctx.scratch.empty()) {
    std::error_code ec;
    fs::remove_all(ctx.scratch, ec);
    if (ec) spdlog::warn("job {}: cannot remove scratch {}: {}", lease.job_id(), ctx.scratch.string(), ec.message());
  }
  if (ctx.scratch_lock >= 0) ::close(ctx.scratch_lock);
  Finish(ctx, status);
  --busy_;
  if (metrics_ != nullptr) metrics_->Set("swapline_worker_busy_slots", {{"worker", options_.name}}, busy_);
}

Status Worker::Process(int slot, JobContext& ctx) {
  const job::JobSpec& spec = ctx.lease.spec;
  const std::string& id = spec.id;
  // Admitted again here: the queue may be shared, and limits may have changed.
  SWAPLINE_ASSIGN_OR_RETURN(const AdmittedJob admitted, admission_.Admit(spec));
  ctx.output_key = admitted.output_key;
  ctx.kind = admitted.video ? "video" : "image";

  // An earlier attempt may have uploaded the result and died before Complete.
  auto existing = store_.Stat(ctx.output_key);
  if (existing.ok()) {
    auto owner = existing->metadata.find(kJobIdMetadata);
    if (owner != existing->metadata.end() && owner->second == id) {
      spdlog::info("job {}: result {} already uploaded by an earlier attempt; completing", id, ctx.output_key);
      ctx.reused_result = true;
      return Status::Ok();
    }
  } else if (existing.status().code() != Code::kNotFound) {
    return existing.status().WithContext("checking the output object");
  }

  // Scratch: unique per job; removed by RunJob whatever happens. Made under a
  // "new-" name and renamed once locked, so a starting worker's sweep never sees it
  // unlocked.
  const std::string pattern = (options_.scratch_dir / ("new-" + id + "-XXXXXX")).string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    // The folder is the operator's business; the job's error is the tenant's.
    spdlog::error("job {}: cannot create a scratch folder under {}: {}", id, options_.scratch_dir.string(),
                  std::strerror(errno));
    return IOError("the worker cannot create a scratch folder");
  }
  ctx.scratch = buffer.data();
  const fs::path locked = options_.scratch_dir / ("job-" + ctx.scratch.filename().string().substr(4));
  ctx.scratch_lock = ::open(ctx.scratch.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (ctx.scratch_lock < 0 || ::flock(ctx.scratch_lock, LOCK_EX) != 0 ||
      ::rename(ctx.scratch.c_str(), locked.c_str()) != 0) {
    spdlog::error("job {}: cannot lock scratch folder {}: {}", id, ctx.scratch.string(), std::strerror(errno));
    return IOError("the worker cannot create a scratch folder");
  }
  ctx.scratch = locked;

  auto report_progress = [&](double fraction) {
    const std::int64_t now = NowMs();
    if (now - ctx.last_progress_ms < 500 && fraction < 1) return;
    ctx.last_progress_ms = now;
    const Status status = queue_.Progress(ctx.lease, fraction);
    if (job::IsLeaseLost(status) && !ctx.lease_lost) {
      ctx.lease_lost = true;
      ctx.cancel.Cancel();
    }
  };
  auto stop_status = [&]() -> Status {
    if (ctx.lease_lost) return Cancelled("lease lost");
    if (ctx.cancel_requested) return Cancelled("cancelled by request");
    if (ctx.released) return Cancelled("released: worker shutting down");
    return Status::Ok();
  };

  // Download.
  auto download = [&](const std::string& key, const std::string& field, const std::string& stem) -> Result<fs::path> {
    auto stat = store_.Stat(key);
    if (!stat.ok()) {
      if (stat.status().code() == Code::kNotFound) return NotFound(field + ": object '" + key + "' does not exist");
      return stat.status().WithContext(field);
    }
    SWAPLINE_RETURN_IF_ERROR(admission_.CheckInputSize(field, stat->size));
    const fs::path local = ctx.scratch / (stem + Extension(key));
    auto info = store_.GetToFile(key, local, {});
    if (!info.ok()) {
      if (info.status().code() == Code::kNotFound) return NotFound(field + ": object '" + key + "' does not exist");
      return info.status().WithContext(field + " download");
    }
    if (metrics_ != nullptr) metrics_->Add("swapline_worker_bytes_total", {{"direction", "in"}}, static_cast<double>(info->size));
    return local;
  };
  std::vector<fs::path> sources;
  for (std::size_t i = 0; i < admitted.source_keys.size(); ++i) {
    SWAPLINE_ASSIGN_OR_RETURN(fs::path local, download(admitted.source_keys[i], "sources[" + std::to_string(i) + "]",
                                                       "source-" + std::to_string(i)));
    sources.push_back(local);
    SWAPLINE_RETURN_IF_ERROR(stop_status());
  }
  SWAPLINE_ASSIGN_OR_RETURN(fs::path target, download(admitted.target_key, "target", "target"));
  report_progress(0.05);
  SWAPLINE_RETURN_IF_ERROR(stop_status());

  // The target's kind is pinned by its extension: a "video" must be one by its
  // bytes and within the video limits before a frame is decoded; an "image" goes
  // to the image decoder, which reads nothing else.
  const bool video = admitted.video;
  if (video) {
    if (!media::LooksLikeVideo(target)) {
      return UnsupportedInput("target: '" + admitted.target_key + "' is named as a video but is not one");
    }
    SWAPLINE_ASSIGN_OR_RETURN(const media::VideoInfo info, media::ProbeVideo(target));
    SWAPLINE_RETURN_IF_ERROR(admission_.CheckVideoTarget(info));
  }
  pipeline::SwapOptions swap = admitted.options;
  std::optional<fs::path> recognizer;
  if (!swap.face_recognizer_model.empty()) {
    const std::string& name = swap.face_recognizer_model;
    recognizer = options_.models_dir / name;
    if (options_.models_dir.empty() || !fs::exists(*recognizer)) {
      return FailedPrecondition("options.face-recognizer-model: '" + name +
                                "' is not in this worker's models folder");
    }
  }
  // The side as admitted; the angles and margin were checked there too.
  SWAPLINE_ASSIGN_OR_RETURN(pipeline::DetectorSettings detection, pipeline::DetectorSettingsOf(swap, video));
  detection.side = admitted.detect_side;
  SWAPLINE_ASSIGN_OR_RETURN(
      const pipeline::FaceModelPaths face_models,
      pipeline::ResolveFaceModels(swap, detection.side, options_.models_dir.empty() ? nullptr : &models_,
                                  options_.accepted_licenses, "options."));
  const fs::path output = ctx.scratch / ("output" + Extension(ctx.output_key));

  EngineCache& cache = *engines_[static_cast<std::size_t>(slot)];
  const std::string engine_key = (recognizer ? recognizer->string() : "") + "|" + std::to_string(detection.side) +
                                 "|" + nlohmann::json(detection.angles).dump() + "|" +
                                 nlohmann::json(detection.margin).dump() + "|" + face_models.Key();
  if (!cache.engine || cache.key != engine_key) {
    cache.engine.reset();
    auto engine = pipeline::ImageSwapEngine::Create(recognizer, detection, face_models);
    if (!engine.ok()) {
      if (recognizer || !face_models.Empty()) return engine.status();
      return Unavailable("this worker cannot load its face models: " + engine.status().message());
    }
    cache.engine.emplace(std::move(engine).value());
    cache.key = engine_key;
  }

  if (video) {
    if (swap.execution_thread_count == 0 && options_.execution_thread_count > 0) {
      swap.execution_thread_count = options_.execution_thread_count;
    }
    SWAPLINE_ASSIGN_OR_RETURN(pipeline::VideoJobSpec video_spec,
                              pipeline::BuildVideoJobSpec(swap, sources, target, output));
    auto report = pipeline::RunVideoJob(
        *cache.engine, video_spec,
        [&](const pipeline::VideoProgress& p) {
          if (p.frames_total > 0) {
            report_progress(0.05 + 0.9 * std::min(1.0, static_cast<double>(p.frames_done) / p.frames_total));
          }
        },
        &ctx.cancel);
    SWAPLINE_RETURN_IF_ERROR(stop_status());
    if (!report.ok()) return report.status();
  } else {
    SWAPLINE_ASSIGN_OR_RETURN(pipeline::ImageJobSpec image_spec,
                              pipeline::BuildImageJobSpec(swap, sources, target, output));
    auto report = cache.engine->Run(image_spec);
    SWAPLINE_RETURN_IF_ERROR(stop_status());
    if (!report.ok()) return report.status();
  }
  report_progress(0.95);

  // Another holder of this job may have finished meanwhile (we lost the lease
  // without noticing yet): never upload a second copy.
  existing = store_.Stat(ctx.output_key);
  if (existing.ok()) {
    auto owner = existing->metadata.find(kJobIdMetadata);
    if (owner != existing->metadata.end() && owner->second == id) {
      ctx.reused_result = true;
      return Status::Ok();
    }
  }
  storage::PutOptions put;
  put.metadata[kJobIdMetadata] = id;
  auto uploaded = store_.PutFile(ctx.output_key, output, put);
  if (!uploaded.ok()) return uploaded.status().WithContext("uploading the result");
  if (metrics_ != nullptr) {
    metrics_->Add("swapline_worker_bytes_total", {{"direction", "out"}}, static_cast<double>(uploaded->size));
  }
  return Status::Ok();
}

void Worker::Finish(JobContext& ctx, const Status& status) {
  const std::string& id = ctx.lease.job_id();
  const double seconds = std::chrono::duration<double>(Clock::now() - ctx.started).count();
  std::string outcome;
  if (status.ok()) {
    const Status completed = queue_.Complete(ctx.lease, UriOfKey(options_.store_uri, ctx.output_key));
    if (completed.ok()) {
      outcome = "succeeded";
      ++completed_;
      if (metrics_ != nullptr) {
        metrics_->Observe("swapline_job_duration_seconds", {{"kind", ctx.kind}}, seconds);
        if (ctx.reused_result) metrics_->Add("swapline_worker_results_reused_total", {});
      }
    } else if (job::IsLeaseLost(completed)) {
      outcome = "lost";
      spdlog::warn("job {}: lease lost before acknowledging; the result stays for the next holder", id);
    } else {
      outcome = "lost";
      spdlog::error("job {}: cannot acknowledge: {}; the lease will expire and another attempt will find the result",
                    id, completed.ToString());
    }
  } else if (ctx.lease_lost) {
    outcome = "lost";
  } else if (ctx.released && !ctx.cancel_requested) {
    const Status released = queue_.Release(ctx.lease);
    outcome = "released";
    if (!released.ok()) spdlog::warn("job {}: release failed: {}", id, released.ToString());
  } else if (ctx.cancel_requested) {
    const Status failed = queue_.Fail(ctx.lease, Cancelled("cancelled by request"), false);
    outcome = "cancelled";
    if (!failed.ok()) spdlog::warn("job {}: recording the cancel failed: {}", id, failed.ToString());
  } else {
    const bool retryable = IsRetryable(status);
    const Status failed = queue_.Fail(ctx.lease, status, retryable);
    outcome = retryable ? "retried" : "failed";
    if (retryable && metrics_ != nullptr) metrics_->Add("swapline_worker_retries_total", {});
    if (!failed.ok()) spdlog::warn("job {}: recording the failure failed: {}", id, failed.ToString());
  }
  if (metrics_ != nullptr) {
    metrics_->Add("swapline_worker_jobs_total", {{"outcome", outcome}});
    if (outcome == "lost") metrics_->Add("swapline_worker_leases_lost_total", {});
  }
  nlohmann::json fields = {{"event", "job_finished"}, {"job_id", id},        {"outcome", outcome},
                           {"seconds", seconds},      {"kind", ctx.kind},     {"attempt", ctx.lease.attempt}};
  if (!status.ok()) fields["error"] = status.ToString();
  if (status.ok() || outcome == "released" || outcome == "cancelled" || outcome == "lost") {
    LogEvent("job finished", fields);
  } else {
    LogEvent("job failed", fields);
  }
  if (outcome != "released" && outcome != "lost") NotifyCallback(ctx);
}

void Worker::NotifyCallback(const JobContext& ctx) {
  const auto& url = ctx.lease.spec.callback_url;
  if (!url) return;
  auto record = queue_.Get(ctx.lease.spec.tenant, ctx.lease.job_id());
  if (!record.ok()) return;
  // Only an ended job is news: a retried one is queued again and will be told later.
  if (!job::IsTerminal(record->state)) return;
  // Best effort: the job's outcome is already recorded; a callback that fails is logged.
  callbacks_.Post(*url, record->ToJson().dump(), ctx.lease.job_id());
}

}  // namespace swapline::service
