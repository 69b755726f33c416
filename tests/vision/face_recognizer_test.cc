// Tests for the dlib DenseNet face recognizer (vision/face_recognizer.h).
//
// Faces are located with dlib directly (HOG frontal detector + 68-point shape predictor),
// so that these tests do not depend on swapline's own detector and landmarker.

#include "vision/face_recognizer.h"

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace swapline::vision {
namespace {

namespace fs = std::filesystem;

const std::string kModel = SWAPLINE_MODELS_DIR "/dlib/face_recognition_densenet_model_v1.dat";
const std::string kOtherDlibNet = SWAPLINE_MODELS_DIR "/dlib/mmod_human_face_detector.dat";
const std::string kShapePredictor =
    SWAPLINE_DLIB_DATA_DIR "/shape_predictor_68_face_landmarks.dat";
const std::string kPhotos = SWAPLINE_TESTDATA_DIR "/photos/";
const std::string kObama = kPhotos + "obama_official_portrait_2012.jpg";
const std::string kObamaSmall = kPhotos + "obama_official_portrait_2012_small_320x240.jpg";
const std::string kHopper = kPhotos + "grace_hopper_usn_portrait.jpg";
const std::string kCollins = kPhotos + "eileen_collins_nasa_portrait.png";

// A file in a fresh temporary directory, removed with it.
class TempFile {
 public:
  explicit TempFile(const std::string& name) {
    dir_ = fs::temp_directory_path() /
           ("swapline_recognizer_test_" + std::to_string(::getpid()) + "_" + name);
    fs::create_directories(dir_);
    path_ = dir_ / name;
  }
  ~TempFile() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path dir_;
  fs::path path_;
};

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

class FaceRecognizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = LoadFaceRecognizer(kModel);
    if (loaded.ok()) {
      recognizer_ = std::move(loaded).value().release();
    } else {
      load_error_ = new std::string(loaded.status().ToString());
    }
    detector_ = new dlib::frontal_face_detector(dlib::get_frontal_face_detector());
    predictor_ = new dlib::shape_predictor();
    dlib::deserialize(kShapePredictor) >> *predictor_;
  }

  static void TearDownTestSuite() {
    delete recognizer_;
    recognizer_ = nullptr;
    delete load_error_;
    load_error_ = nullptr;
    delete detector_;
    detector_ = nullptr;
    delete predictor_;
    predictor_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(recognizer_, nullptr) << "loading " << kModel << " failed: "
                                    << (load_error_ ? *load_error_ : std::string("?"));
  }

  static cv::Mat Read(const std::string& path) {
    cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
    EXPECT_FALSE(image.empty()) << "cannot read " << path;
    return image;
  }

  // The largest face dlib finds in `image` (upsampling small images), with 68 landmarks.
  static std::optional<Face> FindFace(const cv::Mat& image) {
    for (const double scale : {1.0, 2.0, 3.0}) {
      cv::Mat scaled = image;
      if (scale != 1.0) cv::resize(image, scaled, cv::Size(), scale, scale, cv::INTER_LINEAR);
      const dlib::cv_image<dlib::bgr_pixel> view(scaled);
      const std::vector<dlib::rectangle> found = (*detector_)(view);
      if (found.empty()) continue;
      const dlib::rectangle best = *std::max_element(
          found.begin(), found.end(),
          [](const auto& a, const auto& b) { return a.area() < b.area(); });
      const dlib::full_object_detection shape = (*predictor_)(view, best);
      if (shape.num_parts() != 68) return std::nullopt;
      const auto unscale = [scale](double v) { return static_cast<float>(v / scale); };
      Face face;
      face.box = cv::Rect2f(unscale(best.left()), unscale(best.top()),
                            unscale(best.width()), unscale(best.height()));
      face.score = 1.0f;
      for (unsigned long i = 0; i < 68; ++i) {
        face.landmarks68[i] = cv::Point2f(unscale(shape.part(i).x()), unscale(shape.part(i).y()));
      }
      return face;
    }
    return std::nullopt;
  }

  // Embedding of the largest face in `image`.
  static Embedding EmbedLargest(const cv::Mat& image, const std::string& what) {
    const std::optional<Face> face = FindFace(image);
    EXPECT_TRUE(face.has_value()) << "dlib found no face in " << what;
    if (!face) return {};
    Result<Embedding> embedding = recognizer_->Embed(image, *face);
    EXPECT_TRUE(embedding.ok()) << what << ": " << embedding.status().ToString();
    if (!embedding.ok()) return {};
    EXPECT_EQ(embedding->values.size(), 128u) << what;
    return std::move(embedding).value();
  }

  static Embedding EmbedFile(const std::string& path) { return EmbedLargest(Read(path), path); }

  static float Dist(const Embedding& a, const Embedding& b) {
    return recognizer_->Distance(a, b);
  }

  static FaceRecognizer* recognizer_;
  static std::string* load_error_;
  static dlib::frontal_face_detector* detector_;
  static dlib::shape_predictor* predictor_;
};

