// Integration tests of `swapline swap`: the built executable (SWAPLINE_BINARY) runs on
// the test photos (SWAPLINE_TESTDATA_DIR, read by path); outputs go to a temporary
// folder that is removed afterwards. Checks use the library itself: media::ReadImage
// to decode, FaceAnalyser to find where the faces are.

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cli/cli_test_util.h"
#include "cli/exit_codes.h"
#include "core/version.h"
#include "media/image_codec.h"
#include "storage/hashing.h"
#include "support/brought_models.h"
#include "support/landmark_distance.h"
#include "vision/face.h"
#include "vision/face_analyser.h"
#include "vision/face_glasses.h"
#include "vision/face_masker.h"
#include "vision/face_mesh_landmarker.h"
#include "vision/face_selector.h"
#include "vision/face_swapper.h"

namespace swapline {
namespace {

namespace fs = std::filesystem;
using swapline::testing::ListDir;
using swapline::testing::MeanLandmarkDistance;
using swapline::testing::ReadFileBytes;
using swapline::testing::RunProcess;
using swapline::testing::RunResult;
using swapline::testing::TempDir;
using swapline::testing::WriteFileBytes;
using vision::Face;

const std::string kBinary = SWAPLINE_BINARY;
const std::string kPhotos = SWAPLINE_TESTDATA_DIR "/photos/";
const std::string kRecognizerModel = SWAPLINE_MODELS_DIR "/dlib/face_recognition_densenet_model_v1.dat";
const std::string kFaceMeshModel = SWAPLINE_MODELS_DIR "/facemesh/face_landmark_barracuda_folded.onnx";
const std::string kHopper = kPhotos + "grace_hopper_usn_portrait.jpg";
const std::string kCollins = kPhotos + "eileen_collins_nasa_portrait.png";
const std::string kObama = kPhotos + "obama_official_portrait_2012.jpg";
const std::string kLincoln = kPhotos + "abraham_lincoln_gardner_1863.jpg";
const std::string kTwoFaces = kPhotos + "obama_biden_blue_room_2010_two_faces.jpg";
const std::string kNoFaceCoffee = kPhotos + "noface_coffee.png";
const std::string kNoFaceCat = kPhotos + "noface_chelsea_cat.png";

// Pixels around the landmark outline that the swap may touch (anti-aliased edge).
constexpr int kRegionDilatePx = 3;
// Bound on the mean landmark drift between target and swapped output.
constexpr double kMaxLandmarkDrift = 0.04;  // of the face width

// ---- Image helpers. ----

cv::Mat ReadOrFail(const fs::path& path) {
  auto image = media::ReadImage(path);
  EXPECT_TRUE(image.ok()) << path << ": " << image.status().ToString();
  return image.ok() ? *image : cv::Mat();
}

// 255 where any channel differs.
cv::Mat Changed(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  cv::Mat grey;
  cv::transform(diff, grey, cv::Matx13f(1, 1, 1));
  return grey > 0;
}

double MeanAbsDiff(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar m = cv::mean(diff, mask);
  return (m[0] + m[1] + m[2]) / 3.0;
}

double Psnr(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask) {
  cv::Mat fa, fb, diff;
  a.convertTo(fa, CV_32FC3);
  b.convertTo(fb, CV_32FC3);
  cv::absdiff(fa, fb, diff);
  diff = diff.mul(diff);
  const cv::Scalar m = cv::mean(diff, mask);
  const double mse = (m[0] + m[1] + m[2]) / 3.0;
  return mse <= 1e-10 ? 100.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

// The filled convex hull of `outline`, grown by `grow` px (shrunk when negative).
cv::Mat Hull(const std::vector<cv::Point2f>& outline, cv::Size size, int grow) {
  std::vector<cv::Point2f> hull;
  cv::convexHull(outline, hull);
  const std::vector<cv::Point> polygon = vision::RoundedPoints(hull);
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  cv::fillConvexPoly(mask, polygon, cv::Scalar(255));
  if (grow > 0) {
    const int k = 2 * grow + 1;
    cv::dilate(mask, mask, cv::getStructuringElement(cv::MORPH_ELLIPSE, {k, k}));
  } else if (grow < 0) {
    // Erosion by a large disc, via the distance to the outside (a 300 px kernel on a
    // 10-megapixel image would take seconds).
    cv::Mat distance;
    cv::distanceTransform(mask, distance, cv::DIST_L2, cv::DIST_MASK_PRECISE);
    mask = distance > static_cast<float>(-grow);
  }
  return mask;
}

// The hull of the face outline (jaw + raised brows), grown by `grow` px.
cv::Mat FaceHull(const Face& face, cv::Size size, int grow) {
  return Hull(vision::FaceOutline(face.landmarks68, size), size, grow);
}

// The hull of the swap's outline (the face outline plus the reach of the shape morph,
// vision::SwapOutline), grown by kRegionDilatePx, and its bounding rectangle.
cv::Mat SwapHull(const Face& face, cv::Size size) {
  return Hull(vision::SwapOutline(face.landmarks68, size), size, kRegionDilatePx);
}
cv::Rect SwapBounds(const Face& face, cv::Size size) {
  const cv::Rect bounds = cv::boundingRect(vision::SwapOutline(face.landmarks68, size));
  const cv::Rect grown(bounds.x - kRegionDilatePx, bounds.y - kRegionDilatePx, bounds.width + 2 * kRegionDilatePx,
                       bounds.height + 2 * kRegionDilatePx);
  return grown & cv::Rect(0, 0, size.width, size.height);
}

// Where the swap may change pixels: the swap hulls of `faces`.
cv::Mat SwapRegion(const std::vector<Face>& faces, cv::Size size) {
  cv::Mat region = cv::Mat::zeros(size, CV_8U);
  for (const Face& face : faces) region |= SwapHull(face, size);
  return region;
}

// The core of a face: its hull shrunk by 15 % of the face width, minus the forehead.
cv::Mat FaceCore(const Face& face, cv::Size size) {
  const int shrink = std::max(2, static_cast<int>(0.15f * vision::FaceWidth(face.landmarks68)));
  cv::Mat core = FaceHull(face, size, -shrink);
  // Below the brows only (the forehead fades out in the region mask).
  float brow_y = 0;
  for (int i = 17; i <= 26; ++i) brow_y += face.landmarks68[i].y / 10.0f;
  const int top = std::clamp(cvRound(brow_y), 0, size.height);
  core.rowRange(0, top).setTo(0);
  return core;
}

float Iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

// The face of `faces` that best overlaps `box`.
const Face* Matching(const std::vector<Face>& faces, const cv::Rect2f& box, float* iou) {
  const Face* best = nullptr;
  *iou = 0;
  for (const Face& f : faces) {
    const float v = Iou(f.box, box);
    if (v > *iou) {
      *iou = v;
      best = &f;
    }
  }
  return best;
}

std::string Basename(const std::string& path) { return fs::path(path).stem().string(); }

// ---- Crafted inputs. ----

void AppendBe32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

std::string PngChunk(const std::string& type, const std::string& data) {
  std::string chunk;
  AppendBe32(chunk, static_cast<std::uint32_t>(data.size()));
  const std::string body = type + data;
  chunk += body;
  const uLong crc = ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()),
                            static_cast<uInt>(body.size()));
  AppendBe32(chunk, static_cast<std::uint32_t>(crc));
  return chunk;
}

// A PNG signature, a valid IHDR (8-bit RGB, correct CRC) claiming width x height, and
// IEND: the header of a huge image without its pixels.
std::string PngHeaderOnly(std::uint32_t width, std::uint32_t height) {
  std::string ihdr;
  AppendBe32(ihdr, width);
  AppendBe32(ihdr, height);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // depth 8, colour type 2, deflate, filter 0, no interlace
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) + PngChunk("IEND", "");
}

