// End to end: the swapline binary as an operator runs it. `swapline serve` with
// embedded workers and the `swapline jobs` client; separate `swapline worker`
// processes, one killed with SIGKILL mid-job (another takes the job over after the
// lease and exactly one result appears); SIGTERM drain (release after the grace
// period, or finish within it). SQLite queue and file store in a temporary folder;
// servers on free loopback ports, stopped by PID.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include <httplib.h>

#include "cli/cli_test_util.h"
#include "support/brought_models.h"
#include "service/service_test_util.h"
#include "service/api_client.h"
#include "storage/file_store.h"

namespace swapline::service {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using swapline::testing::RunProcess;
using swapline::testing::TempDir;

const std::string kTestdata = SWAPLINE_TESTDATA_DIR;
const std::string kFace = kTestdata + "/photos/grace_hopper_usn_portrait.jpg";
// For the tests that act on a job mid-run: 240 frames at 1080p take seconds to swap on
// one thread here (the 3 s clip's 90 frames once ended between two polls of the job,
// before the test could stop its worker).
const std::string kVideo = kTestdata + "/videos/d_large_face_1920x1080_30fps_8s.mp4";

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = swapline::testing::FreePort();
    server_ = "http://127.0.0.1:" + std::to_string(port_);
    objects_ = dir_.path() / "objects";
    scratch_ = dir_.path() / "scratch";
    store_arg_ = "file://" + objects_.string();
    queue_arg_ = "sqlite://" + (dir_.path() / "queue.db").string();
  }

  std::unique_ptr<Process> Serve(int workers, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:" + std::to_string(port_), "--store", store_arg_,
                                     "--queue", queue_arg_, "--workers", std::to_string(workers), "--scratch-dir",
                                     scratch_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto process = std::make_unique<Process>(args, dir_.path() / ("serve-log-" + std::to_string(++logs_)));
    ApiClient client(server_, "");
    const bool up = swapline::testing::WaitUntil(
        [&] { return client.Call("GET", "/healthz").ok() || !process->running(); }, std::chrono::seconds(15));
    if (!up || !process->running()) ADD_FAILURE() << "serve did not come up: " << process->log();
    return process;
  }

  std::unique_ptr<Process> Worker(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"worker", "--queue", queue_arg_, "--store", store_arg_, "--scratch-dir",
                                     scratch_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(args, dir_.path() / ("worker-log-" + std::to_string(++logs_)));
  }

  swapline::testing::RunResult Jobs(std::vector<std::string> args, int timeout_s = 120) {
    args.insert(args.begin() + 1, {"--server", server_});
    args.insert(args.begin(), "jobs");
    return RunProcess(SWAPLINE_BINARY, args, dir_.path() / ("jobs-log-" + std::to_string(++logs_)), timeout_s);
  }

  static std::string LastLine(const std::string& text) {
    std::string t = text;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
  }

  json GetJob(const std::string& id) {
    ApiClient client(server_, "");
    auto job = client.Call("GET", "/v1/jobs/" + id);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : json();
  }

  // Polls until `predicate(job)` holds; the last job JSON.
  json WaitFor(const std::string& id, const std::function<bool(const json&)>& predicate, int timeout_s) {
    json job;
    const auto end = std::chrono::steady_clock::now() + swapline::testing::Scaled(std::chrono::seconds(timeout_s));
    while (std::chrono::steady_clock::now() < end) {
      job = GetJob(id);
      if (predicate(job)) return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "timed out waiting on job " << id << ": " << job.dump();
    return job;
  }

  // Keys of the objects under `prefix`.
  std::vector<std::string> Objects(const std::string& prefix) {
    // (FileStore::List of a prefix whose folder does not exist fails with ENOENT.)
    if (!fs::exists(objects_ / prefix)) return {};
    auto store = storage::OpenFileStore(objects_);
    EXPECT_TRUE(store.ok());
    auto all = storage::ListAll(**store, prefix);
    if (!all.ok()) {
      ADD_FAILURE() << all.status().ToString();
      return {};
    }
    std::vector<std::string> keys;
    for (const auto& info : *all) keys.push_back(info.key);
    return keys;
  }

  bool ScratchEmpty() { return !fs::exists(scratch_) || fs::is_empty(scratch_); }

  TempDir dir_{"swapline_e2e_test"};
  int port_ = 0;
  int logs_ = 0;
  std::string server_;
  fs::path objects_;
  fs::path scratch_;
  std::string store_arg_;
  std::string queue_arg_;
};

