// Identity quality of the classic swapper, measured with the DenseNet recognizer.
//
// Every ordered pair of stills of different people in the test data is swapped: the
// original portraits, their derived stills (letterboxed 1280x720 and 1920x1080,
// tilted by ±20°, the small Obama crop) and, made here, a mirrored and a half-size
// copy of each original. The face in each output is found again, embedded and
// compared with the source's and the target's embeddings. Asserted per pair: the
// output is closer to the source than to the target by kMinMargin; over all pairs:
// the mean output→source distance is at most kMaxMeanToSource; and no seam: along the
// outer half of the mask's feathered edge the output's gradient is at most kMaxSeam
// times the target's own there.
//
// For eyes: quality_contact_sheet.jpg in the test's build folder (source | target |
// output per row: the originals' pairs, then the worst pairs). It shows real people;
// it is a test artifact and stays in the build folder.
//
// Left out: the cameraman still (near-profile, face half hidden by the camera: the
// frontal detector finds no face in it) and the two-faces photo (two people at once;
// tests/vision covers it).
//
// Deterministic (same code, same photos), so the bounds are regression guards.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "media/image_codec.h"
#include "pipeline/image_job.h"
#include "vision/face_recognizer.h"

namespace swapline {
namespace {

constexpr double kMinMargin = 0.10;
constexpr double kMaxMeanToSource = 0.45;
// 1.5 held with a float paste-back (max 1.48); OpenCV's fixed-point remap rounds the
// moved target to 8 bits before blending, which adds up to 0.03 on flat skin, and the
// landmarks of faces marked on a reduced copy moved by under half a pixel when their
// mapping back took the reduction's exact scale, which moved one mask edge: max 1.57
// (Hopper 720p -> Lincoln 720p), mean 0.95 unchanged.
constexpr double kMaxSeam = 1.6;

struct Still {
  std::string label;
  std::string person;
  cv::Mat image;
  vision::Face face;  // the largest, with its embedding
};

struct PairResult {
  std::string source, target;
  double to_source = 0, to_target = 0, seam = 0;
  cv::Mat source_face, target_face, output_face;  // thumbnails
  double margin() const { return to_target - to_source; }
};

const std::string kData = SWAPLINE_TESTDATA_DIR;

// Photos by person; the first of each is the original that variants are made from.
const std::vector<std::pair<std::string, std::vector<std::string>>> kPeople = {
    {"hopper",
     {"photos/grace_hopper_usn_portrait.jpg", "derived/grace_hopper_usn_portrait_1280x720.jpg",
      "derived/grace_hopper_usn_portrait_1920x1080.jpg", "derived/grace_hopper_usn_portrait_tilt_plus20.png",
      "derived/grace_hopper_usn_portrait_tilt_minus20.png"}},
    {"collins",
     {"photos/eileen_collins_nasa_portrait.png", "derived/eileen_collins_nasa_portrait_1280x720.jpg",
      "derived/eileen_collins_nasa_portrait_1920x1080.jpg", "derived/eileen_collins_nasa_portrait_tilt_plus20.png",
      "derived/eileen_collins_nasa_portrait_tilt_minus20.png"}},
    {"obama",
     {"photos/obama_official_portrait_2012.jpg", "photos/obama_official_portrait_2012_small_320x240.jpg",
      "derived/obama_official_portrait_2012_1280x720.jpg", "derived/obama_official_portrait_2012_1920x1080.jpg"}},
    {"lincoln",
     {"photos/abraham_lincoln_gardner_1863.jpg", "derived/abraham_lincoln_gardner_1863_1280x720.jpg",
      "derived/abraham_lincoln_gardner_1863_1920x1080.jpg"}},
};

vision::Face LargestFace(std::vector<vision::Face> faces) {
  vision::SortFaces(faces, vision::SelectorOrder::kLargeSmall);
  return faces.front();
}

cv::Mat Gradient(const cv::Mat& bgr) {
  cv::Mat grey, gx, gy, magnitude;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  cv::Sobel(grey, gx, CV_32F, 1, 0);
  cv::Sobel(grey, gy, CV_32F, 0, 1);
  cv::magnitude(gx, gy, magnitude);
  return magnitude;
}

// Output gradient over target gradient along the outer half of the mask's feather.
double SeamRatio(const cv::Mat& target, const cv::Mat& output, const vision::Face& face) {
  const cv::Rect roi = vision::FaceRegionOfInterest(face.landmarks68, target.size(), 0.1f);
  const cv::Mat mask = vision::CreateFaceMask(face, target.size(), roi, vision::FaceMaskOptions{});
  const cv::Mat edge = (mask > 0.02f) & (mask <= 0.5f);
  const double own = cv::mean(Gradient(target(roi)), edge)[0];
  return cv::mean(Gradient(output(roi)), edge)[0] / std::max(own, 1.0);
}

cv::Mat Thumbnail(const cv::Mat& image, const vision::Face& face) {
  const cv::Rect roi = vision::FaceRegionOfInterest(face.landmarks68, image.size(), 0.15f);
  cv::Mat thumb;
  cv::resize(image(roi), thumb, cv::Size(160, 192), 0, 0, cv::INTER_AREA);
  return thumb;
}

void WriteContactSheet(const std::vector<PairResult>& rows) {
  cv::Mat sheet(static_cast<int>(rows.size()) * 192, 3 * 160 + 300, CV_8UC3, cv::Scalar(255, 255, 255));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const int y = static_cast<int>(i) * 192;
    rows[i].source_face.copyTo(sheet(cv::Rect(0, y, 160, 192)));
    rows[i].target_face.copyTo(sheet(cv::Rect(160, y, 160, 192)));
    rows[i].output_face.copyTo(sheet(cv::Rect(320, y, 160, 192)));
    const std::vector<std::string> lines = {rows[i].source + " ->", rows[i].target,
                                            cv::format("to source %.3f", rows[i].to_source),
                                            cv::format("to target %.3f", rows[i].to_target),
                                            cv::format("seam %.2f", rows[i].seam)};
    for (std::size_t k = 0; k < lines.size(); ++k) {
      cv::putText(sheet, lines[k], {490, y + 30 + 30 * static_cast<int>(k)}, cv::FONT_HERSHEY_SIMPLEX, 0.45,
                  cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
  }
  media::ImageEncodeOptions encode;
  encode.quality = 90;
  encode.synthetic_mark = media::SyntheticMark();
  ASSERT_TRUE(media::WriteImage("quality_contact_sheet.jpg", sheet, encode).ok());
}

TEST(IdentityQualityTest, EveryPairOfPeopleSwapsToTheSource) {
  auto engine = pipeline::ImageSwapEngine::Create(
      std::filesystem::path(SWAPLINE_MODELS_DIR) / "dlib/face_recognition_densenet_model_v1.dat");
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto& analyser = engine->analyser();
  auto* recognizer = analyser.recognizer();

  std::vector<Still> stills;
  auto add = [&](const std::string& label, const std::string& person, const cv::Mat& image) {
    auto found = analyser.Analyse(image, 0.5f, true);
    ASSERT_TRUE(found.ok() && !found->empty()) << "no face in " << label;
    stills.push_back({label, person, image, LargestFace(*found)});
  };
  for (const auto& [person, files] : kPeople) {
    for (const auto& file : files) {
      auto image = media::ReadImage(kData + "/" + file);
      ASSERT_TRUE(image.ok()) << image.status().ToString();
      add(file, person, *image);
    }
    const cv::Mat original = stills[stills.size() - files.size()].image;
    cv::Mat mirrored, half;
    cv::flip(original, mirrored, 1);
    cv::resize(original, half, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
    add(files.front() + " (mirrored)", person, mirrored);
    add(files.front() + " (half size)", person, half);
  }

  std::vector<PairResult> results;
  for (const Still& source : stills) {
    auto prepared = vision::PrepareSource({{source.image, source.face}});
    ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
    auto swapper = vision::NewClassicFaceSwapper({});
    swapper->SetSource(*prepared);
    for (const Still& target : stills) {
      if (source.person == target.person) continue;
      cv::Mat output = target.image.clone();
      ASSERT_TRUE(vision::Swap(*swapper, output, target.face).ok());
      auto found = analyser.Analyse(output, 0.3f, false);
      ASSERT_TRUE(found.ok() && !found->empty()) << "no face in swapped " << source.label << " -> " << target.label;
      // The face found again where the target's was.
      const cv::Point2f centre = (target.face.box.tl() + target.face.box.br()) * 0.5f;
      const auto nearest = std::min_element(found->begin(), found->end(), [&](const auto& a, const auto& b) {
        return cv::norm((a.box.tl() + a.box.br()) * 0.5f - centre) < cv::norm((b.box.tl() + b.box.br()) * 0.5f - centre);
      });
      auto embedding = recognizer->Embed(output, *nearest);
      ASSERT_TRUE(embedding.ok()) << embedding.status().ToString();
      PairResult r;
      r.source = source.label;
      r.target = target.label;
      r.to_source = recognizer->Distance(*embedding, *source.face.embedding);
      r.to_target = recognizer->Distance(*embedding, *target.face.embedding);
      r.seam = SeamRatio(target.image, output, target.face);
      r.source_face = Thumbnail(source.image, source.face);
      r.target_face = Thumbnail(target.image, target.face);
      r.output_face = Thumbnail(output, target.face);
      std::printf("%-55s -> %-55s  to source %.3f  to target %.3f  seam %.2f\n", r.source.c_str(), r.target.c_str(),
                  r.to_source, r.to_target, r.seam);
      EXPECT_GE(r.margin(), kMinMargin) << source.label << " -> " << target.label;
      EXPECT_LE(r.seam, kMaxSeam) << source.label << " -> " << target.label;
      results.push_back(std::move(r));
    }
  }
  double to_source = 0, to_target = 0, seam = 0;
  for (const auto& r : results) {
    to_source += r.to_source;
    to_target += r.to_target;
    seam += r.seam;
  }
  const auto n = static_cast<double>(results.size());
  const auto worst = std::min_element(results.begin(), results.end(),
                                      [](const auto& a, const auto& b) { return a.margin() < b.margin(); });
  const int closer = static_cast<int>(std::count_if(results.begin(), results.end(), [](const auto& r) {
    return r.margin() >= kMinMargin;
  }));
  std::printf("%zu pairs: mean to source %.3f, mean to target %.3f, margin >= %.2f in %d; worst %s -> %s (%.3f vs "
              "%.3f); mean seam %.2f\n",
              results.size(), to_source / n, to_target / n, kMinMargin, closer, worst->source.c_str(),
              worst->target.c_str(), worst->to_source, worst->to_target, seam / n);
  RecordProperty("mean_to_source", std::to_string(to_source / n));
  RecordProperty("mean_to_target", std::to_string(to_target / n));
  RecordProperty("worst_margin", std::to_string(worst->margin()));
  EXPECT_LE(to_source / n, kMaxMeanToSource);

  // Contact sheet: the originals' pairs, then the ten worst.
  std::vector<PairResult> rows;
  for (const auto& r : results) {
    if (r.source.rfind("photos/", 0) == 0 && r.target.rfind("photos/", 0) == 0 &&
        r.source.find('(') == std::string::npos && r.target.find('(') == std::string::npos &&
        r.source.find("small") == std::string::npos && r.target.find("small") == std::string::npos) {
      rows.push_back(r);
    }
  }
  std::vector<PairResult> by_margin = results;
  std::sort(by_margin.begin(), by_margin.end(), [](const auto& a, const auto& b) { return a.margin() < b.margin(); });
  rows.insert(rows.end(), by_margin.begin(), by_margin.begin() + std::min<std::size_t>(10, by_margin.size()));
  WriteContactSheet(rows);
}

}  // namespace
}  // namespace swapline
