// The `local` overlay rehearsed under `podman kube play` (run by `make test-deploy`
// through tests/deploy/rehearsal.sh, never by ctest: it needs the image `make image`
// builds). The overlay's rendered manifests (SWAPLINE_DEPLOY_JSON, from `kubectl
// kustomize`) become one API pod and two worker pods on the host network; Redis and
// the Swift S3 server run on the host on free loopback ports. On top of the
// manifests the test does only what an operator and the kubelet would: it puts its
// servers' addresses into the ConfigMap, creates the Secrets, and expands $(VAR) in
// the containers' args (podman 4.3 passes them on literally).
//
// A video job and image jobs through the API; the worker holding the video is
// killed with SIGKILL mid-job and restarted by its restart policy; another worker is
// stopped (SIGTERM) mid-job and drains; every job ends succeeded exactly once with one
// result object, no multipart upload is left, and the workers' scratch volumes end
// empty. With Redis stopped /readyz fails, and it recovers when Redis is back. Prints
// how long the API took from `podman kube play` to ready.
//
// Needs SWAPLINE_IMAGE (the image to run) and podman pointed at the project's own
// state (deploy/docker/podman-env.sh sets CONTAINERS_CONF and
// CONTAINERS_STORAGE_CONF); without them it fails.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "cli/cli_test_util.h"
#include "deploy/manifests.h"
#include "service/api_client.h"
#include "service/service_test_util.h"
#include "storage/hashing.h"
#include "storage/http_client.h"
#include "storage/s3_store.h"
#include "support/redis_server.h"
#include "support/s3_servers.h"