TEST_F(E2eTest, ServeWithEmbeddedWorkersRunsEveryJobExactlyOnce) {
  auto serve = Serve(2);
  const std::vector<std::string> targets = {"eileen_collins_nasa_portrait.png", "obama_official_portrait_2012.jpg",
                                            "abraham_lincoln_gardner_1863.jpg"};
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    std::vector<std::string> args = {"submit", "-s", kFace, "-t", kTestdata + "/photos/" + targets[i],
                                     "--face-selector-mode", "one"};
    if (i + 1 == targets.size()) args.push_back("--wait");
    const auto run = Jobs(args);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    ids.push_back(LastLine(run.out));
    EXPECT_EQ(ids.back().size(), 26u) << run.out;
  }
  // A job whose source has no face fails for good: no retry.
  const auto noface = Jobs({"submit", "-s", kTestdata + "/photos/noface_coffee.png", "-t", kFace, "--wait"});
  EXPECT_EQ(noface.exit_code, 4) << noface.err;  // kExitNoSourceFace, as `swapline swap`
  const std::string noface_id = LastLine(noface.out);

  for (const std::string& id : ids) {
    const auto wait = Jobs({"wait", id, "--timeout", "90"});
    EXPECT_EQ(wait.exit_code, 0) << wait.err;
    const json job = GetJob(id);
    EXPECT_EQ(job["state"], "succeeded") << job.dump();
    EXPECT_EQ(job["attempts"], 1) << job.dump();
    EXPECT_EQ(job["progress"], 1.0);
  }
  const json failed = GetJob(noface_id);
  EXPECT_EQ(failed["state"], "failed") << failed.dump();
  EXPECT_EQ(failed["error"]["code"], "no_face");
  EXPECT_EQ(failed["attempts"], 1);

  // Exactly one result per job, each named by its job id.
  const auto outputs = Objects("images/output/local/");
  EXPECT_EQ(outputs.size(), ids.size());
  for (const std::string& id : ids) {
    EXPECT_EQ(std::count_if(outputs.begin(), outputs.end(),
                            [&](const std::string& key) { return key.find(id) != std::string::npos; }),
              1);
  }
  // The client downloads a result; list shows the jobs.
  const fs::path result = dir_.path() / "result.png";
  const auto download = Jobs({"result", ids[0], "-o", result.string()});
  ASSERT_EQ(download.exit_code, 0) << download.err;
  EXPECT_GT(fs::file_size(result), 1000u);
  const auto list = Jobs({"list", "--state", "succeeded"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  for (const std::string& id : ids) EXPECT_NE(list.out.find(id), std::string::npos) << list.out;
  EXPECT_EQ(Jobs({"status", "01jaaaaaaaaaaaaaaaaaaaaaaa"}).exit_code, 3);  // not found

  EXPECT_TRUE(ScratchEmpty());
  serve->Signal(SIGTERM);
  EXPECT_EQ(serve->WaitExit(std::chrono::seconds(20)), 0) << serve->log();
}

TEST_F(E2eTest, JobsNameFaceModelsTheWorkerResolvesInItsFolder) {
  const fs::path models = dir_.path() / "models";
  auto serve = Serve(1, {"--models-dir", models.string()});
  const std::vector<std::string> submit = {"submit", "-s", kFace, "-t",
                                           kTestdata + "/photos/obama_biden_blue_room_2010_two_faces.jpg", "--wait"};
  // `option value` chooses the model `name`: another value is refused at admission; a
  // job with it fails once, saying how to install the model, and succeeds once it is
  // installed with `swapline models pull`. Options of earlier calls stay.
  std::vector<std::string> options;
  auto expect_named_model = [&](const std::string& option, const std::string& value, const std::string& unknown,
                                const std::string& name) {
    SCOPED_TRACE(option + " " + value);
    std::vector<std::string> args = submit;
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {option, unknown});
    EXPECT_EQ(Jobs(args).exit_code, 2);
    args.back() = value;
    const auto missing = Jobs(args);
    EXPECT_NE(missing.exit_code, 0);
    const json failed = GetJob(LastLine(missing.out));
    EXPECT_EQ(failed["state"], "failed") << failed.dump();
    EXPECT_EQ(failed["attempts"], 1) << failed.dump();
    EXPECT_NE(failed["error"]["message"].get<std::string>().find("swapline models pull " + name), std::string::npos)
        << failed.dump();
    const auto pulled = RunProcess(SWAPLINE_BINARY,
                                   {"models", "pull", "--models-dir", models.string(), "--quiet", "--from",
                                    "file://" SWAPLINE_MODELS_DIR, name},
                                   dir_.path() / ("pull-log-" + name), 120);
    ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
    const auto swapped = Jobs(args);
    ASSERT_EQ(swapped.exit_code, 0) << swapped.err;
    EXPECT_EQ(GetJob(LastLine(swapped.out))["state"], "succeeded");
    options.insert(options.end(), {option, value});
  };
  expect_named_model("--face-detector-model", "yunet", "mtcnn", "yunet_s_640");
  // YuNet + Face Mesh: the fully permissive chain.
  expect_named_model("--face-landmarker-model", "face_mesh", "peppa_wutz", "face_mesh");
  serve->Signal(SIGTERM);
  EXPECT_EQ(serve->WaitExit(std::chrono::seconds(20)), 0) << serve->log();
}

