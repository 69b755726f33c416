// Worker: the loop of `swapline worker` and of `swapline serve`'s embedded workers.
//
// Each of `concurrency` slots repeats: Claim a job → make a scratch folder (unique
// per job, always removed) → if the job's output object already exists and carries
// this job's id (an earlier attempt uploaded but died before acknowledging),
// Complete at once → download the inputs → run the image or video pipeline on local
// files → upload the result to the job's output key (one atomic put, user metadata
// "swapline-job-id") → Complete. Progress goes to the queue (download 0-5 %,
// processing 5-95 %, upload 95-100 %).
//
// A heartbeat thread per running job renews the lease every lease/3. When the lease
// is lost (taken over) or a cancel was requested it cancels the pipeline
// (core/cancellation.h; videos stop at the next frame): a lost job is dropped without
// an outcome, a cancelled one is failed (→ cancelled).
//
// Every claimed job is admitted again (admission.h) before anything is downloaded,
// inputs over max_upload_bytes are not downloaded, and a video target is probed and
// held to the video limits before it is decoded; a target whose bytes are not of
// the kind its extension names is refused. Callbacks (callback.h) are posted by a
// sender thread of their own, never on a slot.
//
// Failures: bad input, no face, bad options, over a limit, missing objects or
// models → Fail, not retryable (the job turns failed). Network or storage unavailable, throttling,
// local I/O and unexpected errors → Fail, retryable (queued again with backoff, dead
// after max_attempts).
//
// Drain (SIGTERM): Drain() stops claiming; running jobs continue until the grace
// period ends, then are cancelled and Released (queued again at once, the attempt
// not counted).
//
// Thread safety: Start/Drain/Wait from one controlling thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "job/job_queue.h"
#include "models/model_dir.h"
#include "service/admission.h"
#include "service/callback.h"
#include "service/metrics.h"
#include "storage/object_store.h"
#include "storage/storage_uri.h"

namespace swapline::service {

struct WorkerOptions {
  // --- behaviour ---
  int concurrency = 1;                          // jobs at once (one pipeline engine each)
  std::chrono::milliseconds lease{30'000};      // must equal the queue's JobQueueOptions::lease
  std::chrono::milliseconds grace{30'000};      // SIGTERM: time to finish before Release
  std::string name;                             // worker id prefix; "": "<host>-<pid>"
  std::filesystem::path scratch_dir;            // "": $TMPDIR/swapline-scratch
  // Named models (face-detector-model, face-landmarker-model) resolve here through the manifest, as
  // `swapline models` fills it; face-recognizer-model file names live here too.
  std::filesystem::path models_dir;
  models::ModelManifest manifest = models::ModelManifest::Embedded();  // names → files, licenses
  std::set<std::string> accepted_licenses;      // non-commercial models the operator accepts
  storage::StorageUri store_uri;                // keys ↔ result URIs
  Limits limits;                                // admission.h: every job is admitted again here
  // --- performance ---
  std::chrono::milliseconds claim_wait{1'000};  // one Claim's wait; also how fast Drain is seen
  int execution_thread_count = 0;               // video frame workers per job; 0: cores / concurrency
};

class Worker {
 public:
  // `queue`, `store` and `metrics` (may be null) must outlive the worker.
  Worker(job::JobQueue& queue, storage::ObjectStore& store, MetricsRegistry* metrics, WorkerOptions options);
  ~Worker();  // Drain(0) + Wait()
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the slots. FailedPrecondition when the scratch folder cannot be made.
  Status Start();
  // Stops claiming; running jobs get `grace` to finish, then are released.
  void Drain(std::chrono::milliseconds grace);
  void Drain() { Drain(options_.grace); }
  // Waits until every slot has stopped (after Drain).
  void Wait();

  // Jobs completed by this worker (tests, logs).
  std::int64_t completed() const { return completed_; }
  int busy() const { return busy_; }

 private:
  struct JobContext;
  void Slot(int index);
  void RunJob(int slot, const job::Lease& lease);
  void Heartbeat(JobContext& ctx);
  Status Process(int slot, JobContext& ctx);
  void Finish(JobContext& ctx, const Status& status);
  // Queues a POST of the job record to the spec's callback_url once the job has ended.
  void NotifyCallback(const JobContext& ctx);

  job::JobQueue& queue_;
  storage::ObjectStore& store_;
  MetricsRegistry* metrics_;
  WorkerOptions options_;
  const Admission admission_;
  models::ModelDir models_;  // resolves and verifies each named model once per process
  CallbackSender callbacks_;
  std::vector<std::thread> slots_;
  std::atomic<bool> draining_{false};
  std::atomic<std::int64_t> drain_deadline_ms_{0};  // steady clock, ms since epoch
  std::atomic<std::int64_t> completed_{0};
  std::atomic<int> busy_{0};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  struct EngineCache;
  std::vector<std::unique_ptr<EngineCache>> engines_;  // one per slot
};

// Declares the worker's metric families on `metrics`.
void DeclareWorkerMetrics(MetricsRegistry& metrics);

// Is a job failure with this status worth another attempt?
bool IsRetryable(const Status& status);

}  // namespace swapline::service
