#include "vision/face_landmarker.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>

#include <opencv2/imgproc.hpp>

#include "vision/dlib_kernels.h"
#include "vision/face_mesh_landmarker.h"
#include "vision/fan_landmarker.h"
#include "vision/image_reduce.h"
#include "vision/image_turn.h"
#include "vision/shape_forest.h"

namespace swapline::vision {

Landmarks5 Landmarks5From68(const Landmarks68& p) {
  auto mean = [&p](int first, int last) {
    cv::Point2f sum(0, 0);
    for (int i = first; i <= last; ++i) sum += p[i];
    return sum * (1.0f / static_cast<float>(last - first + 1));
  };
  return {mean(36, 41), mean(42, 47), p[30], p[48], p[54]};
}

namespace {

// Faces wider than this are marked on a copy of their region scaled down to it: the
// shape predictor samples ~500 pixels per cascade spread over the face, so on a face
// that fills a 1080p frame most samples miss the cache, while this width keeps the
// detail the model was trained on (iBUG 300-W faces are mostly narrower).
constexpr float kMarkBoxSide = 192.0f;
// The region copied around the box: the jaw and brows reach beyond the detector's box.
constexpr float kMarkMargin = 0.35f;

class DlibLandmarker final : public FaceLandmarker {
 public:
  explicit DlibLandmarker(std::shared_ptr<const ShapeForest> model) : model_(std::move(model)) {}

  Result<Landmarks68> Mark(const cv::Mat& bgr, const cv::Rect2f& box) override {
    if (bgr.empty() || (bgr.type() != CV_8UC3 && bgr.type() != CV_8UC1)) {
      return InvalidArgument("landmarker needs an 8-bit BGR or grey image");
    }
    try {
      if (std::max(box.width, box.height) <= kMarkBoxSide) return Fit(bgr, box);
      // Bounded cost: mark a scaled-down copy of the box's region, map the points back.
      const float dx = box.width * kMarkMargin, dy = box.height * kMarkMargin;
      const cv::Rect region = cv::Rect(cvFloor(box.x - dx), cvFloor(box.y - dy), cvCeil(box.width + 2 * dx),
                                       cvCeil(box.height + 2 * dy)) &
                              cv::Rect(0, 0, bgr.cols, bgr.rows);
      if (region.width < 2 || region.height < 2) return Fit(bgr, box);
      const AreaReduction reduced = ReduceArea(bgr(region), kMarkBoxSide / std::max(box.width, box.height));
      const cv::Point2f& scale = reduced.scale;
      const cv::Point2f origin(static_cast<float>(region.x), static_cast<float>(region.y));
      const cv::Rect2f small_box((box.x - origin.x) * scale.x, (box.y - origin.y) * scale.y, box.width * scale.x,
                                 box.height * scale.y);
      SWAPLINE_ASSIGN_OR_RETURN(Landmarks68 points, Fit(reduced.image, small_box));
      // Pixel centres map onto pixel centres, as cv::resize does.
      for (auto& p : points) p = cv::Point2f((p.x + 0.5f) / scale.x - 0.5f, (p.y + 0.5f) / scale.y - 0.5f) + origin;
      return points;
    } catch (const std::exception& e) {
      return Internal(std::string("landmark detection failed: ") + e.what());
    }
  }

  std::unique_ptr<FaceLandmarker> Clone() const override { return std::make_unique<DlibLandmarker>(model_); }

 private:
  Result<Landmarks68> Fit(const cv::Mat& image, const cv::Rect2f& box) {
    const dlib::rectangle rect(static_cast<long>(box.x), static_cast<long>(box.y),
                               static_cast<long>(box.x + box.width), static_cast<long>(box.y + box.height));
    const dlib::full_object_detection shape = dlib_kernels::Active().fit_shape(*model_, image, rect);
    if (shape.num_parts() != 68) return Internal("shape predictor did not return 68 points");
    Landmarks68 points;
    for (unsigned i = 0; i < 68; ++i) {
      points[i] = cv::Point2f(static_cast<float>(shape.part(i).x()), static_cast<float>(shape.part(i).y()));
    }
    return points;
  }

