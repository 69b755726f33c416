// inswapper on synthetic networks with its layout (support/synthetic_models.py): the emap
// is read from the model file's last initializer (FLOAT and FLOAT16); a network that
// returns its target unchanged gives back the target face within rounding; one that adds
// its source input to the face checks the latent (e · emap / ‖e‖ of the sources' mean
// ArcFace embedding) and the RGB order against a reference computed here. The face
// enhancer (GFPGAN's layout) on a network that negates its input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <opencv2/core.hpp>

#include "infer/onnx_initializer.h"
#include "media/image_codec.h"
#include "vision/arcface_recognizer.h"
#include "vision/face_aligner.h"
#include "vision/face_analyser.h"
#include "vision/face_enhancer.h"
#include "vision/neural_face_swapper.h"

namespace swapline::vision {
namespace {

namespace fs = std::filesystem;
const fs::path kSynthetic = SWAPLINE_SYNTHETIC_MODELS_DIR;
const fs::path kArcFace = kSynthetic / "arcface_w600k_r50.onnx";
const std::string kPhotos = SWAPLINE_TESTDATA_DIR "/photos/";

// synthetic_models.py's inswapper_emap().
float Emap(int j, int c) { return (j == c ? 2.0f : 0.0f) + 0.0001f * static_cast<float>((j + 3 * c) % 11); }

cv::Mat Photo(const std::string& name) {
  auto image = media::ReadImage(kPhotos + name);
  EXPECT_TRUE(image.ok()) << image.status().ToString();
  return image.ok() ? *image : cv::Mat(400, 400, CV_8UC3, cv::Scalar::all(0));
}

SourceImage SourceFace(const std::string& name) {
  auto analyser = FaceAnalyser::CreateDefault();
  EXPECT_TRUE(analyser.ok()) << analyser.status().ToString();
  const cv::Mat image = Photo(name);
  auto faces = analyser->Analyse(image, 0.3f, false);
  EXPECT_TRUE(faces.ok() && !faces->empty());
  return {image, faces.ok() && !faces->empty() ? faces->front() : Face{}};
}

// A target face whose five landmarks are arcface_128's at `side` px moved by whole
// pixels: its aligned crop at that side is the image's pixels at `corner`, untouched by
// resampling.
Face TemplateFace(cv::Point corner, int side = 128) {
  Face face;
  const auto& points = TemplatePoints(WarpTemplate::kArcface128);
  for (std::size_t i = 0; i < 5; ++i) face.landmarks5[i] = points[i] * static_cast<float>(side) + cv::Point2f(corner);
  return face;
}

SwapperOptions BoxOnly(int pixel_boost = 0) {
  SwapperOptions options;
  options.mask.types = {MaskType::kBox};
  options.pixel_boost = pixel_boost;
  return options;
}

std::shared_ptr<InswapperModel> LoadModel(const std::string& file) {
  auto model = InswapperModel::Load(kSynthetic / file, kArcFace);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? *model : nullptr;
}

// The box mask is 1 more than 19 px inside the crop's edges (blur 0.3 at 128 px).
cv::Rect Inner(int side) { return {side * 3 / 16, side * 3 / 16, side * 5 / 8, side * 5 / 8}; }

TEST(OnnxInitializer, TheLastInitializerIsReadAsFloatFromFloatAndFloat16) {
  auto emap = infer::ReadLastInitializer(kSynthetic / "inswapper_128.onnx");
  ASSERT_TRUE(emap.ok()) << emap.status().ToString();
  ASSERT_EQ(emap->rows, 512);
  ASSERT_EQ(emap->cols, 512);
  auto half = infer::ReadLastInitializer(kSynthetic / "inswapper_128_fp16.onnx");
  ASSERT_TRUE(half.ok()) << half.status().ToString();
  for (const auto& [j, c] : {std::pair{0, 0}, {5, 7}, {7, 5}, {511, 511}, {300, 2}}) {
    EXPECT_FLOAT_EQ(emap->at<float>(j, c), Emap(j, c)) << j << "," << c;
    EXPECT_NEAR(half->at<float>(j, c), Emap(j, c), 1e-3 * (1 + Emap(j, c))) << j << "," << c;
  }
}

TEST(OnnxInitializer, ATruncatedOrForeignFileFailsNamingIt) {
  const fs::path dir = fs::temp_directory_path() / ("swapline_initializer_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ifstream in(kSynthetic / "inswapper_128.onnx", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& [name, content] : {std::pair<std::string, std::string>{"truncated.onnx", bytes.substr(0, bytes.size() / 2)},
                                      {"text.onnx", "#EXTM3U\nhttp://example.com/a.ts\n"}, {"empty.onnx", ""}}) {
    std::ofstream(dir / name, std::ios::binary) << content;
    auto read = infer::ReadLastInitializer(dir / name);
    ASSERT_FALSE(read.ok()) << name;
    EXPECT_EQ(read.status().code(), Code::kFailedPrecondition) << read.status().ToString();
    EXPECT_NE(read.status().message().find(name), std::string::npos) << read.status().ToString();
  }
  fs::remove_all(dir);
  // OpenCV's CPU backend loads no FLOAT16 weights: the fp16 export is refused, saying so.
  auto half = InswapperModel::Load(kSynthetic / "inswapper_128_fp16.onnx", kArcFace);
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("FLOAT16"), std::string::npos) << half.status().ToString();
  // A network of another layout: refused at load, whatever its initializers.
  auto wrong = InswapperModel::Load(kSynthetic / "2dfan4.onnx", kArcFace);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().ToString().find("inswapper"), std::string::npos) << wrong.status().ToString();
}