FaceRecognizer* FaceRecognizerTest::recognizer_ = nullptr;
std::string* FaceRecognizerTest::load_error_ = nullptr;
dlib::frontal_face_detector* FaceRecognizerTest::detector_ = nullptr;
dlib::shape_predictor* FaceRecognizerTest::predictor_ = nullptr;

TEST_F(FaceRecognizerTest, ThresholdIsDocumentedValue) {
  EXPECT_FLOAT_EQ(recognizer_->SameIdentityThreshold(), 0.55f);
}

TEST_F(FaceRecognizerTest, EmbeddingIsDeterministicAndFinite) {
  const cv::Mat image = Read(kObama);
  const std::optional<Face> face = FindFace(image);
  ASSERT_TRUE(face.has_value());
  Result<Embedding> a = recognizer_->Embed(image, *face);
  Result<Embedding> b = recognizer_->Embed(image, *face);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(a->values.size(), 128u);
  for (float v : a->values) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(a->values, b->values);
  EXPECT_FLOAT_EQ(Dist(*a, *b), 0.0f);
}

TEST_F(FaceRecognizerTest, SamePhotoFlippedIsClose) {
  const cv::Mat image = Read(kObama);
  cv::Mat flipped;
  cv::flip(image, flipped, 1);
  const float d = Dist(EmbedLargest(image, "obama"), EmbedLargest(flipped, "obama flipped"));
  std::cout << "[ distance ] obama vs flipped: " << d << "\n";
  EXPECT_LT(d, 0.3f);
}

TEST_F(FaceRecognizerTest, SamePersonRescaledIsSameIdentity) {
  const float d = Dist(EmbedFile(kObama), EmbedFile(kObamaSmall));
  std::cout << "[ distance ] obama vs obama 320x240: " << d << "\n";
  EXPECT_LT(d, recognizer_->SameIdentityThreshold());
}

TEST_F(FaceRecognizerTest, DifferentPeopleAreApart) {
  const Embedding obama = EmbedFile(kObama);
  const Embedding hopper = EmbedFile(kHopper);
  const Embedding collins = EmbedFile(kCollins);
  const float obama_hopper = Dist(obama, hopper);
  const float obama_collins = Dist(obama, collins);
  const float hopper_collins = Dist(hopper, collins);
  std::cout << "[ distance ] obama vs hopper: " << obama_hopper
            << ", obama vs collins: " << obama_collins
            << ", hopper vs collins: " << hopper_collins << "\n";
  EXPECT_GT(obama_hopper, recognizer_->SameIdentityThreshold());
  EXPECT_GT(obama_collins, recognizer_->SameIdentityThreshold());
  EXPECT_GT(hopper_collins, recognizer_->SameIdentityThreshold());
}

TEST_F(FaceRecognizerTest, AcceptsGrayAndBgraImages) {
  const cv::Mat image = Read(kObama);
  const std::optional<Face> face = FindFace(image);
  ASSERT_TRUE(face.has_value());
  cv::Mat gray, bgra;
  cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(image, bgra, cv::COLOR_BGR2BGRA);
  Result<Embedding> color = recognizer_->Embed(image, *face);
  Result<Embedding> from_bgra = recognizer_->Embed(bgra, *face);
  Result<Embedding> from_gray = recognizer_->Embed(gray, *face);
  ASSERT_TRUE(color.ok() && from_bgra.ok() && from_gray.ok());
  EXPECT_EQ(color->values, from_bgra->values);
  EXPECT_LT(Dist(*color, *from_gray), recognizer_->SameIdentityThreshold());
}

TEST_F(FaceRecognizerTest, RejectsUnusableInput) {
  const cv::Mat image = Read(kObama);
  const std::optional<Face> face = FindFace(image);
  ASSERT_TRUE(face.has_value());

  Result<Embedding> empty_image = recognizer_->Embed(cv::Mat(), *face);
  ASSERT_FALSE(empty_image.ok());
  EXPECT_EQ(empty_image.status().code(), Code::kInvalidArgument);

  Result<Embedding> float_image = recognizer_->Embed(cv::Mat(100, 100, CV_32FC3), *face);
  ASSERT_FALSE(float_image.ok());
  EXPECT_EQ(float_image.status().code(), Code::kInvalidArgument);

  Result<Embedding> no_landmarks = recognizer_->Embed(image, Face{});
  ASSERT_FALSE(no_landmarks.ok());
  EXPECT_EQ(no_landmarks.status().code(), Code::kInvalidArgument);

  Face nan_face = *face;
  nan_face.landmarks68[30].x = std::nanf("");
  Result<Embedding> nan_landmarks = recognizer_->Embed(image, nan_face);
  ASSERT_FALSE(nan_landmarks.ok());
  EXPECT_EQ(nan_landmarks.status().code(), Code::kInvalidArgument);
}