namespace swapline::service {
namespace {

using nlohmann::json;
using swapline::testing::RunProcess;
using swapline::testing::RunResult;
using swapline::testing::TempDir;
using Clock = std::chrono::steady_clock;

const std::string kTestdata = SWAPLINE_TESTDATA_DIR;
const std::string kFace = kTestdata + "/photos/grace_hopper_usn_portrait.jpg";
// The video a worker is killed or stopped during: long enough (150 frames at 1080p) that
// the job seldom ends between two polls of the test, which run `podman` for each worker
// (the 3 s two-face clip ended before its kill in 2 runs of 2).
const std::string kLongVideo = kTestdata + "/videos/a_one_face_zoom_rotate_1920x1080_30fps_5s.mp4";
constexpr const char* kPodman = "/usr/bin/podman";
constexpr const char* kTenant = "acme";
constexpr const char* kToken = "rehearsal-token-0123456789";

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string Base64(const std::string& text) {
  return storage::Base64Encode({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

// The overlay's objects as `podman kube play` input: the ConfigMap with `settings`,
// every container on `image`, $(VAR) in args expanded from the container's env
// (literal values, the ConfigMap), and Kubernetes' default `optional: false`
// written out on Secret volumes (podman 4.3 crashes where it is left out); one
// JSON document per object.
Result<std::string> KubePlayInput(std::vector<json> objects, const std::map<std::string, std::string>& settings,
                                  const std::string& image) {
  json* config = nullptr;
  for (json& o : objects) {
    if (o["kind"] == "ConfigMap" && o["metadata"]["name"] == "swapline-config") config = &o;
  }
  if (config == nullptr) return NotFound("the overlay has no ConfigMap swapline-config");
  for (const auto& [key, value] : settings) (*config)["data"][key] = value;
  const json& data = (*config)["data"];
  std::string out;
  for (json& o : objects) {
    if (o["kind"] == "Deployment") {
      for (json& volume : o["spec"]["template"]["spec"]["volumes"]) {
        if (volume.contains("secret") && !volume["secret"].contains("optional")) volume["secret"]["optional"] = false;
      }
      for (json& container : o["spec"]["template"]["spec"]["containers"]) {
        container["image"] = image;
        std::map<std::string, std::string> values;
        for (const json& from : container.value("envFrom", json::array())) {
          if (from.contains("configMapRef") && from["configMapRef"]["name"] == "swapline-config") {
            for (const auto& [key, value] : data.items()) values[key] = value;
          }
        }
        for (const json& env : container.value("env", json::array())) {
          if (env.contains("value")) {
            values[env["name"]] = env["value"];
          } else if (env.contains("valueFrom") && env["valueFrom"].contains("configMapKeyRef") &&
                     env["valueFrom"]["configMapKeyRef"]["name"] == "swapline-config") {
            values[env["name"]] = data.value(env["valueFrom"]["configMapKeyRef"]["key"].get<std::string>(), "");
          }
        }
        for (json& arg : container["args"]) {
          SWAPLINE_ASSIGN_OR_RETURN(arg, deploy::testing::ExpandVars(arg, values));
        }
      }
    }
    out += "---\n" + o.dump() + "\n";
  }
  return out;
}

// podman with the test's logs; fails the test when podman fails.
class Podman {
 public:
  explicit Podman(fs::path log_dir) : log_dir_(std::move(log_dir)) {}

  RunResult Run(const std::vector<std::string>& args, int timeout_s = 120) {
    RunResult run = RunProcess(kPodman, args, log_dir_ / ("podman-" + std::to_string(++calls_)), timeout_s);
    EXPECT_EQ(run.exit_code, 0) << "podman " << args.front() << ": " << run.err;
    return run;
  }
  std::string Output(const std::vector<std::string>& args) { return Trim(Run(args).out); }
  std::string Logs(const std::string& container) {
    const RunResult run = Run({"logs", container});
    return run.out + run.err;
  }
  std::string State(const std::string& container, const std::string& field) {
    return Output({"inspect", "--format", "{{.State." + field + "}}", container});
  }
  // The containers of the pods of `deployment` (podman names pods DEPLOYMENT-pod-N).
  std::vector<std::string> Containers(const std::string& deployment) {
    std::vector<std::string> names;
    std::istringstream lines(Output({"ps", "-a", "--pod", "--format", "{{.Names}} {{.PodName}} {{.IsInfra}}"}));
    for (std::string name, pod, infra; lines >> name >> pod >> infra;) {
      if (infra == "false" && pod.starts_with(deployment + "-pod-")) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path log_dir_;
  int calls_ = 0;
};

// The HTTP status of GET `url`; 0 when nothing answers.
long HttpStatus(const std::string& url) {
  storage::HttpClient http({});
  storage::HttpRequest request;
  request.method = "GET";
  request.url = url;
  Result<storage::HttpResponse> response = http.Send(request);
  return response.ok() ? response->status : 0;
}

// Waits until `done` or the deadline; returns `done`'s last answer.
template <typename F>
bool WaitFor(std::chrono::seconds deadline, F done) {
  const auto end = Clock::now() + deadline;
  while (!done()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

TEST(KubePlayRehearsal, LocalOverlayRunsJobsThroughKillsDrainsAndRedisLoss) {
  const std::string image = EnvOrEmpty("SWAPLINE_IMAGE");
  ASSERT_FALSE(image.empty()) << "SWAPLINE_IMAGE names no image (run through `make test-deploy`)";
  ASSERT_FALSE(EnvOrEmpty("CONTAINERS_STORAGE_CONF").empty())
      << "podman is not pointed at the project's state (source deploy/docker/podman-env.sh)";
  ASSERT_TRUE(fs::exists(kPodman)) << "podman is not installed (make image installs it)";
  auto overlays = deploy::testing::LoadOverlays(SWAPLINE_DEPLOY_JSON);
  ASSERT_TRUE(overlays.ok()) << overlays.status().ToString();
  const deploy::testing::Overlay* local = nullptr;
  for (const auto& [file, overlay] : *overlays) {
    if (fs::path(file).filename() == "local.yaml") local = &overlay;
  }
  ASSERT_NE(local, nullptr) << "no rendered local overlay in " << SWAPLINE_DEPLOY_JSON;
  const json* config = local->Find("ConfigMap", "swapline-config");
  const json* worker_deployment = local->Find("Deployment", "swapline-worker");
  ASSERT_NE(config, nullptr);
  ASSERT_NE(worker_deployment, nullptr);
  const std::string bucket = (*config)["data"]["SWAPLINE_BUCKET"];
  const int worker_grace = (*worker_deployment)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"];
  ASSERT_EQ((*worker_deployment)["spec"]["replicas"], 2);

  auto redis = swapline::testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  auto swift = swapline::testing::SwiftServer::Start();
  ASSERT_TRUE(swift.ok()) << swift.status().ToString();
  auto store = (*swift)->OpenBucketForProcesses(bucket);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  TempDir dir("swapline_kube_play");
  Podman podman(dir.path());
  const int api_port = swapline::testing::FreePort();
  const std::string server = "http://127.0.0.1:" + std::to_string(api_port);
  auto play = KubePlayInput(local->objects,
                            {{"SWAPLINE_REDIS_ADDRESS", "127.0.0.1:" + std::to_string((*redis)->port())},
                             {"AWS_ENDPOINT_URL", (*swift)->endpoint()},
                             {"SWAPLINE_API_LISTEN", "127.0.0.1:" + std::to_string(api_port)}},
                            image);
  ASSERT_TRUE(play.ok()) << play.status().ToString();
  const fs::path play_file = dir.path() / "kube-play.yaml";
  swapline::testing::WriteFileBytes(play_file, *play);

  // The Secrets the manifests reference, as `podman secret`s in the formats podman
  // 4.3 reads: for env (secretKeyRef) a JSON object of base64 values, for volumes a
  // Secret object whose `data` it writes out as it is (not base64-decoded).
  const std::string s3_keys = json{{"AWS_ACCESS_KEY_ID", Base64(swapline::testing::SwiftServer::kAccessKey)},
                                   {"AWS_SECRET_ACCESS_KEY", Base64(swapline::testing::SwiftServer::kSecretKey)}}
                                  .dump();
  const std::map<std::string, std::string> secrets = {
      {"swapline-s3-api", s3_keys},
      {"swapline-s3-worker", s3_keys},
      {"swapline-api-tokens", json{{"apiVersion", "v1"},
                                   {"kind", "Secret"},
                                   {"metadata", {{"name", "swapline-api-tokens"}}},
                                   {"data", {{"tokens", std::string(kToken) + " " + kTenant + "\n"}}}}
                                  .dump()}};
  const std::set<std::string> volumes_before = [&] {
    std::istringstream lines(podman.Output({"volume", "ls", "-q"}));
    return std::set<std::string>(std::istream_iterator<std::string>(lines), {});
  }();
  for (const auto& [name, data] : secrets) {
    const fs::path file = dir.path() / (name + ".json");
    swapline::testing::WriteFileBytes(file, data);
    podman.Run({"secret", "create", name, file.string()});
  }
  struct Teardown {
    Podman& podman;
    const fs::path& play_file;
    const std::map<std::string, std::string>& secrets;
    const std::set<std::string>& volumes_before;
    ~Teardown() {
      podman.Run({"kube", "down", play_file.string()});
      for (const auto& [name, data] : secrets) podman.Run({"secret", "rm", name});
      std::istringstream lines(podman.Output({"volume", "ls", "-q"}));
      for (std::string volume; lines >> volume;) {
        if (volumes_before.count(volume) == 0) podman.Run({"volume", "rm", "-f", volume});
      }
    }
  } teardown{podman, play_file, secrets, volumes_before};

  // Start to ready: `podman kube play` until the API's /readyz answers 200.
  const auto play_start = Clock::now();
  podman.Run({"kube", "play", play_file.string()}, 300);
  const std::string readyz = server + "/readyz";
  ASSERT_TRUE(WaitFor(std::chrono::seconds(120), [&] { return HttpStatus(readyz) == 200; }))
      << podman.Logs(podman.Containers("swapline-api").at(0));
  std::cout << "kube play to API ready: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - play_start).count() << " ms\n";

  // What the securityContext asks for is what runs.
  const std::vector<std::string> api_containers = podman.Containers("swapline-api");
  std::vector<std::string> workers = podman.Containers("swapline-worker");
  ASSERT_EQ(api_containers.size(), 1u);
  ASSERT_EQ(workers.size(), 2u);
  for (const std::string& c : {api_containers[0], workers[0], workers[1]}) {
    EXPECT_EQ(podman.Output({"inspect", "--format", "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}", c}),
              "10001:10001 true")
        << c;
  }

  ApiClient client(server, kToken);
  std::vector<std::string> jobs;
  std::map<std::string, int> expected_attempts;  // jobs whose attempts are known
  auto submit = [&](const std::string& target) {
    const auto run = RunProcess(SWAPLINE_BINARY,
                                {"jobs", "submit", "--server", server, "--token", kToken, "-s", kFace, "-t", target,
                                 "--output-video-preset", "ultrafast"},
                                dir.path() / ("submit-" + std::to_string(jobs.size())), 120);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    jobs.push_back(Trim(run.out).substr(Trim(run.out).rfind('\n') + 1));
    return jobs.back();
  };
  auto job_state = [&](const std::string& id) {
    auto job = client.Call("GET", "/v1/jobs/" + id);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : json::object();
  };
  // The worker container whose log shows it claimed `id`, once the job has run for a while.
  // The holder is found first (podman's calls are slow next to a short video), then the
  // job's progress is polled on the API alone, so the caller acts soon after 10 %.
  // Empty when the job ended before its holder was seen.
  auto holder_mid_job = [&](const std::string& id) -> std::string {
    std::string holder;
    WaitFor(std::chrono::seconds(600), [&] {
      const std::string state = job_state(id).value("state", "");
      if (state == "succeeded" || state == "failed") return true;
      if (state != "running") return false;
      for (const std::string& w : workers) {
        if (podman.State(w, "Running") == "true" && podman.Logs(w).find("job_id=" + id) != std::string::npos) {
          holder = w;
        }
      }
      return !holder.empty();
    });
    WaitFor(std::chrono::seconds(600), [&] {
      const json job = job_state(id);
      return job.value("state", "") != "running" || job.value("progress", 0.0) >= 0.1;
    });
    return holder;
  };
  // A stopped worker comes back, as a Deployment's replacement pod would.
  auto restart = [&](const std::string& w) {
    if (podman.State(w, "Running") != "true") podman.Run({"start", w});
  };
  // A worker is killed from outside podman, as the kernel's OOM killer would kill it,
  // and the pod's restart policy (kube play's default `always`, as the kubelet's)
  // brings it back. Not `podman kill` then `podman start`: podman 4.3 may process the
  // killed process's exit after that start and stop the new one (seen in CI: the
  // restarted worker died mid-job, its state still the kill's exit code 137).
  auto restart_count = [&](const std::string& w) {
    return std::stoi(podman.Output({"inspect", "--format", "{{.RestartCount}}", w}));
  };
  auto sigkill = [&](const std::string& w) {
    const pid_t pid = std::stoi(podman.State(w, "Pid"));
    ASSERT_GT(pid, 0) << w << " has no process";
    ASSERT_EQ(::kill(pid, SIGKILL), 0) << "kill " << pid << ": " << std::strerror(errno);
  };
  auto await_restart = [&](const std::string& w, int restarts_before) {
    const auto since = Clock::now();
    ASSERT_TRUE(WaitFor(std::chrono::seconds(60), [&] {
      return restart_count(w) > restarts_before && podman.State(w, "Running") == "true";
    })) << w << " was not restarted by its restart policy";
    std::cout << w << " restarted by its restart policy in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count() << " ms\n";
  };

  // Submits long videos until one's holder is seen mid-job (three at most): that video and
  // its holder, or empty ones. A video that ended unseen ran once.
  auto video_caught_mid_job = [&]() -> std::pair<std::string, std::string> {
    for (int tries = 0; tries < 3; ++tries) {
      const std::string video = submit(kLongVideo);
      const std::string holder = holder_mid_job(video);
      if (!holder.empty()) return {video, holder};
      expected_attempts[video] = 1;
    }
    return {};
  };

  // 1. SIGKILL mid-job: another worker (or the restarted one) takes the video over. A job
  // that ended between the last poll and the kill ran once: the kill is tried on a new one.
  std::string killed_video;
  for (int tries = 0; tries < 3 && killed_video.empty(); ++tries) {
    const auto [video, holder] = video_caught_mid_job();
    ASSERT_FALSE(holder.empty()) << "never saw a video running";
    const int restarts = restart_count(holder);
    ASSERT_NO_FATAL_FAILURE(sigkill(holder));
    const json after_kill = job_state(video);
    const bool ended_first = after_kill.value("state", "") == "succeeded";
    std::cout << "SIGKILL to " << holder << " at " << after_kill.value("progress", 0.0) * 100 << " % of the video"
              << (ended_first ? ", which had ended" : "") << "\n";
    expected_attempts[video] = ended_first ? 1 : 2;
    if (!ended_first) killed_video = video;
    ASSERT_NO_FATAL_FAILURE(await_restart(holder, restarts));
  }
  ASSERT_FALSE(killed_video.empty()) << "every video ended before its worker was killed";

  // 2. Image jobs, and a second video that the worker holding it is stopped during.
  for (const char* photo : {"eileen_collins_nasa_portrait.png", "obama_official_portrait_2012.jpg",
                            "abraham_lincoln_gardner_1863.jpg", "cameraman_cc0_varshney.png"}) {
    expected_attempts[submit(kTestdata + "/photos/" + photo)] = 1;
  }
  const std::string drained_holder = video_caught_mid_job().second;
  ASSERT_FALSE(drained_holder.empty()) << "never saw the second video running";
  const auto stop_start = Clock::now();
  podman.Run({"stop", "--time", std::to_string(worker_grace), drained_holder}, worker_grace + 30);
  EXPECT_EQ(podman.State(drained_holder, "ExitCode"), "0") << "a SIGTERMed worker drains and exits 0";
  EXPECT_LT(Clock::now() - stop_start, std::chrono::seconds(worker_grace)) << "it was killed at the grace's end";
  const std::string drained_log = podman.Logs(drained_holder);
  EXPECT_NE(drained_log.find("draining"), std::string::npos) << drained_log;
  std::cout << "SIGTERM to " << drained_holder << ": exit 0 after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stop_start).count() << " ms, "
            << (drained_log.find("grace period over") != std::string::npos ? "the video released to the queue"
                                                                           : "the video finished")
            << "\n";
  restart(drained_holder);

  // 3. Every job succeeds exactly once.
  auto all_settled = [&] {
    return WaitFor(std::chrono::seconds(900), [&] {
      for (const std::string& id : jobs) {
        const std::string state = job_state(id).value("state", "");
        if (state == "queued" || state == "running" || state.empty()) return false;
      }
      return true;
    });
  };
  EXPECT_TRUE(all_settled()) << podman.Logs(workers[0]) << podman.Logs(workers[1]);
  // The killed worker's scratch went when it came back (its emptyDir outlives it).
  for (const std::string& w : workers) {
    const fs::path scratch = podman.Output(
        {"inspect", "--format", "{{range .Mounts}}{{if eq .Destination \"/scratch\"}}{{.Source}}{{end}}{{end}}", w});
    EXPECT_EQ(swapline::testing::ListDir(scratch), std::vector<std::string>{}) << w << ": " << scratch;
  }

  // 4. Redis away: the API is not ready; back: ready again, and jobs run.
  ASSERT_TRUE((*redis)->Stop(/*keep_data=*/true).ok());
  auto since = Clock::now();
  EXPECT_TRUE(WaitFor(std::chrono::seconds(60), [&] { return HttpStatus(readyz) == 503; }))
      << "/readyz does not answer 503 with Redis stopped";
  std::cout << "Redis stopped: /readyz 503 after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count() << " ms\n";
  ASSERT_TRUE((*redis)->Restart().ok());
  since = Clock::now();
  EXPECT_TRUE(WaitFor(std::chrono::seconds(60), [&] { return HttpStatus(readyz) == 200; }))
      << "/readyz did not recover after Redis came back";
  std::cout << "Redis back: /readyz 200 after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count() << " ms\n";
  expected_attempts[submit(kTestdata + "/photos/eileen_collins_nasa_portrait.png")] = 1;
  EXPECT_TRUE(all_settled());

  for (const std::string& id : jobs) {
    const json job = job_state(id);
    EXPECT_EQ(job.value("state", ""), "succeeded") << job.dump();
    if (expected_attempts.count(id) != 0) {
      EXPECT_EQ(job.value("attempts", 0), expected_attempts[id]) << job.dump();
    } else {
      std::cout << "drained video: " << job.value("attempts", 0) << " attempt(s)\n";
    }
  }
  std::size_t outputs = 0;
  for (const std::string kind : {"images", "videos"}) {
    auto listed = storage::ListAll(**store, kind + "/output/" + kTenant + "/");
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    for (const auto& info : *listed) {
      EXPECT_EQ(std::count_if(jobs.begin(), jobs.end(),
                              [&](const std::string& id) { return info.key.find(id) != std::string::npos; }),
                1)
          << info.key;
    }
    outputs += listed->size();
  }
  EXPECT_EQ(outputs, jobs.size()) << "one result object per job";
  auto uploads = (*store)->ListMultipartUploads("");
  ASSERT_TRUE(uploads.ok()) << uploads.status().ToString();
  EXPECT_TRUE(uploads->empty()) << uploads->size() << " incomplete multipart upload(s)";

  // 5. The pods stop as Kubernetes stops them: SIGTERM, the grace, exit 0.
  for (const std::string& w : workers) {
    podman.Run({"stop", "--time", std::to_string(worker_grace), w}, worker_grace + 30);
    EXPECT_EQ(podman.State(w, "ExitCode"), "0") << podman.Logs(w);
  }
  podman.Run({"stop", "--time", "30", api_containers[0]}, 60);
  EXPECT_EQ(podman.State(api_containers[0], "ExitCode"), "0") << podman.Logs(api_containers[0]);
}

}  // namespace
}  // namespace swapline::service