TEST(InswapperFaceSwapper, ANetworkReturningItsTargetGivesBackTheTargetFace) {
  auto model = LoadModel("inswapper_identity.onnx");
  ASSERT_NE(model, nullptr);
  auto prepared = PrepareSource({SourceFace("eileen_collins_nasa_portrait.png")});
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  const cv::Mat target = Photo("grace_hopper_usn_portrait.jpg");
  // At pixel boost 256 the crop is split into four interleaved 128 px faces and joined
  // back: the round trip must be exact too.
  for (const int boost : {0, 256}) {
    SCOPED_TRACE("pixel boost " + std::to_string(boost));
    auto swapper = NewInswapperFaceSwapper(model, BoxOnly(boost));
    swapper->SetSource(*prepared);
    cv::Mat swapped = target.clone();
    ASSERT_TRUE(Swap(*swapper, swapped, TemplateFace({180, 160}, boost > 0 ? boost : 128)).ok());
    cv::Mat difference;
    cv::absdiff(swapped, target, difference);
    double worst = 0;
    cv::minMaxLoc(difference.reshape(1), nullptr, &worst);
    EXPECT_LE(worst, 1.0) << "the round trip through the crop changed the face";
  }
  EXPECT_FALSE(CheckPixelBoost(200).ok());
  EXPECT_TRUE(CheckPixelBoost(1024).ok());
}