std::string EncodePng(const cv::Mat& image) {
  std::vector<uchar> bytes;
  cv::imencode(".png", image, bytes);
  return std::string(bytes.begin(), bytes.end());
}

// ---- Fixture. ----

class SwapCliTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    delete analyser_;
    analyser_ = nullptr;
    delete error_;
    error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(fs::is_regular_file(kBinary)) << kBinary;
    dir_ = std::make_unique<TempDir>();
    out_dir_ = dir_->Sub("out");
    inputs_ = dir_->Sub("inputs");
  }

  RunResult Swapline(const std::vector<std::string>& args) {
    const fs::path logs = dir_->path() / ("logs" + std::to_string(runs_++));
    RunResult r = RunProcess(kBinary, args, logs, 120);
    EXPECT_FALSE(r.timed_out) << "swapline ran over 120 s";
    return r;
  }

  // `swapline swap -s source -t target -o output extra...`
  RunResult Swap(const std::string& source, const std::string& target, const fs::path& output,
                 const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"swap", "-s", source, "-t", target, "-o", output.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Swapline(args);
  }

  // The library's default analyser, loaded on first use (each test runs in its own
  // process under ctest, and the bad-input tests never need it).
  static vision::FaceAnalyser* Analyser() {
    if (analyser_ == nullptr && error_ == nullptr) {
      auto analyser = vision::FaceAnalyser::CreateDefault();
      if (analyser.ok()) {
        analyser_ = new vision::FaceAnalyser(std::move(analyser).value());
      } else {
        error_ = new std::string(analyser.status().ToString());
      }
    }
    return analyser_;
  }

  static std::vector<Face> Analyse(const cv::Mat& image) {
    vision::FaceAnalyser* analyser = Analyser();
    EXPECT_NE(analyser, nullptr) << (error_ ? *error_ : std::string("?"));
    if (analyser == nullptr) return {};
    auto faces = analyser->Analyse(image, 0.5f, false);
    EXPECT_TRUE(faces.ok()) << faces.status().ToString();
    return faces.ok() ? *faces : std::vector<Face>{};
  }

  // Runs and expects failure with `code`, no output file and nothing left in the output folder.
  void ExpectFailsCleanly(const std::vector<std::string>& args, int code, const std::string& stderr_has = "") {
    const RunResult r = Swapline(args);
    EXPECT_EQ(r.exit_code, code) << "stderr: " << r.err;
    if (!stderr_has.empty()) {
      EXPECT_NE(r.err.find(stderr_has), std::string::npos) << "stderr: " << r.err;
    }
    const std::vector<std::string> left = ListDir(out_dir_);
    EXPECT_TRUE(left.empty()) << "left in the output folder: " << ::testing::PrintToString(left);
    EXPECT_EQ(r.out, "") << "nothing on stdout on failure";
  }

  // The synthetic-media mark of a file, or "" if none.
  static std::string MarkOf(const fs::path& path) {
    const std::string bytes = ReadFileBytes(path);
    const auto mark = media::ReadSyntheticMark(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    return mark.value_or("");
  }

  static vision::FaceAnalyser* analyser_;
  static std::string* error_;
  std::unique_ptr<TempDir> dir_;
  fs::path out_dir_;
  fs::path inputs_;
  int runs_ = 0;
};

vision::FaceAnalyser* SwapCliTest::analyser_ = nullptr;
std::string* SwapCliTest::error_ = nullptr;

// ---- Every ordered pair of test faces. ----

class SwapPairTest : public SwapCliTest, public ::testing::WithParamInterface<std::tuple<std::string, std::string>> {};

TEST_P(SwapPairTest, SwapsOnlyTheFaceAndKeepsThePose) {
  const std::string source = std::get<0>(GetParam());
  const std::string target = std::get<1>(GetParam());
  const fs::path output = out_dir_ / "swapped.png";
  // Quality 90 is zlib effort 1 for PNG: the 10-megapixel Lincoln output encodes in a
  // fraction of the default's time (quality 0, effort 9, takes ~15 s). Pixels are the same.
  const RunResult r = Swap(source, target, output, {"--output-image-quality", "90"});
  ASSERT_EQ(r.exit_code, cli::kExitOk) << r.err;
  EXPECT_EQ(r.out, output.string() + "\n");
  ASSERT_TRUE(fs::is_regular_file(output));
  EXPECT_EQ(ListDir(out_dir_), std::vector<std::string>{"swapped.png"}) << "stray files in the output folder";

  const cv::Mat before = ReadOrFail(target);
  const cv::Mat after = ReadOrFail(output);
  ASSERT_FALSE(before.empty());
  ASSERT_FALSE(after.empty());
  ASSERT_EQ(after.size(), before.size());
  ASSERT_EQ(after.type(), before.type());

  const std::vector<Face> target_faces = Analyse(before);
  ASSERT_EQ(target_faces.size(), 1u) << target;
  const Face& face = target_faces.front();

  // Outside the swap's outline, every pixel is the target's (PNG is lossless).
  const cv::Mat changed = Changed(before, after);
  const cv::Mat region = SwapRegion(target_faces, before.size());
  const int changed_outside = cv::countNonZero(changed & ~region);
  EXPECT_EQ(changed_outside, 0) << "pixels changed outside the face region";
  // Also outside the swapper's region of interest (a looser, rectangular bound).
  const cv::Rect roi = SwapBounds(face, before.size());
  cv::Mat outside_roi(before.size(), CV_8U, cv::Scalar(255));
  outside_roi(roi).setTo(0);
  EXPECT_EQ(cv::countNonZero(changed & outside_roi), 0);

  // Inside, the face changed.
  const cv::Mat core = FaceCore(face, before.size());
  ASSERT_GT(cv::countNonZero(core), 100);
  const double changed_share =
      static_cast<double>(cv::countNonZero(changed & core)) / static_cast<double>(cv::countNonZero(core));
  const double mean_diff = MeanAbsDiff(before, after, core);

  // Re-detecting the output finds the face in the same place, with the same pose.
  const std::vector<Face> output_faces = Analyse(after);
  float iou = 0;
  const Face* again = Matching(output_faces, face.box, &iou);
  ASSERT_NE(again, nullptr) << "no face found in the output";
  const double drift_px = MeanLandmarkDistance(face.landmarks68, again->landmarks68);
  const double width = vision::FaceWidth(face.landmarks68);
  std::cout << "[ swap     ] " << Basename(source) << " -> " << Basename(target) << ": " << r.seconds
            << " s, face width " << width << " px, landmark drift " << drift_px << " px ("
            << 100.0 * drift_px / width << " %), box IoU " << iou << ", core changed "
            << 100.0 * changed_share << " %, mean |diff| " << mean_diff << "\n";
  RecordProperty("landmark_drift_percent", std::to_string(100.0 * drift_px / width));
  EXPECT_GT(changed_share, 0.5);
  EXPECT_GT(mean_diff, 3.0);
  EXPECT_EQ(output_faces.size(), 1u);
  EXPECT_GT(iou, 0.6f);
  EXPECT_LT(drift_px / width, kMaxLandmarkDrift);

  // Marked as synthetic.
  EXPECT_EQ(MarkOf(output), media::SyntheticMark());
}

