#include "vision/face_landmarker.h"

#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv/cv_image.h>
#include <dlib/serialize.h>

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

class DlibLandmarker final : public FaceLandmarker {
 public:
  explicit DlibLandmarker(std::shared_ptr<const dlib::shape_predictor> predictor)
      : predictor_(std::move(predictor)) {}

  Result<Landmarks68> Mark(const cv::Mat& bgr, const cv::Rect2f& box) override {
    if (bgr.empty() || (bgr.type() != CV_8UC3 && bgr.type() != CV_8UC1)) {
      return InvalidArgument("landmarker needs an 8-bit BGR or grey image");
    }
    try {
      return bgr.channels() == 3 ? Fit(dlib::cv_image<dlib::bgr_pixel>(bgr), box)
                                 : Fit(dlib::cv_image<unsigned char>(bgr), box);
    } catch (const std::exception& e) {
      return Internal(std::string("landmark detection failed: ") + e.what());
    }
  }

  std::unique_ptr<FaceLandmarker> Clone() const override { return std::make_unique<DlibLandmarker>(predictor_); }

 private:
  template <typename Image>
  Result<Landmarks68> Fit(const Image& image, const cv::Rect2f& box) {
    const dlib::rectangle rect(static_cast<long>(box.x), static_cast<long>(box.y),
                               static_cast<long>(box.x + box.width), static_cast<long>(box.y + box.height));
    const dlib::full_object_detection shape = (*predictor_)(image, rect);
    if (shape.num_parts() != 68) return Internal("shape predictor did not return 68 points");
    Landmarks68 points;
    for (unsigned i = 0; i < 68; ++i) {
      points[i] = cv::Point2f(static_cast<float>(shape.part(i).x()), static_cast<float>(shape.part(i).y()));
    }
    return points;
  }

  std::shared_ptr<const dlib::shape_predictor> predictor_;
};

}  // namespace

std::filesystem::path DefaultShapePredictorPath() {
  return std::filesystem::path(SWAPLINE_DLIB_DATA_DIR) / "shape_predictor_68_face_landmarks.dat";
}

Result<std::unique_ptr<FaceLandmarker>> LoadDlibLandmarker(const std::filesystem::path& model) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model, ec)) {
    return FailedPrecondition("landmark model '" + model.string() +
                              "' not found; install the Debian package libdlib-data (make deps)");
  }
  auto predictor = std::make_shared<dlib::shape_predictor>();
  try {
    dlib::deserialize(model.string()) >> *predictor;
  } catch (const std::exception& e) {
    return FailedPrecondition("landmark model '" + model.string() + "' is not a dlib shape predictor: " + e.what());
  }
  if (predictor->num_parts() != 68) {
    return FailedPrecondition("landmark model '" + model.string() + "' predicts " +
                              std::to_string(predictor->num_parts()) + " points; 68 are needed");
  }
  return std::unique_ptr<FaceLandmarker>(std::make_unique<DlibLandmarker>(std::move(predictor)));
}

}  // namespace swapline::vision
