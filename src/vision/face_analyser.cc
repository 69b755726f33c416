#include "vision/face_analyser.h"

namespace swapline::vision {

FaceAnalyser::FaceAnalyser(std::unique_ptr<FaceDetector> detector, std::unique_ptr<FaceLandmarker> landmarker,
                           std::unique_ptr<FaceRecognizer> recognizer)
    : detector_(std::move(detector)), landmarker_(std::move(landmarker)), recognizer_(std::move(recognizer)) {}

Result<FaceAnalyser> FaceAnalyser::CreateDefault(int detect_side) {
  return CreateWithDetector(NewHogFaceDetector({.detect_side = detect_side}));
}

Result<FaceAnalyser> FaceAnalyser::CreateWithDetector(std::unique_ptr<FaceDetector> detector) {
  SWAPLINE_ASSIGN_OR_RETURN(std::unique_ptr<FaceLandmarker> landmarker, LoadDlibLandmarker());
  return FaceAnalyser(std::move(detector), std::move(landmarker), nullptr);
}

Result<std::vector<Face>> FaceAnalyser::Analyse(const cv::Mat& bgr, float min_score, bool with_embeddings) {
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<Detection> detections, detector_->Detect(bgr, min_score));
  std::vector<Face> faces;
  faces.reserve(detections.size());
  for (const Detection& detection : detections) {
    Face face;
    face.box = detection.box;
    face.score = detection.score;
    Result<Landmarks68> marked = MarkTurned(*landmarker_, bgr, detection.box, detection.angle);
    if (!marked.ok() && marked.status().code() == Code::kNoFace) continue;  // the landmarker overrules the detector
    SWAPLINE_ASSIGN_OR_RETURN(face.landmarks68, std::move(marked));
    face.landmarks5 = Landmarks5From68(face.landmarks68);
    if (with_embeddings && recognizer_) {
      SWAPLINE_ASSIGN_OR_RETURN(Embedding embedding, recognizer_->Embed(bgr, face));
      face.embedding = std::move(embedding);
    }
    faces.push_back(std::move(face));
  }
  return faces;
}

}  // namespace swapline::vision