TEST_F(E2eTest, OneWorkerRunsJobsWithAndWithoutTheLearnedMasksTheirNetworksBrought) {
  // The worker keeps one engine per thread and makes a new one when a job needs other
  // networks: a mask job between two plain ones gets its occluder and parser.
  const fs::path models = dir_.path() / "models";
  const fs::path manifest = dir_.path() / "masks.json";
  ASSERT_EQ(swapline::testing::PullBrought(
                SWAPLINE_BINARY, manifest,
                swapline::testing::BroughtManifest({{"xseg_1", "masker", "xseg_1.onnx", "xseg"},
                                                    {"bisenet_resnet_34", "masker", "bisenet_resnet_34.onnx",
                                                     "bisenet"}}),
                models, dir_.path() / "pull-log-masks"),
            0);
  auto serve = Serve(1, {"--models-dir", models.string(), "--models-manifest", manifest.string(), "--accept-license",
                         "xseg_1", "--accept-license", "bisenet_resnet_34"});
  const std::vector<std::string> submit = {"submit", "-s", kFace, "-t", kTestdata + "/photos/obama_official_portrait_2012.jpg",
                                           "--wait"};
  std::vector<std::string> masked = submit;
  masked.insert(masked.end(), {"--face-mask-types", "box", "occlusion", "region"});
  for (const auto& args : {submit, masked, submit}) {
    const auto run = Jobs(args);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(GetJob(LastLine(run.out))["state"], "succeeded");
  }
  serve->Signal(SIGTERM);
  EXPECT_EQ(serve->WaitExit(std::chrono::seconds(20)), 0) << serve->log();
}

TEST_F(E2eTest, KilledWorkersJobIsTakenOverAndFinishedOnceAcrossAnApiRestart) {
  auto serve = Serve(0);
  const std::vector<std::string> worker_args = {"--lease", swapline::testing::ScaledArg(std::chrono::milliseconds(1500)), "--execution-thread-count", "1"};
  auto first = Worker(worker_args);
  const auto submit = Jobs({"submit", "-s", kFace, "-t", kVideo, "--output-video-preset", "ultrafast"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string id = LastLine(submit.out);
  WaitFor(id, [](const json& j) { return j.value("state", "") == "running" && j.value("progress", 0.0) >= 0.15; }, 60);
  first->Signal(SIGKILL);
  EXPECT_EQ(first->WaitExit(std::chrono::seconds(10)), 128 + SIGKILL);
  EXPECT_FALSE(ScratchEmpty());  // the killed worker's scratch stays until someone sweeps it

  auto second = Worker(worker_args);
  // The API restarts meanwhile: the queue keeps everything.
  serve->Signal(SIGTERM);
  ASSERT_EQ(serve->WaitExit(std::chrono::seconds(20)), 0) << serve->log();
  serve = Serve(0);
  const json job = WaitFor(id, [](const json& j) { return j.value("state", "") == "succeeded"; }, 90);
  EXPECT_EQ(job["attempts"], 2) << job.dump();
  const auto outputs = Objects("videos/output/local/");
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_NE(outputs[0].find(id), std::string::npos);
  EXPECT_TRUE(ScratchEmpty());  // the second worker removed the dead one's folder and its own
  second->Signal(SIGTERM);
  EXPECT_EQ(second->WaitExit(std::chrono::seconds(20)), 0) << second->log();
}

TEST_F(E2eTest, SigtermReleasesAfterGraceOrFinishesWithinIt) {
  auto serve = Serve(0);
  // Short grace: the job is stopped and released (queued again, attempt given back).
  auto hasty = Worker({"--lease", swapline::testing::ScaledArg(std::chrono::seconds(3)), "--grace", "200ms", "--execution-thread-count", "1"});
  const auto submit = Jobs({"submit", "-s", kFace, "-t", kVideo, "--output-video-preset", "ultrafast"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string id = LastLine(submit.out);
  WaitFor(id, [](const json& j) { return j.value("state", "") == "running" && j.value("progress", 0.0) >= 0.1; }, 60);
  hasty->Signal(SIGTERM);
  EXPECT_EQ(hasty->WaitExit(std::chrono::seconds(10)), 0) << hasty->log();
  json job = GetJob(id);
  EXPECT_EQ(job["state"], "queued") << job.dump();
  EXPECT_EQ(job["attempts"], 0) << job.dump();
  EXPECT_TRUE(ScratchEmpty());

  // Long grace: the job runs to the end, then the worker exits.
  auto patient = Worker({"--lease", swapline::testing::ScaledArg(std::chrono::seconds(3)), "--grace",
                         swapline::testing::ScaledArg(std::chrono::seconds(120))});
  WaitFor(id, [](const json& j) { return j.value("state", "") == "running" && j.value("progress", 0.0) >= 0.1; }, 60);
  patient->Signal(SIGTERM);
  EXPECT_EQ(patient->WaitExit(std::chrono::seconds(90)), 0) << patient->log();
  job = GetJob(id);
  EXPECT_EQ(job["state"], "succeeded") << job.dump();
  EXPECT_EQ(job["attempts"], 1) << job.dump();
  EXPECT_EQ(Objects("videos/output/local/").size(), 1u);
  EXPECT_TRUE(ScratchEmpty());
}

TEST_F(E2eTest, CallbackUrlIsToldTheOutcome) {
  // A receiver on a free loopback port records what it is told.
  httplib::Server receiver;
  std::mutex mutex;
  std::vector<json> told;
  receiver.Post("/done", [&](const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex);
    told.push_back(json::parse(request.body, nullptr, false));
    response.status = 204;
  });
  const int port = receiver.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { receiver.listen_after_bind(); });
  // Loopback is refused unless the operator allows it.
  auto serve = Serve(1, {"--limit", "allowed_callback_hosts=127.0.0.1/32"});
  ApiClient client(server_, "");
  auto source = client.UploadFile(kFace);
  auto target = client.UploadFile(kTestdata + "/photos/obama_official_portrait_2012.jpg");
  ASSERT_TRUE(source.ok() && target.ok());
  auto created = client.Call("POST", "/v1/jobs",
                             json{{"sources", {*source}},
                                  {"target", *target},
                                  {"callback_url", "http://127.0.0.1:" + std::to_string(port) + "/done"}});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string id = (*created)["id"];
  WaitFor(id, [](const json& j) { return j.value("state", "") == "succeeded"; }, 60);
  swapline::testing::WaitUntil(
      [&] {
        std::lock_guard lock(mutex);
        return !told.empty();
      },
      std::chrono::seconds(5));
  receiver.stop();
  serving.join();
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0]["id"], id);
  EXPECT_EQ(told[0]["state"], "succeeded");
  serve->Signal(SIGTERM);
  EXPECT_EQ(serve->WaitExit(std::chrono::seconds(20)), 0) << serve->log();
}

