// inswapper, hyperswap and simswap on synthetic networks with their layouts
// (support/synthetic_models.py): the emap is read from the model file's last
// initializer (FLOAT and FLOAT16); a network that returns its target unchanged gives
// back the target face within rounding, at the model's side and at a pixel boost; one
// that adds its source input to the face checks the source input (inswapper:
// e · emap / ‖e‖ of the sources' mean ArcFace embedding; hyperswap: the mean normalised
// embedding; simswap: the mean embedding through its converter, normalised), the
// normalisation and the RGB order against a reference computed here.
// The face enhancer (GFPGAN's layout) on a network that negates its input.
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

// synthetic_models.py's inswapper_emap() and crossface_matrix().
float Emap(int j, int c) { return (j == c ? 2.0f : 0.0f) + 0.0001f * static_cast<float>((j + 3 * c) % 11); }
float Crossface(int j, int c) { return (j == c ? 1.5f : 0.0f) + 0.0002f * static_cast<float>((2 * j + c) % 7); }
const fs::path kCrossface = kSynthetic / "crossface_simswap.onnx";

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
Face TemplateFace(cv::Point corner, int side = 128, WarpTemplate warp_template = WarpTemplate::kArcface128) {
  Face face;
  const auto& points = TemplatePoints(warp_template);
  for (std::size_t i = 0; i < 5; ++i) face.landmarks5[i] = points[i] * static_cast<float>(side) + cv::Point2f(corner);
  return face;
}

SwapperOptions BoxOnly(int pixel_boost = 0) {
  SwapperOptions options;
  options.mask.types = {MaskType::kBox};
  options.pixel_boost = pixel_boost;
  return options;
}

std::shared_ptr<NeuralSwapperModel> LoadModel(const std::string& architecture, const std::string& file) {
  auto model = NeuralSwapperModel::Load(architecture, kSynthetic / file, kArcFace, kCrossface);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? *model : nullptr;
}

// The synthetic swappers: one returning its target, one adding its source to it.
struct SwapperCase {
  const char* architecture;
  const char* file;
  const char* identity_file;
  int side;
  int boost;             // a pixel boost to try besides the model's side
  double output_scale;   // output units per 8-bit level: 255 (0..1) or 127.5 (−1..1)
  WarpTemplate warp_template;
};
const SwapperCase kSwappers[] = {
    {"inswapper", "inswapper_128.onnx", "inswapper_identity.onnx", 128, 256, 255.0, WarpTemplate::kArcface128},
    {"hyperswap", "hyperswap_1a_256.onnx", "hyperswap_identity.onnx", 256, 512, 127.5, WarpTemplate::kArcface128},
    {"simswap", "simswap_256.onnx", "simswap_identity.onnx", 256, 512, 255.0, WarpTemplate::kArcface112V1},
};
const std::string_view kInswapper = "inswapper", kHyperswap = "hyperswap";

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
  auto half = NeuralSwapperModel::Load("inswapper", kSynthetic / "inswapper_128_fp16.onnx", kArcFace);
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("FLOAT16"), std::string::npos) << half.status().ToString();
  // A network of another layout: refused at load, whatever its initializers.
  auto wrong = NeuralSwapperModel::Load("inswapper", kSynthetic / "2dfan4.onnx", kArcFace);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().ToString().find("inswapper"), std::string::npos) << wrong.status().ToString();
}

TEST(NeuralFaceSwapper, ANetworkReturningItsTargetGivesBackTheTargetFace) {
  auto prepared = PrepareSource({SourceFace("eileen_collins_nasa_portrait.png")});
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  const cv::Mat target = Photo("obama_official_portrait_2012.jpg");
  for (const SwapperCase& c : kSwappers) {
    auto model = LoadModel(c.architecture, c.identity_file);
    ASSERT_NE(model, nullptr);
    // At a pixel boost the crop is split into interleaved faces of the model's side and
    // joined back: the round trip must be exact too.
    for (const int boost : {0, c.boost}) {
      SCOPED_TRACE(std::string(c.architecture) + ", pixel boost " + std::to_string(boost));
      auto swapper = NewNeuralFaceSwapper(model, BoxOnly(boost));
      swapper->SetSource(*prepared);
      cv::Mat swapped = target.clone();
      ASSERT_TRUE(Swap(*swapper, swapped, TemplateFace({150, 200}, boost > 0 ? boost : c.side, c.warp_template)).ok());
      cv::Mat difference;
      cv::absdiff(swapped, target, difference);
      double worst = 0;
      cv::minMaxLoc(difference.reshape(1), nullptr, &worst);
      // The fitted alignment is exact to float precision (about 0.005 px across a 512 px
      // crop), which moves the sharpest edges by up to 2 levels.
      EXPECT_LE(worst, 2.0) << "the round trip through the crop changed the face";
    }
    EXPECT_FALSE(CheckPixelBoost(model->layout(), c.side + 64).ok());
    EXPECT_TRUE(CheckPixelBoost(model->layout(), 1024).ok());
    EXPECT_FALSE(CheckPixelBoost(model->layout(), 2048).ok());
  }
}