const std::vector<std::string> kFaces = {kHopper, kCollins, kObama, kLincoln};

std::vector<std::tuple<std::string, std::string>> DistinctPairs() {
  std::vector<std::tuple<std::string, std::string>> pairs;
  for (const auto& s : kFaces) {
    for (const auto& t : kFaces) {
      if (s != t) pairs.emplace_back(s, t);
    }
  }
  return pairs;
}

std::string ShortName(const std::string& path) {
  const std::string stem = Basename(path);
  return stem.substr(0, stem.find('_', stem.find('_') + 1));  // e.g. grace_hopper
}

INSTANTIATE_TEST_SUITE_P(AllPairs, SwapPairTest, ::testing::ValuesIn(DistinctPairs()), [](const auto& info) {
  return ShortName(std::get<0>(info.param)) + "_into_" + ShortName(std::get<1>(info.param));
});

// ---- Selection on the two-faces photo. ----

TEST_F(SwapCliTest, ManySwapsBothFacesOneOnlyTheLargest) {
  const cv::Mat before = ReadOrFail(kTwoFaces);
  std::vector<Face> faces = Analyse(before);
  ASSERT_EQ(faces.size(), 2u);
  vision::SortFaces(faces, vision::SelectorOrder::kLargeSmall);
  const Face& largest = faces[0];
  const Face& smaller = faces[1];
  const cv::Mat largest_core = FaceCore(largest, before.size());
  const cv::Mat smaller_core = FaceCore(smaller, before.size());
  const cv::Mat smaller_region = FaceHull(smaller, before.size(), kRegionDilatePx);  // its own face

  const fs::path many = out_dir_ / "many.png";
  const RunResult r_many = Swap(kCollins, kTwoFaces, many, {"--face-selector-mode", "many"});
  ASSERT_EQ(r_many.exit_code, 0) << r_many.err;
  const cv::Mat after_many = ReadOrFail(many);
  ASSERT_EQ(after_many.size(), before.size());
  const cv::Mat changed_many = Changed(before, after_many);
  EXPECT_EQ(cv::countNonZero(changed_many & ~SwapRegion(faces, before.size())), 0);
  EXPECT_GT(cv::countNonZero(changed_many & largest_core), cv::countNonZero(largest_core) / 2);
  EXPECT_GT(cv::countNonZero(changed_many & smaller_core), cv::countNonZero(smaller_core) / 2);

  const fs::path one = out_dir_ / "one.png";
  const RunResult r_one = Swap(kCollins, kTwoFaces, one, {"--face-selector-mode", "one"});
  ASSERT_EQ(r_one.exit_code, 0) << r_one.err;
  const cv::Mat after_one = ReadOrFail(one);
  const cv::Mat changed_one = Changed(before, after_one);
  EXPECT_EQ(cv::countNonZero(changed_one & ~SwapHull(largest, before.size())), 0);
  EXPECT_GT(cv::countNonZero(changed_one & largest_core), cv::countNonZero(largest_core) / 2);
  EXPECT_EQ(cv::countNonZero(changed_one & smaller_region), 0) << "the smaller face must stay untouched";
  // The swapped face is the same in both runs.
  EXPECT_EQ(cv::countNonZero(Changed(after_one, after_many) & largest_core), 0);
}

