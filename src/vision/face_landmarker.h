// FaceLandmarker: 68 facial landmarks for a detected face.
//
// Mark() returns the 68 points (iBUG 300-W order) of the face in `box` of an 8-bit
// BGR or grey image, in that image's pixels. The embedded default is dlib's 68-point shape
// predictor from the Debian package libdlib-data
// (/usr/share/dlib/shape_predictor_68_face_landmarks.dat), evaluated by
// vision/shape_forest.h (about 0.4 ms per face on a warm cache; a face wider than
// 192 px is marked on a copy of its region scaled down to that, so the cost does not
// grow with the face's size). Its
// training data (iBUG 300-W) excludes commercial use: see README "Models".
//
// A landmarker that can tell returns Code::kNoFace when the box holds no face
// (vision/face_mesh_landmarker.h); FaceAnalyser and FaceTracker then drop that box.
//
// Loading fails with Code::kFailedPrecondition naming the file and the package when
// the model is missing. The loaded model is immutable and shared by copies made with
// Clone(), which are cheap; an instance is used by one thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "vision/face.h"

namespace swapline::vision {

class FaceLandmarker {
 public:
  virtual ~FaceLandmarker() = default;
  virtual Result<Landmarks68> Mark(const cv::Mat& bgr, const cv::Rect2f& box) = 0;
  virtual std::unique_ptr<FaceLandmarker> Clone() const = 0;
};

// The landmarks of the face in `box` that stands upright in `image` turned clockwise by
// `angle` (Detection::angle): marked on a turned copy of the region around the box,
// returned in `image`'s pixels. Mark() itself for angle 0.
Result<Landmarks68> MarkTurned(FaceLandmarker& landmarker, const cv::Mat& image, const cv::Rect2f& box, int angle);

std::filesystem::path DefaultShapePredictorPath();

// A neural landmarker by the model manifest's `architecture`: face_mesh
// (vision/face_mesh_landmarker.h) or 2dfan4 (vision/fan_landmarker.h);
// InvalidArgument for another architecture.
Result<std::unique_ptr<FaceLandmarker>> LoadFaceLandmarker(std::string_view architecture,
                                                           const std::filesystem::path& onnx);

// dlib's 68-point shape predictor from `model`. Landmarkers loaded from one path share
// one copy of the model while any of them lives (it is read once per process then);
// FailedPrecondition when the file is missing or not a 68-point predictor.
Result<std::unique_ptr<FaceLandmarker>> LoadDlibLandmarker(
    const std::filesystem::path& model = DefaultShapePredictorPath());

}  // namespace swapline::vision