TEST(NeuralFaceSwapper, TheSourceInputIsMadeFromTheArcFaceEmbeddingsAsFaceFusionDoes) {
  const std::vector<SourceImage> sources = {SourceFace("eileen_collins_nasa_portrait.png"),
                                            SourceFace("grace_hopper_usn_portrait.jpg")};
  auto recognizer = LoadArcFaceRecognizer(kArcFace);
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  std::vector<std::vector<double>> embeddings;
  for (const SourceImage& source : sources) {
    auto embedding = (*recognizer)->Embed(source.image, source.face);
    ASSERT_TRUE(embedding.ok()) << embedding.status().ToString();
    embeddings.emplace_back(embedding->values.begin(), embedding->values.end());
  }
  auto length = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x * x;
    return std::sqrt(sum);
  };
  const cv::Mat target = Photo("obama_official_portrait_2012.jpg");
  const cv::Point corner(150, 200);
  for (const SwapperCase& c : kSwappers) {
    auto model = LoadModel(c.architecture, c.file);
    ASSERT_NE(model, nullptr);
    for (const std::size_t count : {std::size_t{1}, std::size_t{2}}) {
      // The reference. inswapper: e = Σ raw embeddings (the mean's direction), source =
      // e · emap / ‖e‖. hyperswap: the mean of the normalised embeddings. simswap: the
      // mean raw embedding through the converter, normalised.
      double source[3] = {0, 0, 0};
      std::vector<double> e(512, 0.0);
      for (std::size_t s = 0; s < count; ++s) {
        const double norm = length(embeddings[s]);
        for (int j = 0; j < 512; ++j) e[j] += (c.architecture == kHyperswap ? embeddings[s][j] / norm : embeddings[s][j]) / count;
      }
      if (c.architecture == kHyperswap) {
        std::copy(e.begin(), e.begin() + 3, source);
      } else if (c.architecture == kInswapper) {
        for (int ch = 0; ch < 3; ++ch) {
          for (int j = 0; j < 512; ++j) source[ch] += e[j] * Emap(j, ch) / length(e);
        }
      } else {
        std::vector<double> converted(512, 0.0);
        for (int k = 0; k < 512; ++k) {
          for (int j = 0; j < 512; ++j) converted[k] += e[j] * Crossface(j, k);
        }
        for (int ch = 0; ch < 3; ++ch) source[ch] = converted[ch] / length(converted);
      }
      for (const int boost : {0, c.boost}) {
        SCOPED_TRACE(std::string(c.architecture) + ", sources: " + std::to_string(count) + ", pixel boost " +
                     std::to_string(boost));
        const int side = boost > 0 ? boost : c.side;
        auto prepared = PrepareSource(std::vector<SourceImage>(sources.begin(), sources.begin() + count));
        ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
        auto swapper = NewNeuralFaceSwapper(model, BoxOnly(boost));
        swapper->SetSource(*prepared);
        cv::Mat swapped = target.clone();
        ASSERT_TRUE(Swap(*swapper, swapped, TemplateFace(corner, side, c.warp_template)).ok());
        // The network adds source[c] to RGB channel c: blue gets source[2], red source[0].
        const cv::Rect inner = Inner(side) + corner;
        int checked = 0;
        for (int y = inner.y; y < inner.br().y; y += 7) {
          for (int x = inner.x; x < inner.br().x; x += 7) {
            const cv::Vec3b before = target.at<cv::Vec3b>(y, x), after = swapped.at<cv::Vec3b>(y, x);
            for (int channel = 0; channel < 3; ++channel) {
              const double expected =
                  std::clamp(before[channel] + c.output_scale * source[2 - channel], 0.0, 255.0);
              ASSERT_NEAR(after[channel], expected, 1.5) << "at " << x << "," << y << " channel " << channel;
            }
            ++checked;
          }
        }
        EXPECT_GT(checked, 100);
      }
    }
  }
}

TEST(FaceEnhancer, TheEnhancedFaceIsLaidOverTheFrameAtTheBlend) {
  auto model = LoadEnhancerModel(kSynthetic / "gfpgan_1.4.onnx");
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
