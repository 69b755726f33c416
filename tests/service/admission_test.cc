// Job admission (service/admission.h): operator limits from files and flags, and
// specs held to them — every case here was accepted before admission existed and
// failed late (retryable), overflowed, or ran unbounded.
#include <gtest/gtest.h>

#include <fstream>

#include "cli/cli_test_util.h"
#include "service/admission.h"

namespace swapline::service {
namespace {

using nlohmann::json;
using swapline::testing::TempDir;

const storage::StorageUri kStore = *storage::ParseStorageUri("s3://bucket");

job::JobSpec Spec(const std::string& target = "images/input/acme/1/t.jpg", json options = json::object()) {
  job::JobSpec spec;
  spec.sources = {"images/input/acme/1/s.jpg"};
  spec.target = target;
  spec.options = std::move(options);
  EXPECT_TRUE(job::FinalizeJobSpec(spec, "acme").ok());
  return spec;
}

Status AdmitWith(const json& options, Limits limits = {}, const std::string& target = "images/input/acme/1/t.jpg") {
  return Admission(limits, kStore).Admit(Spec(target, options)).status();
}

void ExpectLimit(const Status& status, const std::string& limit) {
  EXPECT_EQ(status.code(), Code::kTooLarge) << status.ToString();
  EXPECT_EQ(status.message().rfind("limit " + limit + ":", 0), 0u) << status.ToString();
}

TEST(Limits, LoadFromTomlAndJsonAndFlags) {
  TempDir dir("swapline_limits");
  {
    std::ofstream toml(dir.path() / "limits.toml");
    toml << "# operator limits\nmax_video_seconds = 30\nmax_image_pixels = 4000000\n"
            "allowed_callback_hosts = [\"hooks.internal\", \"10.0.0.0/8\"]\n";
    std::ofstream json_file(dir.path() / "limits.json");
    json_file << R"({"max_output_fps": 60, "max_active_jobs_per_tenant": 5})";
  }
  auto toml = LoadLimits(dir.path() / "limits.toml");
  ASSERT_TRUE(toml.ok()) << toml.status().ToString();
  EXPECT_EQ(toml->max_video_seconds, 30);
  EXPECT_EQ(toml->max_image_pixels, 4'000'000);
  EXPECT_EQ(toml->allowed_callback_hosts, (std::vector<std::string>{"hooks.internal", "10.0.0.0/8"}));
  EXPECT_EQ(toml->max_video_frames, Limits{}.max_video_frames);  // untouched keys keep their defaults
  auto from_json = LoadLimits(dir.path() / "limits.json");
  ASSERT_TRUE(from_json.ok()) << from_json.status().ToString();
  EXPECT_EQ(from_json->max_output_fps, 60);
  EXPECT_EQ(from_json->max_active_jobs_per_tenant, 5);

  auto flags = LimitsFromFlags((dir.path() / "limits.toml").string(),
                               {"max_video_seconds=12.5", "allowed_callback_hosts=127.0.0.1/32,::1"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->max_video_seconds, 12.5);
  EXPECT_EQ(flags->max_image_pixels, 4'000'000);
  EXPECT_EQ(flags->allowed_callback_hosts, (std::vector<std::string>{"127.0.0.1/32", "::1"}));
}

TEST(Limits, RefusesUnknownNamesAndBadValues) {
  TempDir dir("swapline_limits");
  std::ofstream(dir.path() / "bad.toml") << "max_pixelz = 5\n";
  auto unknown = LoadLimits(dir.path() / "bad.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("max_pixelz: unknown limit"), std::string::npos);
  std::ofstream(dir.path() / "broken.toml") << "max_image_pixels = = 5\n";
  EXPECT_FALSE(LoadLimits(dir.path() / "broken.toml").ok());
  EXPECT_FALSE(LoadLimits(dir.path() / "missing.toml").ok());
  Limits limits;
  EXPECT_FALSE(SetLimit(limits, "max_image_pixels=-1").ok());
  EXPECT_FALSE(SetLimit(limits, "max_image_pixels=lots").ok());
  EXPECT_FALSE(SetLimit(limits, "max_output_side=99999999999").ok());  // over int
  EXPECT_FALSE(SetLimit(limits, "nolimit").ok());
  EXPECT_FALSE(SetLimit(limits, "allowed_callback_hosts=10.0.0.0/99").ok());
  EXPECT_TRUE(SetLimit(limits, "max_upload_bytes=1048576").ok());
  EXPECT_EQ(limits.max_upload_bytes, 1048576u);
}

TEST(Admission, MapsReferencesAndPinsKinds) {
  auto admitted = Admission({}, kStore).Admit(Spec("s3://bucket/videos/input/acme/1/t.mp4"));
  ASSERT_TRUE(admitted.ok()) << admitted.status().ToString();
  EXPECT_TRUE(admitted->video);
  EXPECT_EQ(admitted->target_key, "videos/input/acme/1/t.mp4");
  EXPECT_EQ(admitted->spec.target, "videos/input/acme/1/t.mp4");
  EXPECT_EQ(admitted->source_keys, (std::vector<std::string>{"images/input/acme/1/s.jpg"}));
  // Decoding of a video always stops at the operator's frame limit.
  EXPECT_EQ(admitted->options.trim_frame_end, Limits{}.max_video_frames);

  job::JobSpec other = Spec();
  other.target = "images/input/globex/1/t.jpg";
  EXPECT_EQ(Admission({}, kStore).Admit(other).status().code(), Code::kPermissionDenied);
  job::JobSpec wrong_output = Spec();
  wrong_output.output = "images/output/acme/1/out.mp4";  // a video file for an image target
  EXPECT_EQ(Admission({}, kStore).Admit(wrong_output).status().code(), Code::kInvalidArgument);
  job::JobSpec long_name = Spec();
  long_name.output = "images/output/acme/1/" + std::string(300, 'a') + ".png";
  EXPECT_EQ(Admission({}, kStore).Admit(long_name).status().code(), Code::kInvalidArgument);
  job::JobSpec video_source = Spec();
  video_source.sources = {"videos/input/acme/1/face.mp4"};
  EXPECT_EQ(Admission({}, kStore).Admit(video_source).status().code(), Code::kInvalidArgument);
}

TEST(Admission, HoldsOptionsToTheOperatorsLimits) {
  ExpectLimit(AdmitWith({{"face-detector-size", "100000"}}), "max_face_detector_size");
  ExpectLimit(AdmitWith({{"face-detector-size", "640x100000"}}), "max_face_detector_size");
  ExpectLimit(AdmitWith({{"max-pixels", 200'000'000}}), "max_image_pixels");
  // 46341² overflows int: 64-bit arithmetic and per-side bounds refuse it.
  ExpectLimit(AdmitWith({{"output-image-resolution", "46341x46341"}}), "max_output_side");
  ExpectLimit(AdmitWith({{"output-video-fps", 3e6}}, {}, "videos/input/acme/1/t.mp4"), "max_output_fps");
  ExpectLimit(AdmitWith({{"execution-thread-count", 100000}}, {}, "videos/input/acme/1/t.mp4"),
              "max_execution_threads");
  ExpectLimit(AdmitWith({{"trim-frame-start", 0}, {"trim-frame-end", 10'000'000}}, {}, "videos/input/acme/1/t.mp4"),
              "max_video_frames");
  // A tenant may ask for less than the operator allows.
  EXPECT_TRUE(AdmitWith({{"max-pixels", 1'000'000}, {"face-detector-size", "1024"}}).ok());
  Limits tight;
  tight.max_output_side = 1000;
  ExpectLimit(AdmitWith({{"output-image-resolution", "1280x720"}}, tight), "max_output_side");
  // Values the pipeline refuses are admission errors too, not a worker's.
  EXPECT_EQ(AdmitWith({{"face-selector-mode", "sideways"}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(AdmitWith({{"face-recognizer-model", "../etc/passwd"}}).code(), Code::kInvalidArgument);
}

TEST(Admission, RefusesCallbacksToInternalAddresses) {
  job::JobSpec spec = Spec();
  spec.callback_url = "http://169.254.169.254/latest/meta-data/";
  EXPECT_EQ(Admission({}, kStore).Admit(spec).status().code(), Code::kPermissionDenied);
  Limits allowed;
  allowed.allowed_callback_hosts = {"169.254.0.0/16"};
  EXPECT_TRUE(Admission(allowed, kStore).Admit(spec).ok());
}

TEST(Admission, NewJobIdsCarryTheCurrentTime) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_TRUE(Admission::CheckNewJobId(job::NewJobId(now), now).ok());
  EXPECT_FALSE(Admission::CheckNewJobId(job::NewJobId(now + std::chrono::hours(24 * 365 * 100)), now).ok());
  EXPECT_FALSE(Admission::CheckNewJobId(job::NewJobId(now - std::chrono::hours(1)), now).ok());
  EXPECT_FALSE(Admission::CheckNewJobId("not-an-id", now).ok());
}

TEST(Admission, VideoTargetsWithinLimits) {
  const Admission admission({}, kStore);
  media::VideoInfo info;
  info.width = 1920;
  info.height = 1080;
  info.duration_s = 5;
  info.frame_count = 150;
  EXPECT_TRUE(admission.CheckVideoTarget(info).ok());
  info.width = info.height = 46341;  // int overflow of width × height
  ExpectLimit(admission.CheckVideoTarget(info), "max_video_frame_pixels");
  info.width = 1920;
  info.height = 1080;
  info.duration_s = 86400;
  ExpectLimit(admission.CheckVideoTarget(info), "max_video_seconds");
  info.duration_s = 5;
  info.frame_count = 10'000'000;
  ExpectLimit(admission.CheckVideoTarget(info), "max_video_frames");
  EXPECT_TRUE(admission.CheckInputSize("target", 1024).ok());
  ExpectLimit(admission.CheckInputSize("target", 1ull << 40), "max_upload_bytes");
}

}  // namespace
}  // namespace swapline::service
