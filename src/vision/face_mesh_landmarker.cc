#include "vision/face_mesh_landmarker.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "infer/session.h"
#include "vision/network_landmarker.h"

namespace swapline::vision {
namespace {

constexpr int kInputSide = 192;
constexpr int kMeshPoints = 468;
// Crop sides. The first pass only has to contain the face: HOG and YuNet boxes are
// tighter than BlazeFace's, for which MediaPipe uses 1.5. Of 1.3, 1.6 and 2.0 (first)
// × 1.3, 1.5 and 1.7 (second), 1.6 × 1.5 agreed best with dlib on the test photos.
constexpr float kBoxCropScale = 1.6f;
// The second pass frames the mesh's own extent (brows to chin, ear to ear), as
// MediaPipe's landmarks-to-ROI step with its scale 1.5.
constexpr float kMeshCropScale = 1.5f;
// Passes end when the roll moves less than this; a face rolled by 45° takes about
// eight passes, an upright one two.
constexpr int kMaxPasses = 8;
constexpr float kSettledRoll = 2.0f * std::numbers::pi_v<float> / 180;
// Outer eye corners, for the roll.
constexpr int kRightEyeOuter = 33, kLeftEyeOuter = 263;

using Mesh = std::array<cv::Point2f, kMeshPoints>;

infer::ModelSignature FaceMeshSignature() {
  return {{{"input_1", {1, 3, kInputSide, kInputSide}}},
          {{"conv2d_20", {1, kMeshPoints * 3, 1, 1}}, {"conv2d_30", {1, 1, 1, 1}}}};
}

// A square region of the image: centre, side in image pixels, and the angle (radians,
// clockwise as seen with y down) by which the face is rolled.
struct Square {
  cv::Point2f centre;
  float side = 0;
  float roll = 0;
};

// The square whose rotated frame frames the mesh: centre of the mesh's extent in the
// face's upright frame, side `scale` × its longer side.
Square FitSquare(const Mesh& mesh, float scale) {
  const cv::Point2f eyes = mesh[kLeftEyeOuter] - mesh[kRightEyeOuter];
  const float roll = std::atan2(eyes.y, eyes.x);
  const float c = std::cos(roll), s = std::sin(roll);
  // Upright frame: rotate image points by -roll.
  float min_u = 1e30f, max_u = -1e30f, min_v = 1e30f, max_v = -1e30f;
  for (const cv::Point2f& p : mesh) {
    const float u = c * p.x + s * p.y, v = -s * p.x + c * p.y;
    min_u = std::min(min_u, u), max_u = std::max(max_u, u);
    min_v = std::min(min_v, v), max_v = std::max(max_v, v);
  }
  const float u = (min_u + max_u) / 2, v = (min_v + max_v) / 2;
  return {{c * u - s * v, s * u + c * v}, scale * std::max(max_u - min_u, max_v - min_v), roll};
}

class FaceMeshLandmarker final : public NetworkLandmarker<FaceMeshLandmarker> {
 public:
  using NetworkLandmarker::NetworkLandmarker;

  Result<Landmarks68> MarkChecked(const cv::Mat& image, const cv::Rect2f& box) {
    const Square first{{box.x + box.width / 2, box.y + box.height / 2}, kBoxCropScale * std::max(box.width, box.height), 0};
    float presence = 0;
    SWAPLINE_ASSIGN_OR_RETURN(Mesh mesh, Run(image, first, presence));
    // Each pass rolls the crop further toward the face's own roll (the network, trained
    // on upright crops, sees only part of it); an upright face settles after the second.
    Square square = FitSquare(mesh, kMeshCropScale);
    for (int pass = 2; pass <= kMaxPasses; ++pass) {
      SWAPLINE_ASSIGN_OR_RETURN(mesh, Run(image, square, presence));
      const Square refitted = FitSquare(mesh, kMeshCropScale);
      if (std::abs(refitted.roll - square.roll) < kSettledRoll) break;
      square = refitted;
    }
    if (!(presence >= 0)) {
      return NoFace("Face Mesh finds no face in the detected box (presence logit " + std::to_string(presence) + ")");
    }
    Landmarks68 points;
    const std::array<int, 68>& table = FaceMeshToIbug68();
    for (std::size_t i = 0; i < points.size(); ++i) points[i] = mesh[static_cast<std::size_t>(table[i])];
    return points;
  }