TEST_F(FaceRecognizerTest, FaceOutsideTheImageDoesNotCrash) {
  const cv::Mat image = Read(kObama);
  std::optional<Face> face = FindFace(image);
  ASSERT_TRUE(face.has_value());
  for (cv::Point2f& p : face->landmarks68) p += cv::Point2f(-0.8f * image.cols, 0.0f);
  face->box.x -= 0.8f * image.cols;
  Result<Embedding> embedding = recognizer_->Embed(image, *face);
  ASSERT_TRUE(embedding.ok()) << embedding.status().ToString();
  EXPECT_EQ(embedding->values.size(), 128u);
}

TEST_F(FaceRecognizerTest, DistanceOfMismatchedEmbeddingsIsInfinite) {
  const Embedding a{std::vector<float>(128, 0.0f)};
  const Embedding b{std::vector<float>(64, 0.0f)};
  EXPECT_TRUE(std::isinf(Dist(a, b)));
  EXPECT_TRUE(std::isinf(Dist(Embedding{}, Embedding{})));
  Embedding c{std::vector<float>(128, 0.0f)};
  c.values[0] = 3.0f;
  c.values[1] = 4.0f;
  EXPECT_FLOAT_EQ(Dist(a, c), 5.0f);
}

TEST_F(FaceRecognizerTest, TimePerEmbed) {
  const cv::Mat image = Read(kObama);
  const std::optional<Face> face = FindFace(image);
  ASSERT_TRUE(face.has_value());
  ASSERT_TRUE(recognizer_->Embed(image, *face).ok());  // warm-up
  constexpr int kRuns = 10;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) ASSERT_TRUE(recognizer_->Embed(image, *face).ok());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
          .count() / kRuns;
  std::cout << "[ timing   ] Embed: " << ms << " ms per call (mean of " << kRuns << ")\n";
  RecordProperty("embed_ms", std::to_string(ms));
}

// Loading errors: no fixture model needed.

TEST(LoadFaceRecognizerTest, MissingFileIsNotFound) {
  const auto loaded = LoadFaceRecognizer("/nonexistent/dir/recognizer.dat");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kNotFound);
  EXPECT_NE(loaded.status().message().find("/nonexistent/dir/recognizer.dat"), std::string::npos);
}

TEST(LoadFaceRecognizerTest, GarbageDatIsAnError) {
  TempFile file("garbage.dat");
  WriteFile(file.path(), "this is not a dlib network\n\x01\x02\x03\xff\xfe garbage garbage");
  const auto loaded = LoadFaceRecognizer(file.path());
  ASSERT_FALSE(loaded.ok());
  std::cout << "[ message  ] " << loaded.status().ToString() << "\n";
  EXPECT_EQ(loaded.status().code(), Code::kUnsupportedInput);
  EXPECT_NE(loaded.status().message().find(file.path().string()), std::string::npos);
  EXPECT_NE(loaded.status().message().find("supported"), std::string::npos);
}

TEST(LoadFaceRecognizerTest, EmptyAndTruncatedDatAreErrors) {
  TempFile empty("empty.dat");
  WriteFile(empty.path(), "");
  const auto from_empty = LoadFaceRecognizer(empty.path());
  ASSERT_FALSE(from_empty.ok());
  EXPECT_EQ(from_empty.status().code(), Code::kUnsupportedInput);

  // The real model, cut in half.
  std::ifstream in(kModel, std::ios::binary);
  ASSERT_TRUE(in) << kModel;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TempFile truncated("truncated.dat");
  WriteFile(truncated.path(), bytes.substr(0, bytes.size() / 2));
  const auto from_truncated = LoadFaceRecognizer(truncated.path());
  ASSERT_FALSE(from_truncated.ok());
  EXPECT_EQ(from_truncated.status().code(), Code::kUnsupportedInput);
}

TEST(LoadFaceRecognizerTest, OtherDlibNetworkIsAnError) {
  const auto loaded = LoadFaceRecognizer(kOtherDlibNet);
  ASSERT_FALSE(loaded.ok());
  std::cout << "[ message  ] " << loaded.status().ToString() << "\n";
  EXPECT_EQ(loaded.status().code(), Code::kUnsupportedInput);
  EXPECT_NE(loaded.status().message().find("mmod_human_face_detector.dat"), std::string::npos);
}

TEST(LoadFaceRecognizerTest, UnknownExtensionIsUnsupported) {
  TempFile file("model.pt");
  WriteFile(file.path(), "not a model");
  const auto loaded = LoadFaceRecognizer(file.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kUnsupportedInput);
  EXPECT_NE(loaded.status().message().find(".dat"), std::string::npos);
  EXPECT_NE(loaded.status().message().find(".onnx"), std::string::npos);
}

TEST(LoadFaceRecognizerTest, AnOnnxNameThatIsNoNetworkFailsAsArcFace) {
  TempFile file("model.onnx");
  WriteFile(file.path(), "not a model");
  const auto loaded = LoadFaceRecognizer(file.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(loaded.status().ToString().find("ArcFace"), std::string::npos) << loaded.status().ToString();
}

TEST(LoadFaceRecognizerTest, DirectoryIsUnsupported) {
  TempFile file("dir.dat");
  fs::create_directories(file.path());
  const auto loaded = LoadFaceRecognizer(file.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kUnsupportedInput);
}

}  // namespace
}  // namespace swapline::vision
