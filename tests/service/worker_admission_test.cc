// The worker admits every job it claims (service/admission.h): specs put on the
// queue without passing the API (a shared queue, older limits) fail at once with a
// clear code, never retried, before anything is decoded; video limits are checked
// after probing the downloaded target; a "video" that is not one is refused.
// SQLite queue, file store and an in-process Worker in a temporary folder.
#include <gtest/gtest.h>

#include <thread>

#include "cli/cli_test_util.h"
#include "job/job_queue.h"
#include "service/worker.h"
#include "storage/file_store.h"

namespace swapline::service {
namespace {

using nlohmann::json;
using swapline::testing::TempDir;

const std::string kTestdata = SWAPLINE_TESTDATA_DIR;

class WorkerAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::OpenFileStore(dir_.path() / "objects");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto queue = job::OpenJobQueue("sqlite://" + (dir_.path() / "queue.db").string());
    ASSERT_TRUE(queue.ok()) << queue.status().ToString();
    queue_ = std::move(queue).value();
    ASSERT_TRUE(store_->PutFile("images/input/acme/1/s.jpg", kTestdata + "/photos/grace_hopper_usn_portrait.jpg", {}).ok());
    ASSERT_TRUE(store_->PutFile("images/input/acme/1/t.jpg", kTestdata + "/photos/obama_official_portrait_2012.jpg", {}).ok());
    ASSERT_TRUE(store_->PutFile("videos/input/acme/1/clip.mp4",
                                kTestdata + "/videos/b_two_faces_side_by_side_1280x720_30fps_3s.mp4", {})
                    .ok());
    // An image under a video's name.
    ASSERT_TRUE(store_->PutFile("videos/input/acme/1/fake.mp4", kTestdata + "/photos/obama_official_portrait_2012.jpg", {}).ok());
  }

  // Submits straight to the queue (no API) and runs a worker until the job ends.
  job::JobRecord Run(const std::string& target, const json& options, const Limits& limits = {}) {
    job::JobSpec spec;
    spec.sources = {"images/input/acme/1/s.jpg"};
    spec.target = target;
    spec.options = options;
    EXPECT_TRUE(job::FinalizeJobSpec(spec, "acme").ok());
    EXPECT_TRUE(queue_->Submit(spec).ok());
    WorkerOptions options_;
    options_.scratch_dir = dir_.path() / "scratch";
    options_.store_uri = *storage::ParseStorageUri("file://" + (dir_.path() / "objects").string());
    options_.limits = limits;
    options_.claim_wait = std::chrono::milliseconds(100);
    Worker worker(*queue_, *store_, nullptr, options_);
    EXPECT_TRUE(worker.Start().ok());
    job::JobRecord record;
    for (int i = 0; i < 600; ++i) {
      auto got = queue_->Get("acme", spec.id);
      EXPECT_TRUE(got.ok());
      record = *got;
      if (job::IsTerminal(record.state)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    worker.Drain(std::chrono::milliseconds(0));
    worker.Wait();
    return record;
  }

  bool ScratchEmpty() const {
    return std::filesystem::is_empty(dir_.path() / "scratch");
  }

  TempDir dir_{"swapline_worker_admission"};
  std::unique_ptr<storage::ObjectStore> store_;
  std::unique_ptr<job::JobQueue> queue_;
};

TEST_F(WorkerAdmissionTest, OverLimitOptionsFailAtOnceNotRetried) {
  const job::JobRecord record = Run("images/input/acme/1/t.jpg", {{"face-detector-size", "100000"}});
  EXPECT_EQ(record.state, job::JobState::kFailed);
  EXPECT_EQ(record.attempts, 1);
  ASSERT_TRUE(record.error.has_value());
  EXPECT_EQ(record.error->code, "too_large");
  EXPECT_EQ(record.error->message.rfind("limit max_face_detector_size:", 0), 0u) << record.error->message;
  EXPECT_TRUE(ScratchEmpty());
}

TEST_F(WorkerAdmissionTest, VideoLimitsAreCheckedAfterProbing) {
  Limits limits;
  limits.max_video_seconds = 1;  // the clip lasts 3 s
  job::JobRecord record = Run("videos/input/acme/1/clip.mp4", json::object(), limits);
  EXPECT_EQ(record.state, job::JobState::kFailed);
  ASSERT_TRUE(record.error.has_value());
  EXPECT_EQ(record.error->message.rfind("limit max_video_seconds:", 0), 0u) << record.error->message;
  limits = {};
  limits.max_video_frame_pixels = 640 * 360;  // the clip is 1280x720
  record = Run("videos/input/acme/1/clip.mp4", json::object(), limits);
  ASSERT_TRUE(record.error.has_value());
  EXPECT_EQ(record.error->message.rfind("limit max_video_frame_pixels:", 0), 0u) << record.error->message;
  EXPECT_EQ(record.attempts, 1);
  EXPECT_TRUE(ScratchEmpty());
}

TEST_F(WorkerAdmissionTest, TargetKindIsPinnedByItsName) {
  const job::JobRecord record = Run("videos/input/acme/1/fake.mp4", json::object());
  EXPECT_EQ(record.state, job::JobState::kFailed);
  ASSERT_TRUE(record.error.has_value());
  EXPECT_EQ(record.error->code, "unsupported_input") << record.error->message;
  EXPECT_EQ(record.attempts, 1);
}

TEST_F(WorkerAdmissionTest, InputsOverTheSizeLimitAreNotDownloaded) {
  Limits limits;
  limits.max_upload_bytes = 1000;
  const job::JobRecord record = Run("images/input/acme/1/t.jpg", json::object(), limits);
  EXPECT_EQ(record.state, job::JobState::kFailed);
  ASSERT_TRUE(record.error.has_value());
  EXPECT_EQ(record.error->message.rfind("limit max_upload_bytes:", 0), 0u) << record.error->message;
}

}  // namespace
}  // namespace swapline::service