TEST(InswapperFaceSwapper, TheSourceLatentIsTheMeanEmbeddingThroughTheEmap) {
  const std::vector<SourceImage> sources = {SourceFace("eileen_collins_nasa_portrait.png"),
                                            SourceFace("obama_official_portrait_2012.jpg")};
  auto recognizer = LoadArcFaceRecognizer(kArcFace);
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  for (const std::size_t count : {std::size_t{1}, std::size_t{2}}) {
    // The reference: e = Σ embeddings (the mean's direction), latent = e · emap / ‖e‖.
    std::vector<double> e(512, 0.0);
    for (std::size_t s = 0; s < count; ++s) {
      auto embedding = (*recognizer)->Embed(sources[s].image, sources[s].face);
      ASSERT_TRUE(embedding.ok()) << embedding.status().ToString();
      for (int j = 0; j < 512; ++j) e[j] += embedding->values[j];
    }
    double length = 0;
    for (double v : e) length += v * v;
    length = std::sqrt(length);
    double latent[3] = {0, 0, 0};
    for (int c = 0; c < 3; ++c) {
      for (int j = 0; j < 512; ++j) latent[c] += e[j] * Emap(j, c) / length;
    }
    const cv::Mat target = Photo("grace_hopper_usn_portrait.jpg");
    const cv::Point corner(180, 160);
    for (const int boost : {0, 256}) {
      SCOPED_TRACE("sources: " + std::to_string(count) + ", pixel boost " + std::to_string(boost));
      const int side = boost > 0 ? boost : 128;
      auto model = LoadModel("inswapper_128.onnx");
      ASSERT_NE(model, nullptr);
      auto prepared = PrepareSource(std::vector<SourceImage>(sources.begin(), sources.begin() + count));
      ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
      auto swapper = NewInswapperFaceSwapper(model, BoxOnly(boost));
      swapper->SetSource(*prepared);
      cv::Mat swapped = target.clone();
      ASSERT_TRUE(Swap(*swapper, swapped, TemplateFace(corner, side)).ok());
      // The network adds latent[c] to RGB channel c: blue gets latent[2], red latent[0].
      const cv::Rect inner = Inner(side) + corner;
      int checked = 0;
      for (int y = inner.y; y < inner.br().y; y += 7) {
        for (int x = inner.x; x < inner.br().x; x += 7) {
          const cv::Vec3b before = target.at<cv::Vec3b>(y, x), after = swapped.at<cv::Vec3b>(y, x);
          for (int channel = 0; channel < 3; ++channel) {
            const double expected = std::clamp(before[channel] + 255.0 * latent[2 - channel], 0.0, 255.0);
            ASSERT_NEAR(after[channel], expected, 1.5) << "at " << x << "," << y << " channel " << channel;
          }
          ++checked;
        }
      }
      EXPECT_GT(checked, 100);
    }
  }
}

TEST(FaceEnhancer, TheEnhancedFaceIsLaidOverTheFrameAtTheBlend) {
  auto model = EnhancerModel::Load(kSynthetic / "gfpgan_1.4.onnx");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const cv::Mat target = Photo("obama_official_portrait_2012.jpg");
  // Five landmarks on ffhq_512 at 512 px, moved by whole pixels: the crop is the
  // image's own pixels, so the negated face comes back exactly.
  Face face;
  const auto& points = TemplatePoints(WarpTemplate::kFfhq512);
  const cv::Point corner(150, 200);
  for (std::size_t i = 0; i < 5; ++i) face.landmarks5[i] = points[i] * 512.0f + cv::Point2f(corner);
  for (const int blend : {80, 30}) {
    SCOPED_TRACE("blend " + std::to_string(blend));
    SwapperOptions options;
    options.enhancer_blend = blend;
    auto enhancer = NewFaceEnhancer(*model, options);
    cv::Mat enhanced = target.clone();
    ASSERT_TRUE(Swap(*enhancer, enhanced, face).ok());
    // The box mask (blur 0.3 at 512: 38 px bands, σ 19) is 1 well inside the crop.
    const cv::Rect inner = cv::Rect(128, 128, 256, 256) + corner;
    for (int y = inner.y; y < inner.br().y; y += 11) {
      for (int x = inner.x; x < inner.br().x; x += 11) {
        const cv::Vec3b before = target.at<cv::Vec3b>(y, x), after = enhanced.at<cv::Vec3b>(y, x);
        for (int c = 0; c < 3; ++c) {
          const double expected = (100 - blend) / 100.0 * before[c] + blend / 100.0 * (255 - before[c]);
          ASSERT_NEAR(after[c], expected, 1.5) << "at " << x << "," << y << " channel " << c;
        }
      }
    }
    // Outside the crop's square nothing changes.
    EXPECT_EQ(cv::norm(enhanced(cv::Rect(0, 0, 100, 100)), target(cv::Rect(0, 0, 100, 100)), cv::NORM_INF), 0);
  }
}

}  // namespace
}  // namespace swapline::vision
