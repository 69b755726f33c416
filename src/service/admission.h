// Job admission: the one gate between a tenant's job spec and a worker's pipeline.
//
// The API admits a spec before it is queued; the worker admits it again when it
// claims the job (the queue may be shared, and limits may have changed), then checks
// the downloaded target against the limits only its bytes can tell (video frame
// size, duration, frame count). Both use the same Admission, so what the API accepts
// is what a worker runs, and a spec a worker would refuse is refused at submission.
//
// Admit():
//  * maps every reference (sources, target, output) onto a key of the service's
//    store, owned by the spec's tenant (tenancy.h);
//  * pins the target's kind (image or video) to its extension and the output's
//    extension to one the pipeline writes for that kind; the worker refuses a target
//    whose bytes are of the other kind;
//  * reads the options as `swapline swap` does (pipeline/swap_options.h), holds them
//    to the operator's Limits (64-bit arithmetic throughout) and builds the pipeline
//    spec once with placeholder paths, so every bad value is an admission error.
//
// Errors: InvalidArgument (a malformed field), PermissionDenied (another tenant's
// key), TooLarge (over a limit; the message starts with "limit <name>:"). None of
// them is retryable: a job refused by a worker fails at once.
//
// Limits are the operator's: `--limits FILE` (TOML or JSON, keys as below) and
// `--limit NAME=VALUE` flags on `serve` and `worker`. Tenants can ask for less
// (options.max-pixels), never more.
//
// Thread safety: immutable after construction; every method may be called from
// any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "job/job_queue.h"
#include "job/job_spec.h"
#include "media/video.h"
#include "pipeline/swap_options.h"
#include "storage/storage_uri.h"

namespace swapline::service {

struct Limits {
  std::int64_t max_image_pixels = 100'000'000;       // image targets and sources
  std::int64_t max_video_frame_pixels = 3840 * 2160;  // width × height of a target frame
  double max_video_seconds = 600;                     // target duration
  std::int64_t max_video_frames = 36'000;             // target frames (also stops decoding there)
  int max_output_side = 7680;                         // output-{image,video}-resolution W and H
  double max_output_fps = 120;                        // output-video-fps
  int max_face_detector_size = 2048;                  // face-detector-size
  int max_execution_threads = 64;                     // execution-thread-count
  std::uint64_t max_upload_bytes = 2ull << 30;        // one input object (uploads, downloads)
  int max_active_jobs_per_tenant = 1000;              // queued + running jobs of one tenant
  // Per-tenant rates, shared by every API process (kept in the queue): a tenant may
  // spend the whole number at once, then that many per rate_window_seconds.
  int max_jobs_per_window_per_tenant = 300;           // job submissions (POST /v1/jobs)
  int max_upload_urls_per_window_per_tenant = 600;    // upload URLs minted (POST /v1/uploads)
  double rate_window_seconds = 60;
  // Hosts a callback_url may reach although they resolve to loopback, private,
  // link-local or multicast addresses: host names (exact) or CIDR blocks
  // ("10.0.0.0/8", "::1/128").
  std::vector<std::string> allowed_callback_hosts;

  nlohmann::json ToJson() const;
};

// Reads limits from a TOML or JSON file (by content: JSON when it starts with '{').
// Unknown keys and values of the wrong type are InvalidArgument naming file and key.
Result<Limits> LoadLimits(const std::filesystem::path& path, Limits base = {});
// Applies "NAME=VALUE" (a flag): numbers for numeric limits, a comma-separated list
// for allowed_callback_hosts.
Status SetLimit(Limits& limits, std::string_view assignment);
// The limits of `--limits FILE` (none when empty) with `--limit NAME=VALUE`
// assignments applied over them.
Result<Limits> LimitsFromFlags(const std::string& file, const std::vector<std::string>& assignments);
// Every limit's name and meaning, for --help and the README.
std::vector<std::pair<std::string, std::string>> LimitDescriptions();

// A spec that passed admission.
struct AdmittedJob {
  job::JobSpec spec;                     // as given, references replaced by store keys
  std::vector<std::string> source_keys;  // = spec.sources
  std::string target_key;                // = spec.target
  std::string output_key;                // = *spec.output
  bool video = false;                    // the target's kind, from its extension
  pipeline::SwapOptions options;         // read from spec.options, within the limits
  int detect_side = 0;                   // pipeline::DetectorSide(options, video)
};

class Admission {
 public:
  Admission(Limits limits, storage::StorageUri store_uri);

  const Limits& limits() const { return limits_; }

  // The checks above for a spec with id and tenant set (job::FinalizeJobSpec).
  Result<AdmittedJob> Admit(const job::JobSpec& spec) const;

  // A tenant-chosen id of a new job must carry a time within `window` of `now`:
  // ids sort by time, so a far-future id would list first forever.
  static Status CheckNewJobId(std::string_view id, job::TimePoint now,
                              std::chrono::milliseconds window = std::chrono::minutes(5));

  // The per-tenant rate limits, as JobQueue::TakeRateToken keeps them.
  job::RateLimit job_rate() const;
  job::RateLimit upload_url_rate() const;
  // The kThrottled error of a token `limit` refused `tenant`: names the limit and
  // the wait.
  static Status RateLimitError(const job::RateLimit& limit, std::string_view tenant,
                               std::chrono::milliseconds retry_after);

  // An input object of `size` bytes named by `field`: TooLarge over max_upload_bytes.
  Status CheckInputSize(std::string_view field, std::uint64_t size) const;

  // After download: a video target must be a video by its bytes, within the video
  // limits (UnsupportedInput / TooLarge); the video spec's decoding is capped at
  // max_video_frames. Image targets are read by the image decoder, which refuses
  // anything else and holds max_image_pixels from the header.
  Status CheckVideoTarget(const media::VideoInfo& info) const;

 private:
  Status CheckOptions(const pipeline::SwapOptions& options, bool video) const;

  Limits limits_;
  storage::StorageUri store_uri_;
};

}  // namespace swapline::service