 private:
  // The mesh in image pixels of the face in `square`, and the presence logit.
  Result<Mesh> Run(const cv::Mat& image, const Square& square, float& presence) {
    // Image → crop: rotate by -roll about the centre, scale the side to the input.
    const double degrees = square.roll * 180.0 / std::numbers::pi;
    cv::Mat to_crop = cv::getRotationMatrix2D(square.centre, degrees, kInputSide / std::max(square.side, 1.0f));
    to_crop.at<double>(0, 2) += kInputSide / 2.0 - square.centre.x;
    to_crop.at<double>(1, 2) += kInputSide / 2.0 - square.centre.y;
    cv::Mat crop;
    cv::warpAffine(image, crop, to_crop, cv::Size(kInputSide, kInputSide), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    if (crop.channels() == 1) cv::cvtColor(crop, crop, cv::COLOR_GRAY2BGR);  // a video's luma plane
    const cv::Mat blob = cv::dnn::blobFromImage(crop, 1.0 / 255.0, {}, {}, /*swapRB=*/true);
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> outputs, session().Run(blob));
    presence = outputs[1].ptr<float>()[0];
    cv::Mat to_image;
    cv::invertAffineTransform(to_crop, to_image);
    const auto* m = to_image.ptr<double>();
    const float* xyz = outputs[0].ptr<float>();
    Mesh mesh;
    for (int i = 0; i < kMeshPoints; ++i) {
      const double x = xyz[3 * i], y = xyz[3 * i + 1];
      mesh[static_cast<std::size_t>(i)] = cv::Point2f(static_cast<float>(m[0] * x + m[1] * y + m[2]),
                                                       static_cast<float>(m[3] * x + m[4] * y + m[5]));
    }
    return mesh;
  }
};

}  // namespace

const std::array<int, 68>& FaceMeshToIbug68() {
  // "Right"/"left" are the subject's: iBUG's first eye (36-41) is the one on the image's left.
  // Where Face Mesh and iBUG annotate the same feature (eye corners, nose, lip corners,
  // mouth centre line) the index is that feature's. Elsewhere the two disagree on where
  // a point lies (iBUG's jaw runs inside Face Mesh's face oval at the cheeks; its lip
  // and brow points are spaced differently), so the index is the mesh point closest to
  // dlib's point on average over the faces of the test photos, chosen in mirror pairs
  // where that costs under 1.5 % of the inter-ocular distance.
  static constexpr std::array<int, 68> kTable = {
      127, 234, 147, 215, 172, 136, 149, 148, 152, 377, 378, 365, 397, 435, 376, 447, 356,  // jaw, 0-16
      124, 63, 105, 66, 55,                                  // right brow, outer to inner, 17-21
      285, 296, 334, 293, 353,                               // left brow, inner to outer, 22-26
      168, 197, 5, 4,                                        // nose bridge to tip, 27-30
      240, 97, 2, 326, 305,                                  // nostrils, 31-35
      7, 159, 158, 155, 153, 144,                            // right eye, 36-41
      382, 385, 386, 249, 373, 380,                          // left eye, 42-47
      61, 80, 72, 11, 302, 310, 306, 404, 315, 16, 85, 91,   // outer lips, 48-59
      62, 82, 13, 268, 407, 317, 14, 87};                    // inner lips, 60-67
  return kTable;
}

Result<std::unique_ptr<FaceLandmarker>> LoadFaceMeshLandmarker(const std::filesystem::path& onnx) {
  return FaceMeshLandmarker::Load(onnx, FaceMeshSignature(), "Face Mesh landmarker");
}

}  // namespace swapline::vision
