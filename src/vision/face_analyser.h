// FaceAnalyser: detector + landmarker (+ recognizer) → Faces.
//
// Analyse() returns every face of an 8-bit BGR image scoring at least `min_score`,
// with 68 and 5 landmarks and, when a recognizer is configured and
// `with_embeddings` is set, an identity embedding. No faces is an empty vector; a
// detection in which the landmarker finds no face (kNoFace) is left out.
//
// Thread safety: an instance is used by one thread at a time; Clone() makes another
// that shares the loaded models.
#pragma once

#include <memory>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "vision/face.h"
#include "vision/face_detector.h"
#include "vision/face_landmarker.h"
#include "vision/face_recognizer.h"

namespace swapline::vision {

class FaceAnalyser {
 public:
  FaceAnalyser(std::unique_ptr<FaceDetector> detector, std::unique_ptr<FaceLandmarker> landmarker,
               std::unique_ptr<FaceRecognizer> recognizer);

  // The embedded defaults: dlib HOG detector (scanning at `detect_side`, see
  // HogFaceDetectorOptions) and 68-point shape predictor.
  static Result<FaceAnalyser> CreateDefault(int detect_side = HogFaceDetectorOptions{}.detect_side);
  // `detector` with the default 68-point landmarker.
  static Result<FaceAnalyser> CreateWithDetector(std::unique_ptr<FaceDetector> detector);

  Result<std::vector<Face>> Analyse(const cv::Mat& bgr, float min_score, bool with_embeddings);

  // Stages on their own, for benchmarks.
  FaceDetector& detector() { return *detector_; }
  FaceLandmarker& landmarker() { return *landmarker_; }
  // Null when no recognizer is configured.
  FaceRecognizer* recognizer() { return recognizer_.get(); }
  void set_recognizer(std::unique_ptr<FaceRecognizer> recognizer) { recognizer_ = std::move(recognizer); }

 private:
  std::unique_ptr<FaceDetector> detector_;
  std::unique_ptr<FaceLandmarker> landmarker_;
  std::unique_ptr<FaceRecognizer> recognizer_;
};

}  // namespace swapline::vision