TEST_F(SwapCliTest, OneWithOrderPicksTheFirstInThatOrder) {
  const cv::Mat before = ReadOrFail(kTwoFaces);
  std::vector<Face> faces = Analyse(before);
  ASSERT_EQ(faces.size(), 2u);
  vision::SortFaces(faces, vision::SelectorOrder::kRightLeft);
  const fs::path output = out_dir_ / "right.png";
  const RunResult r =
      Swap(kHopper, kTwoFaces, output, {"--face-selector-mode", "one", "--face-selector-order", "right-left"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat changed = Changed(before, ReadOrFail(output));
  EXPECT_GT(cv::countNonZero(changed & FaceCore(faces[0], before.size())), 0);
  EXPECT_EQ(cv::countNonZero(changed & FaceHull(faces[1], before.size(), kRegionDilatePx)), 0);
}

TEST_F(SwapCliTest, ReferenceModeWithRecognizerSwapsTheReferencePerson) {
  const cv::Mat before = ReadOrFail(kTwoFaces);
  std::vector<Face> faces = Analyse(before);
  ASSERT_EQ(faces.size(), 2u);
  vision::SortFaces(faces, vision::SelectorOrder::kLeftRight);
  for (int position : {0, 1}) {
    const fs::path output = out_dir_ / ("reference" + std::to_string(position) + ".png");
    const RunResult r = Swap(kCollins, kTwoFaces, output,
                             {"--face-selector-mode", "reference", "--face-recognizer-model", kRecognizerModel,
                              "--face-selector-order", "left-right", "--reference-face-position",
                              std::to_string(position)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const cv::Mat changed = Changed(before, ReadOrFail(output));
    const Face& chosen = faces[static_cast<std::size_t>(position)];
    const Face& other = faces[static_cast<std::size_t>(1 - position)];
    EXPECT_GT(cv::countNonZero(changed & FaceCore(chosen, before.size())), 0) << "position " << position;
    EXPECT_EQ(cv::countNonZero(changed & FaceHull(other, before.size(), kRegionDilatePx)), 0)
        << "position " << position;
    fs::remove(output);
  }
}

// ---- Output formats. ----

TEST_F(SwapCliTest, JpegWebpAndBmpOutputsWorkAndCarryTheMark) {
  const cv::Mat before = ReadOrFail(kHopper);
  const std::vector<Face> faces = Analyse(before);
  ASSERT_EQ(faces.size(), 1u);
  const cv::Mat outside = ~SwapRegion(faces, before.size());
  struct Format {
    const char* name;
    media::ImageFormat format;
    bool lossless;
  };
  for (const Format& f : {Format{"out.jpg", media::ImageFormat::kJpeg, false},
                          Format{"out.JPEG", media::ImageFormat::kJpeg, false},
                          Format{"out.webp", media::ImageFormat::kWebp, false},
                          Format{"out.bmp", media::ImageFormat::kBmp, true}}) {
    SCOPED_TRACE(f.name);
    const fs::path output = out_dir_ / f.name;
    const RunResult r = Swap(kCollins, kHopper, output, {"--output-image-quality", "90"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(fs::is_regular_file(output));
    EXPECT_EQ(ListDir(out_dir_), std::vector<std::string>{f.name});
    const std::string bytes = ReadFileBytes(output);
    auto info = media::ProbeImage(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->format, f.format);
    const cv::Mat after = ReadOrFail(output);
    ASSERT_EQ(after.size(), before.size());
    EXPECT_EQ(MarkOf(output), media::SyntheticMark());
    if (f.lossless) {
      EXPECT_EQ(cv::countNonZero(Changed(before, after) & outside), 0);
    } else {
      const double psnr = Psnr(before, after, outside);
      std::cout << "[ format   ] " << f.name << ": PSNR outside the face " << psnr << " dB\n";
      EXPECT_GT(psnr, 30.0);
    }
    fs::remove(output);
  }
}

TEST_F(SwapCliTest, PoissonBlendChangesOnlyTheFace) {
  const cv::Mat before = ReadOrFail(kObama);
  const std::vector<Face> faces = Analyse(before);
  ASSERT_EQ(faces.size(), 1u);
  const fs::path output = out_dir_ / "poisson.png";
  const RunResult r =
      Swap(kHopper, kObama, output, {"--face-swapper-blend", "poisson", "--output-image-quality", "90"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat after = ReadOrFail(output);
  ASSERT_EQ(after.size(), before.size());
  const cv::Mat changed = Changed(before, after);
  const cv::Mat core = FaceCore(faces.front(), before.size());
  EXPECT_GT(cv::countNonZero(changed & core), cv::countNonZero(core) / 2);
  // Nothing outside the swapper's rectangular region of interest.
  const cv::Rect roi = SwapBounds(faces.front(), before.size());
  cv::Mat outside_roi(before.size(), CV_8U, cv::Scalar(255));
  outside_roi(roi).setTo(0);
  EXPECT_EQ(cv::countNonZero(changed & outside_roi), 0);
  // Nor outside the swap's outline (vision/face_swapper.h: the face outline plus the
  // shape morph's reach).
  const cv::Mat leaked = changed & ~SwapRegion(faces, before.size());
  EXPECT_EQ(cv::countNonZero(leaked), 0) << "pixels changed outside the swap outline (+" << kRegionDilatePx
                                         << " px)";
}

TEST_F(SwapCliTest, MaskOptionsChangeOnlyTheFace) {
  const cv::Mat before = ReadOrFail(kObama);
  const std::vector<Face> faces = Analyse(before);
  ASSERT_EQ(faces.size(), 1u);
  const cv::Mat region = SwapRegion(faces, before.size());
  const cv::Mat core = FaceCore(faces.front(), before.size());
  const std::vector<std::vector<std::string>> variants = {
      {"--face-mask-types", "area", "--face-mask-blur", "0"},
      {"--face-mask-types", "box", "area", "--face-mask-blur", "1", "--face-mask-padding", "10", "5"},
      {"--no-color-transfer"},
  };
  for (const auto& extra : variants) {
    SCOPED_TRACE(::testing::PrintToString(extra));
    const fs::path output = out_dir_ / "variant.png";
    std::vector<std::string> args = extra;
    args.insert(args.end(), {"--output-image-quality", "90"});
    const RunResult r = Swap(kHopper, kObama, output, args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const cv::Mat after = ReadOrFail(output);
    ASSERT_EQ(after.size(), before.size());
    const cv::Mat changed = Changed(before, after);
    EXPECT_EQ(cv::countNonZero(changed & ~region), 0) << "pixels changed outside the face region";
    EXPECT_GT(cv::countNonZero(changed & core), cv::countNonZero(core) / 2);
    fs::remove(output);
  }
}

TEST_F(SwapCliTest, FaceMeshLandmarkerChangesOnlyTheFace) {
  const cv::Mat before = ReadOrFail(kObama);
  // Where the swap may reach: the outline of Face Mesh's points, as the swap sees them.
  auto landmarker = vision::LoadFaceMeshLandmarker(kFaceMeshModel);
  ASSERT_TRUE(landmarker.ok()) << landmarker.status().ToString();
  vision::FaceAnalyser mesh_analyser(vision::NewHogFaceDetector(), std::move(landmarker).value(), nullptr);
  auto faces = mesh_analyser.Analyse(before, 0.5f, false);
  ASSERT_TRUE(faces.ok()) << faces.status().ToString();
  ASSERT_EQ(faces->size(), 1u);
  const fs::path mesh_output = out_dir_ / "face_mesh.png";
  const RunResult r = Swap(kHopper, kObama, mesh_output,
                           {"--face-landmarker-model", "face_mesh", "--models-dir", SWAPLINE_MODELS_DIR,
                            "--output-image-quality", "90"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat after = ReadOrFail(mesh_output);
  ASSERT_EQ(after.size(), before.size());
  const cv::Mat changed = Changed(before, after);
  EXPECT_EQ(cv::countNonZero(changed & ~SwapRegion(*faces, before.size())), 0) << "pixels changed outside the face";
  const cv::Mat core = FaceCore(faces->front(), before.size());
  EXPECT_GT(cv::countNonZero(changed & core), cv::countNonZero(core) / 2);
  // The option took effect: the default landmarker's swap differs.
  const fs::path dlib_output = out_dir_ / "dlib_68.png";
  ASSERT_EQ(Swap(kHopper, kObama, dlib_output, {"--output-image-quality", "90"}).exit_code, 0);
  EXPECT_GT(cv::countNonZero(Changed(ReadOrFail(dlib_output), after)), 1000);
}

TEST_F(SwapCliTest, OutputResolutionResizes) {
  const fs::path output = out_dir_ / "small.png";
  const RunResult r = Swap(kCollins, kHopper, output, {"--output-image-resolution", "256x300"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat after = ReadOrFail(output);
  EXPECT_EQ(after.size(), cv::Size(256, 300));
  EXPECT_EQ(MarkOf(output), media::SyntheticMark());
}

TEST_F(SwapCliTest, MarkNamesToolAndVersion) {
  const std::string mark = media::SyntheticMark();
  EXPECT_NE(mark.find("swapline"), std::string::npos) << mark;
  EXPECT_NE(mark.find(kVersion), std::string::npos) << mark;
}

// ---- No face in the target: written unchanged. ----

TEST_F(SwapCliTest, TargetWithoutFaceIsWrittenUnchanged) {
  for (const std::string& target : {kNoFaceCoffee, kNoFaceCat}) {
    SCOPED_TRACE(target);
    const fs::path output = out_dir_ / "unchanged.png";
    const RunResult r = Swap(kHopper, target, output);
    ASSERT_EQ(r.exit_code, cli::kExitOk) << r.err;
    const cv::Mat before = ReadOrFail(target);
    const cv::Mat after = ReadOrFail(output);
    ASSERT_EQ(after.size(), before.size());
    EXPECT_EQ(cv::countNonZero(Changed(before, after)), 0);
    EXPECT_EQ(MarkOf(output), media::SyntheticMark()) << "written by swapline, so marked";
    EXPECT_NE(r.err.find("no face"), std::string::npos) << "a warning: " << r.err;
    fs::remove(output);
  }
}

// ---- Bad input: documented exit code and no output. ----

class BadInputTest : public SwapCliTest {
 protected:
  void SetUp() override {
    SwapCliTest::SetUp();
    if (HasFatalFailure()) return;
    output_ = (out_dir_ / "out.png").string();
  }

  // `file` as the source (valid target), then as the target (valid source).
  void ExpectBadAsSourceAndTarget(const fs::path& file, int code, const std::string& stderr_has = "") {
    {
      SCOPED_TRACE("as source");
      ExpectFailsCleanly({"swap", "-s", file.string(), "-t", kHopper, "-o", output_}, code, stderr_has);
    }
    {
      SCOPED_TRACE("as target");
      ExpectFailsCleanly({"swap", "-s", kHopper, "-t", file.string(), "-o", output_}, code, stderr_has);
    }
  }

  std::string output_;
};

TEST_F(BadInputTest, MissingFile) {
  ExpectBadAsSourceAndTarget(inputs_ / "does_not_exist.jpg", cli::kExitBadInput, "does_not_exist.jpg");
}

TEST_F(BadInputTest, ZeroByteFile) {
  const fs::path file = inputs_ / "empty.jpg";
  WriteFileBytes(file, "");
  ExpectBadAsSourceAndTarget(file, cli::kExitBadInput, "empty");
}

TEST_F(BadInputTest, TextFileNamedJpg) {
  const fs::path file = inputs_ / "notes.jpg";
  WriteFileBytes(file, "This is a text file, not a JPEG.\nIt only has a .jpg name.\n");
  ExpectBadAsSourceAndTarget(file, cli::kExitBadInput, "notes.jpg");
}

TEST_F(BadInputTest, TruncatedJpeg) {
  const std::string bytes = ReadFileBytes(kHopper);
  ASSERT_GT(bytes.size(), 1000u);
  const fs::path file = inputs_ / "half.jpg";
  WriteFileBytes(file, bytes.substr(0, bytes.size() / 2));
  ExpectBadAsSourceAndTarget(file, cli::kExitBadInput, "truncated");
}

TEST_F(BadInputTest, OnePixelPng) {
  const fs::path file = inputs_ / "one_pixel.png";
  WriteFileBytes(file, EncodePng(cv::Mat(1, 1, CV_8UC3, cv::Scalar(1, 2, 3))));
  ExpectBadAsSourceAndTarget(file, cli::kExitBadInput, "too small");
}

TEST_F(BadInputTest, HugePngHeaderIsRefusedBeforeDecoding) {
  const fs::path file = inputs_ / "huge.png";
  WriteFileBytes(file, PngHeaderOnly(20000, 20000));
  // The crafted header is a valid PNG start: our own probe reads its size.
  const std::string bytes = ReadFileBytes(file);
  auto info = media::ProbeImage(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->width, 20000);
  EXPECT_EQ(info->height, 20000);
  ExpectBadAsSourceAndTarget(file, cli::kExitBadInput, "limit");
}

TEST_F(BadInputTest, FolderAsInput) {
  ExpectBadAsSourceAndTarget(dir_->Sub("folder.jpg"), cli::kExitBadInput);
}

TEST_F(BadInputTest, OutputFolderMissing) {
  const fs::path missing = dir_->path() / "no_such_folder";
  const RunResult r = Swap(kCollins, kHopper, missing / "out.png");
  EXPECT_EQ(r.exit_code, cli::kExitOutputNotWritable) << r.err;
  EXPECT_FALSE(fs::exists(missing)) << "the missing folder must not be created";
  EXPECT_NE(r.err.find("no_such_folder"), std::string::npos) << r.err;
}

TEST_F(BadInputTest, SourceWithoutFace) {
  ExpectFailsCleanly({"swap", "-s", kNoFaceCoffee, "-t", kHopper, "-o", output_}, cli::kExitNoSourceFace,
                     "noface_coffee.png");
}

TEST_F(BadInputTest, UnknownOutputExtension) {
  for (const char* name : {"out.gif", "out.txt", "out"}) {
    SCOPED_TRACE(name);
    ExpectFailsCleanly({"swap", "-s", kCollins, "-t", kHopper, "-o", (out_dir_ / name).string()}, cli::kExitUsage);
  }
}

TEST_F(BadInputTest, BadOptionValues) {
  const std::vector<std::vector<std::string>> cases = {
      {"--face-mask-blur", "2"},
      {"--face-mask-blur", "-0.5"},
      {"--face-mask-padding", "120"},
      {"--face-mask-padding", "1", "2", "3", "4", "5"},
      {"--face-mask-types", "circle"},
      {"--face-detector-margin", "120"},
      {"--face-detector-margin", "1", "2", "3", "4", "5"},
      {"--face-mask-regions", "ears"},
      {"--face-mask-types", "box", "occlusion", "--face-occluder-model", "xseg_9"},
      {"--face-parser-model", "bisenet"},
      {"--face-selector-mode", "everyone"},
      {"--face-selector-order", "tallest"},
      {"--face-detector-score", "1.5"},
      {"--output-image-quality", "101"},
      {"--output-image-resolution", "wide"},
      {"--face-swapper-blend", "smudge"},
      {"--face-landmarker-model", "peppa_wutz"},
      {"--face-swapper-model", "simswap_512"},
      {"--face-swapper-model", "hyperswap_1a_256", "--face-swapper-pixel-boost", "384"},
      {"--processors", "face_enhancer", "face_enhancer"},
      {"--processors", "face_swapper", "face_enhancer", "--face-enhancer-blend", "101"},
      {"--processors", "face_swapper", "face_enhancer", "--face-enhancer-model", "codeformer"},
      {"--face-swapper-pixel-boost", "512x512"},  // the classic swapper has none
      {"--face-swapper-model", "inswapper_128", "--face-swapper-pixel-boost", "200"},
      {"--face-swapper-model", "inswapper_128", "--face-swapper-pixel-boost", "256x512"},
      {"--processors", "frame_colorizer"},
      {"--no-such-option"},
  };
  for (const auto& extra : cases) {
    SCOPED_TRACE(::testing::PrintToString(extra));
    std::vector<std::string> args = {"swap", "-s", kCollins, "-t", kHopper, "-o", output_};
    args.insert(args.end(), extra.begin(), extra.end());
    ExpectFailsCleanly(args, cli::kExitUsage);
  }
}

TEST_F(BadInputTest, MissingRequiredArguments) {
  ExpectFailsCleanly({"swap", "-s", kCollins, "-o", output_}, cli::kExitUsage);
  ExpectFailsCleanly({"swap", "-t", kHopper, "-o", output_}, cli::kExitUsage);
  ExpectFailsCleanly({"swap", "-s", kCollins, "-t", kHopper}, cli::kExitUsage);
  ExpectFailsCleanly({}, cli::kExitUsage);
}

TEST_F(BadInputTest, ReferenceModeWithoutRecognizerModel) {
  ExpectFailsCleanly({"swap", "-s", kCollins, "-t", kTwoFaces, "-o", output_, "--face-selector-mode", "reference"},
                     cli::kExitMissingModel, "--face-recognizer-model");
}

TEST_F(SwapCliTest, DetectorAnglesSwapAFaceLyingOnItsSide) {
  const fs::path target = dir_->Sub("turned") / "hopper_on_its_side.png";
  cv::Mat turned;
  cv::rotate(ReadOrFail(kHopper), turned, cv::ROTATE_90_COUNTERCLOCKWISE);
  ASSERT_TRUE(cv::imwrite(target.string(), turned));
  const fs::path output = out_dir_ / "out.png";
  const RunResult plain = Swap(kCollins, target.string(), output);
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(plain.err.find("no face"), std::string::npos) << plain.err;
  fs::remove(output);
  const RunResult r = Swap(kCollins, target.string(), output, {"--face-detector-angles", "0", "90", "180", "270"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("swapped 1 of 1 target face"), std::string::npos) << r.err;
  EXPECT_GT(cv::norm(ReadOrFail(output), turned, cv::NORM_L1), 0.0);
}

TEST_F(BadInputTest, DetectorAnglesOtherThanQuarterTurns) {
  for (const char* angle : {"45", "-90", "360"}) {
    ExpectFailsCleanly({"swap", "-s", kCollins, "-t", kHopper, "-o", output_, "--face-detector-angles", "0", angle},
                       cli::kExitUsage, "--face-detector-angles");
  }
}

TEST_F(BadInputTest, FaceMeshModelMissingOrWrong) {
  // Not in the models folder: the message says how to get it.
  ExpectFailsCleanly({"swap", "-s", kCollins, "-t", kHopper, "-o", output_, "--face-landmarker-model", "face_mesh",
                      "--models-dir", dir_->Sub("empty_models").string()},
                     cli::kExitMissingModel, "swapline models pull face_mesh");
  // Another network in its place: its checksum differs from the manifest's.
  const fs::path models = dir_->Sub("wrong_models");
  fs::create_directories(models / "facemesh");
  fs::copy_file(SWAPLINE_MODELS_DIR "/blazeface/face_detection_front_128x128_barracuda.onnx",
                models / "facemesh/face_landmark_barracuda_folded.onnx");
  ExpectFailsCleanly({"swap", "-s", kCollins, "-t", kHopper, "-o", output_, "--face-landmarker-model", "face_mesh",
                      "--models-dir", models.string()},
                     cli::kExitMissingModel, "--face-landmarker-model");
}

TEST_F(BadInputTest, BroughtModelsNeedTheirManifestEntryAndTheLicenseAccepted) {
  // scrfd, retinaface, yolo_face and 2dfan4 run models swapline does not ship: the user
  // lists their copy in a manifest of their own. Synthetic networks with the real layout
  // stand in for them (support/synthetic_models.py).
  const fs::path models = dir_->Sub("brought_models");
  const fs::path blue_cell = dir_->Sub("targets") / "blue_cell.png";
  cv::Mat image(640, 640, CV_8UC3, cv::Scalar::all(0));
  image(cv::Rect(80, 96, 8, 8)).setTo(cv::Scalar(255, 0, 0));
  ASSERT_TRUE(cv::imwrite(blue_cell.string(), image));
  struct Brought {
    const char* option;
    const char* value;
    swapline::testing::BroughtModel model;
    std::string target;  // one face the model finds (detectors) or HOG finds (landmarkers)
  };
  for (const Brought& m :
       {Brought{"--face-detector-model", "scrfd", {"scrfd_2.5g", "detector", "scrfd.onnx", "scrfd"}, blue_cell.string()},
        Brought{"--face-detector-model", "retinaface", {"retinaface_10g", "detector", "scrfd.onnx", "scrfd"},
                blue_cell.string()},
        Brought{"--face-detector-model", "yolo_face", {"yoloface_8n", "detector", "yoloface_8n.onnx", "yolo_face"},
                blue_cell.string()},
        Brought{"--face-landmarker-model", "2dfan4", {"2dfan4", "landmarker", "2dfan4.onnx", "2dfan4"}, kHopper}}) {
    SCOPED_TRACE(m.value);
    const std::vector<std::string> swap = {"swap", "-s", kCollins, "-t", m.target, "-o", output_,
                                           m.option, m.value, "--models-dir", models.string()};
    ExpectFailsCleanly(swap, cli::kExitMissingModel, "--models-manifest");

    const fs::path manifest = dir_->Sub("manifests") / (m.model.name + ".json");
    ASSERT_EQ(swapline::testing::PullBrought(kBinary, manifest, swapline::testing::BroughtManifest({m.model}), models,
                                             dir_->Sub("pull_logs") / m.model.name),
              0);
    // Listed under another architecture, it would be read wrongly: refused, saying so.
    swapline::testing::BroughtModel mislabelled = m.model;
    mislabelled.architecture = "yunet";
    const fs::path wrong = dir_->Sub("manifests") / (m.model.name + "_mislabelled.json");
    swapline::testing::WriteFileBytes(wrong, swapline::testing::BroughtManifest({mislabelled}).dump());
    std::vector<std::string> with_wrong = swap;
    with_wrong.insert(with_wrong.end(), {"--models-manifest", wrong.string(), "--accept-license", m.model.name});
    ExpectFailsCleanly(with_wrong, cli::kExitMissingModel, "architecture");

    std::vector<std::string> with_manifest = swap;
    with_manifest.insert(with_manifest.end(), {"--models-manifest", manifest.string()});
    ExpectFailsCleanly(with_manifest, cli::kExitMissingModel, "--accept-license");
    // Accepted, the network drives the swap: the detectors' stand-ins score bright blue
    // cells, and the target holds one; the landmarker's answers with a plausible face.
    with_manifest.insert(with_manifest.end(), {"--accept-license", m.model.name});
    const RunResult r = Swapline(with_manifest);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("swapped 1 of 1 target face"), std::string::npos) << r.err;
    fs::remove(output_);
  }
}

TEST_F(BadInputTest, NeuralSwappersSwapWithTheirModelAndArcFaceBrought) {
  // inswapper_128 redraws the aligned face; it needs the ArcFace recognizer too. The
  // stand-in adds its source latent to the face, so the swapped face changes colour.
  const fs::path models = dir_->Sub("brought_models");
  const std::vector<std::string> swap = {"swap", "-s", kCollins, "-t", kHopper, "-o", output_,
                                         "--face-swapper-model", "inswapper_128", "--models-dir", models.string()};
  ExpectFailsCleanly(swap, cli::kExitMissingModel, "--models-manifest");
  const swapline::testing::BroughtModel inswapper{"inswapper_128", "swapper", "inswapper_128.onnx", "inswapper"};
  const swapline::testing::BroughtModel arcface{"arcface_w600k_r50", "recognizer", "arcface_w600k_r50.onnx",
                                                "arcface"};
  // The swapper alone: its recognizer is named.
  const fs::path alone = dir_->Sub("manifests") / "inswapper_alone.json";
  ASSERT_EQ(swapline::testing::PullBrought(kBinary, alone, swapline::testing::BroughtManifest({inswapper}), models,
                                           dir_->Sub("pull_logs") / "alone"),
            0);
  std::vector<std::string> args = swap;
  args.insert(args.end(), {"--models-manifest", alone.string(), "--accept-license", "inswapper_128"});
  ExpectFailsCleanly(args, cli::kExitMissingModel, "arcface_w600k_r50");

  const fs::path both = dir_->Sub("manifests") / "inswapper.json";
  ASSERT_EQ(swapline::testing::PullBrought(kBinary, both, swapline::testing::BroughtManifest({inswapper, arcface}),
                                           models, dir_->Sub("pull_logs") / "both"),
            0);
  args = swap;
  args.insert(args.end(), {"--models-manifest", both.string(), "--accept-license", "inswapper_128", "--accept-license",
                           "arcface_w600k_r50"});
  const RunResult r = Swapline(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("swapped 1 of 1 target face"), std::string::npos) << r.err;
  auto target = media::ReadImage(kHopper);
  auto output = media::ReadImage(output_);
  ASSERT_TRUE(target.ok() && output.ok());
  cv::Mat difference;
  cv::absdiff(*target, *output, difference);
  EXPECT_GT(cv::mean(difference)[0] + cv::mean(difference)[1] + cv::mean(difference)[2], 1.0);
  // hyperswap the same way, at a pixel boost of twice its 256 px.
  const swapline::testing::BroughtModel hyperswap{"hyperswap_1a_256", "swapper", "hyperswap_1a_256.onnx",
                                                  "hyperswap"};
  const fs::path hyper = dir_->Sub("manifests") / "hyperswap.json";
  ASSERT_EQ(swapline::testing::PullBrought(kBinary, hyper, swapline::testing::BroughtManifest({hyperswap, arcface}),
                                           models, dir_->Sub("pull_logs") / "hyperswap"),
            0);
  fs::remove(output_);
  const RunResult h = Swapline({"swap", "-s", kCollins, "-t", kHopper, "-o", output_, "--face-swapper-model",
                                "hyperswap_1a_256", "--face-swapper-pixel-boost", "512x512", "--models-dir",
                                models.string(), "--models-manifest", hyper.string(), "--accept-license",
                                "hyperswap_1a_256", "--accept-license", "arcface_w600k_r50"});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_NE(h.err.find("swapped 1 of 1 target face"), std::string::npos) << h.err;
  // simswap needs its embedding converter too, named when it is missing.
  const swapline::testing::BroughtModel simswap{"simswap_256", "swapper", "simswap_256.onnx", "simswap"};
  const swapline::testing::BroughtModel crossface{"crossface_simswap", "recognizer", "crossface_simswap.onnx",
                                                  "crossface"};
  const fs::path sim_alone = dir_->Sub("manifests") / "simswap_alone.json";
  ASSERT_EQ(swapline::testing::PullBrought(kBinary, sim_alone,
                                           swapline::testing::BroughtManifest({simswap, arcface}), models,
                                           dir_->Sub("pull_logs") / "simswap_alone"),
            0);
  fs::remove(output_);
  ExpectFailsCleanly({"swap", "-s", kCollins, "-t", kHopper, "-o", output_, "--face-swapper-model", "simswap_256",
                      "--models-dir", models.string(), "--models-manifest", sim_alone.string(), "--accept-license",
                      "simswap_256", "--accept-license", "arcface_w600k_r50"},
                     cli::kExitMissingModel, "crossface_simswap");
  const fs::path sim = dir_->Sub("manifests") / "simswap.json";
  ASSERT_EQ(swapline::testing::PullBrought(kBinary, sim,
                                           swapline::testing::BroughtManifest({simswap, arcface, crossface}), models,
                                           dir_->Sub("pull_logs") / "simswap"),
            0);
  const RunResult si = Swapline({"swap", "-s", kCollins, "-t", kHopper, "-o", output_, "--face-swapper-model",
                                 "simswap_256", "--models-dir", models.string(), "--models-manifest", sim.string(),
                                 "--accept-license", "simswap_256", "--accept-license", "arcface_w600k_r50",
                                 "--accept-license", "crossface_simswap"});
  ASSERT_EQ(si.exit_code, 0) << si.err;
  EXPECT_NE(si.err.find("swapped 1 of 1 target face"), std::string::npos) << si.err;
  // OpenCV's CPU backend reads no FLOAT16 weights: the fp16 export is refused at load.
  const swapline::testing::BroughtModel half{"inswapper_128_fp16", "swapper", "inswapper_128_fp16.onnx", "inswapper"};
  const fs::path fp16 = dir_->Sub("manifests") / "inswapper_fp16.json";
  ASSERT_EQ(swapline::testing::PullBrought(kBinary, fp16, swapline::testing::BroughtManifest({half, arcface}), models,
                                           dir_->Sub("pull_logs") / "fp16"),
            0);
  args = {"swap", "-s", kCollins, "-t", kHopper, "-o", output_, "--face-swapper-model", "inswapper_128_fp16",
          "--models-dir", models.string(), "--models-manifest", fp16.string(), "--accept-license",
          "inswapper_128_fp16", "--accept-license", "arcface_w600k_r50"};
  fs::remove(output_);
  ExpectFailsCleanly(args, cli::kExitMissingModel, "FLOAT16");
}

TEST_F(BadInputTest, FaceEnhancerRunsAfterTheSwapWithGfpganBrought) {
  const fs::path models = dir_->Sub("brought_models");
  const std::vector<std::string> swap = {"swap", "-s", kCollins, "-t", kHopper, "-o", output_, "--processors",
                                         "face_swapper", "face_enhancer", "--models-dir", models.string()};
  ExpectFailsCleanly(swap, cli::kExitMissingModel, "--models-manifest");
  const fs::path manifest = dir_->Sub("manifests") / "gfpgan.json";
  ASSERT_EQ(swapline::testing::PullBrought(
                kBinary, manifest,
                swapline::testing::BroughtManifest({{"gfpgan_1.4", "enhancer", "gfpgan_1.4.onnx", "gfpgan"}}), models,
                dir_->Sub("pull_logs") / "gfpgan"),
            0);
  std::vector<std::string> args = swap;
  args.insert(args.end(), {"--models-manifest", manifest.string(), "--accept-license", "gfpgan_1.4"});
  const RunResult r = Swapline(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("swapped 1 of 1 target face"), std::string::npos) << r.err;
  // The stand-in negates the face it is given: at the default blend 80 the face comes
  // out mostly inverted, so its centre is far from the classic swap's.
  const fs::path classic = out_dir_ / "classic.png";
  ASSERT_EQ(Swapline({"swap", "-s", kCollins, "-t", kHopper, "-o", classic.string()}).exit_code, 0);
  auto enhanced = media::ReadImage(output_);
  auto swapped = media::ReadImage(classic.string());
  ASSERT_TRUE(enhanced.ok() && swapped.ok());
  auto faces = vision::FaceAnalyser::CreateDefault();
  ASSERT_TRUE(faces.ok());
  auto found = faces->Analyse(*swapped, 0.3f, false);
  ASSERT_TRUE(found.ok() && found->size() == 1u);
  const cv::Point2f nose = found->front().landmarks68[30];
  const cv::Rect centre(cvRound(nose.x) - 10, cvRound(nose.y) - 10, 20, 20);
  cv::Mat difference;
  cv::absdiff((*enhanced)(centre), (*swapped)(centre), difference);
  EXPECT_GT(cv::mean(difference)[1], 40.0);
}

TEST_F(BadInputTest, KeepGlassesKeepsTheTargetsFrameOnTheSwappedFace) {
  // The option reaches the swapper: with it, the target's glasses frame comes out as it
  // went in; without it (the default), the frame is swapped with the rest of the face.
  auto hopper = media::ReadImage(kHopper);
  ASSERT_TRUE(hopper.ok());
  auto analyser = vision::FaceAnalyser::CreateDefault();
  ASSERT_TRUE(analyser.ok());
  auto faces = analyser->Analyse(*hopper, 0.5f, false);
  ASSERT_TRUE(faces.ok() && faces->size() == 1u);
  const vision::GlassesFrame glasses = vision::FindGlassesFrame(*hopper, faces->front().landmarks68);
  ASSERT_TRUE(glasses.found);
  cv::Mat frame_core;
  cv::erode(glasses.mask == 255, frame_core, cv::Mat());
  auto change_on_frame = [&](std::vector<std::string> options) {
    std::vector<std::string> args = {"swap", "-s", kObama, "-t", kHopper, "-o", output_};
    args.insert(args.end(), options.begin(), options.end());
    fs::remove(output_);
    const RunResult r = Swapline(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto image = media::ReadImage(output_);
    if (!image.ok()) return -1.0;
    cv::Mat change;
    cv::absdiff(*image, *hopper, change);
    return cv::mean(change, frame_core)[1];
  };
  EXPECT_LT(change_on_frame({"--face-swapper-keep-glasses"}), 3.0);
  EXPECT_GT(change_on_frame({}), 10.0);
}

TEST_F(BadInputTest, LearnedMasksKeepOccludersAndTakeOnlyTheChosenRegionsWithTheirModelsBrought) {
  const fs::path models = dir_->Sub("brought_models");
  // A green card (no red: the XSeg stand-in's occluder) over the target's mouth.
  auto hopper = media::ReadImage(kHopper);
  ASSERT_TRUE(hopper.ok());
  auto analyser = vision::FaceAnalyser::CreateDefault();
  ASSERT_TRUE(analyser.ok());
  auto faces = analyser->Analyse(*hopper, 0.3f, false);
  ASSERT_TRUE(faces.ok() && faces->size() == 1u);
  const auto& landmarks = faces->front().landmarks68;
  const float width = vision::FaceWidth(landmarks);
  const cv::Rect card(cvRound(landmarks[62].x - 0.2f * width), cvRound(landmarks[62].y - 0.1f * width),
                      cvRound(0.4f * width), cvRound(0.2f * width));
  cv::Mat occluded = hopper->clone();
  occluded(card).setTo(cv::Scalar(0, 255, 0));
  const fs::path target = dir_->Sub("inputs") / "occluded_target.png";
  ASSERT_TRUE(cv::imwrite(target.string(), occluded));
  const std::vector<std::string> swap = {"swap", "-s", kCollins, "-t", target.string(), "-o", output_,
                                         "--models-dir", models.string()};
  std::vector<std::string> args = swap;
  args.insert(args.end(), {"--face-mask-types", "box", "occlusion"});
  ExpectFailsCleanly(args, cli::kExitMissingModel, "xseg_1");
  const fs::path manifest = dir_->Sub("manifests") / "masks.json";
  ASSERT_EQ(swapline::testing::PullBrought(
                kBinary, manifest,
                swapline::testing::BroughtManifest({{"xseg_1", "masker", "xseg_1.onnx", "xseg"},
                                                    {"bisenet_resnet_34", "masker", "bisenet_resnet_34.onnx",
                                                     "bisenet"}}),
                models, dir_->Sub("pull_logs") / "masks"),
            0);
  const std::vector<std::string> brought = {"--models-manifest", manifest.string(), "--accept-license", "xseg_1",
                                            "--accept-license", "bisenet_resnet_34"};
  auto run = [&](std::vector<std::string> options) -> cv::Mat {
    std::vector<std::string> a = swap;
    a.insert(a.end(), options.begin(), options.end());
    a.insert(a.end(), brought.begin(), brought.end());
    fs::remove(output_);
    const RunResult r = Swapline(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto image = media::ReadImage(output_);
    return image.ok() ? *image : cv::Mat();
  };
  // The card's inside: the box mask swaps over it, the occlusion mask keeps it.
  const cv::Rect inside(card.x + card.width / 4, card.y + card.height / 4, card.width / 2, card.height / 2);
  const cv::Mat green(inside.size(), CV_8UC3, cv::Scalar(0, 255, 0));
  const cv::Mat boxed = run({"--face-mask-types", "box"});
  const cv::Mat kept = run({"--face-mask-types", "box", "occlusion"});
  ASSERT_FALSE(boxed.empty() || kept.empty());
  EXPECT_GT(cv::norm(boxed(inside), green, cv::NORM_L1) / inside.area(), 60.0);
  // Nothing under it moves either (the morph stops there): the card comes out as it went in.
  EXPECT_LE(cv::norm(kept(inside), green, cv::NORM_INF), 1.0);
  // The skin still takes the swap.
  EXPECT_GT(cv::norm(kept, occluded, cv::NORM_L1) / cv::norm(boxed, occluded, cv::NORM_L1), 0.3);
  // The region mask of the swapped face: no "nose" (bright blue) anywhere, so with the
  // morph off (it moves the target's own pixels) the target comes back unchanged; its
  // skin is swapped.
  const cv::Mat no_nose = run({"--face-mask-types", "box", "region", "--face-mask-regions", "nose",
                               "--face-swapper-morph", "0"});
  const cv::Mat skin = run({"--face-mask-types", "box", "region", "--face-mask-regions", "skin",
                            "--face-swapper-morph", "0"});
  ASSERT_FALSE(no_nose.empty() || skin.empty());
  EXPECT_EQ(cv::norm(no_nose, occluded, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(skin, occluded, cv::NORM_L1) / card.area(), 10.0);
}

// ---- Version and help. ----

TEST_F(SwapCliTest, VersionPrintsTheVersion) {
  const RunResult r = Swapline({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(std::string("swapline ") + kVersion), std::string::npos) << r.out;
}

TEST_F(SwapCliTest, SwapHelpListsTheOptions) {
  const RunResult r = Swapline({"swap", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* option :
       {"--source", "--target", "--output", "--face-selector-mode", "--face-selector-order",
        "--reference-face-position", "--face-detector-score", "--face-recognizer-model", "--face-mask-types",
        "--face-mask-blur", "--face-mask-padding", "--output-image-quality", "--output-image-resolution",
        "--face-landmarker-model"}) {
    EXPECT_NE(r.out.find(option), std::string::npos) << option << " missing from:\n" << r.out;
  }
  EXPECT_TRUE(ListDir(out_dir_).empty());
}

}  // namespace
}  // namespace swapline