TEST_F(E2eTest, QueuePasswordsNeverReachTheLogs) {
  // Nothing listens on port 1: the worker fails to open the queue and says why.
  for (const std::string queue : {"redis://:hunter2-s3cret@127.0.0.1:1/0", "redis://:hunter2-s3cret@127.0.0.1:x/0"}) {
    Process worker({"worker", "--queue", queue, "--store", store_arg_, "--scratch-dir", scratch_.string()},
                   dir_.path() / ("worker-log-" + std::to_string(++logs_)));
    EXPECT_GT(worker.WaitExit(std::chrono::seconds(60)), 0);  // refused (1) or a usage error (2), not a hang
    const std::string log = worker.log();
    EXPECT_NE(log.find("redis://:***@127.0.0.1"), std::string::npos) << log;
    EXPECT_EQ(log.find("hunter2-s3cret"), std::string::npos) << log;
  }
}

TEST_F(E2eTest, CancelStopsARunningJob) {
  auto serve = Serve(1, {"--lease", swapline::testing::ScaledArg(std::chrono::seconds(3)), "--execution-thread-count", "1"});
  // A slow preset keeps the job running well past the 1 s heartbeat that carries the cancel.
  const auto submit = Jobs({"submit", "-s", kFace, "-t", kVideo, "--output-video-preset", "veryslow"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string id = LastLine(submit.out);
  WaitFor(id, [](const json& j) { return j.value("state", "") == "running" && j.value("progress", 0.0) >= 0.1; }, 60);
  const auto cancel = Jobs({"cancel", id});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  const json job = WaitFor(id, [](const json& j) { return j.value("state", "") == "cancelled"; }, 30);
  EXPECT_LT(job.value("progress", 1.0), 1.0);
  EXPECT_EQ(Jobs({"wait", id}).exit_code, 130);
  EXPECT_TRUE(Objects("videos/output/local/").empty());
  EXPECT_TRUE(ScratchEmpty());
  serve->Signal(SIGTERM);
  EXPECT_EQ(serve->WaitExit(std::chrono::seconds(20)), 0) << serve->log();
}

}  // namespace
}  // namespace swapline::service