  std::shared_ptr<const ShapeForest> model_;
};

}  // namespace

std::filesystem::path DefaultShapePredictorPath() {
  return std::filesystem::path(SWAPLINE_DLIB_DATA_DIR) / "shape_predictor_68_face_landmarks.dat";
}

namespace {

// A loaded model stays shared while any landmarker holds it: a worker's job slots, and
// the engines it makes for other settings, read one copy (~66 MB in memory, about a
// second to parse) instead of one each. Loads run one at a time, so two slots starting
// together parse the file once.
Result<std::shared_ptr<const ShapeForest>> SharedShapeForest(const std::filesystem::path& model) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::weak_ptr<const ShapeForest>> loaded;
  const std::lock_guard lock(mutex);
  if (auto kept = loaded[model].lock()) return kept;
  std::error_code ec;
  std::ifstream in;
  if (std::filesystem::is_regular_file(model, ec)) in.open(model, std::ios::binary);
  if (!in.is_open()) {
    return FailedPrecondition("landmark model '" + model.string() +
                              "' not found; install the Debian package libdlib-data (make deps)");
  }
  Result<ShapeForest> read = ShapeForest::Read(in);
  if (!read.ok()) return FailedPrecondition("landmark model '" + model.string() + "': " + read.status().message());
  if (read->num_parts() != 68) {
    return FailedPrecondition("landmark model '" + model.string() + "' predicts " +
                              std::to_string(read->num_parts()) + " points; 68 are needed");
  }
  auto forest = std::make_shared<const ShapeForest>(std::move(*read));
  loaded[model] = forest;
  return forest;
}

}  // namespace

Result<std::unique_ptr<FaceLandmarker>> LoadDlibLandmarker(const std::filesystem::path& model) {
  SWAPLINE_ASSIGN_OR_RETURN(std::shared_ptr<const ShapeForest> forest, SharedShapeForest(model));
  return std::unique_ptr<FaceLandmarker>(std::make_unique<DlibLandmarker>(std::move(forest)));
}

Result<Landmarks68> MarkTurned(FaceLandmarker& landmarker, const cv::Mat& image, const cv::Rect2f& box, int angle) {
  if (angle == 0) return landmarker.Mark(image, box);
  // Only the region around the box is turned: a frame-sized copy per face would cost
  // more than the landmarks. Twice the box leaves the landmarker its margin.
  const cv::Point2f centre = (box.tl() + box.br()) * 0.5f;
  const float side = 2 * std::max(box.width, box.height);
  const cv::Rect region = cv::Rect(cv::Rect2f(centre.x - side / 2, centre.y - side / 2, side, side)) &
                          cv::Rect(0, 0, image.cols, image.rows);
  if (region.empty()) return InvalidArgument("the face box lies outside the image");
  const cv::Mat turned = TurnClockwise(image(region), angle);
  const cv::Rect2f in_region(box.x - static_cast<float>(region.x), box.y - static_cast<float>(region.y), box.width,
                             box.height);
  SWAPLINE_ASSIGN_OR_RETURN(Landmarks68 points, landmarker.Mark(turned, ToTurned(in_region, region.size(), angle)));
  const cv::Point2f origin(static_cast<float>(region.x), static_cast<float>(region.y));
  for (cv::Point2f& p : points) p = FromTurned(p, region.size(), angle) + origin;
  return points;
}

Result<std::unique_ptr<FaceLandmarker>> LoadFaceLandmarker(std::string_view architecture,
                                                           const std::filesystem::path& onnx) {
  if (architecture == "face_mesh") return LoadFaceMeshLandmarker(onnx);
  if (architecture == "2dfan4") return LoadFan68Landmarker(onnx);
  return InvalidArgument("no face landmarker of architecture '" + std::string(architecture) + "'");
}

}  // namespace swapline::vision
