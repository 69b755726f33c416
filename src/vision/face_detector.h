// FaceDetector: finds faces in an image and returns a box and score per face.
//
// Detect() takes an 8-bit BGR or grey (e.g. a video's luma plane) image and returns every face whose score is at least
// `min_score` (0..1), in no particular order; an image without faces gives an empty
// vector, not an error. Boxes are in the input image's pixels.
//
// DetectNear() looks only around a face's box (from a frame just before or after):
// the faces within the region half the box's size beyond each of its sides. A video
// tracker asks it whether a face was already there a frame earlier; the default runs
// Detect() on that region, the HOG detector scans it at the scale that makes the face
// just big enough for its window, a few percent of a whole frame's scan.
//
// The embedded default is dlib's HOG frontal face detector (no model file). It runs
// on a copy of the image scaled so its longest side is `detect_side` pixels (default
// 640: a 1080p frame takes ~25 ms instead of ~200 ms at full size), then maps boxes
// back. HOG sees faces from about 80 px at the scanned scale, so small images are
// scaled up (at most 2x) to reach detect_side. Its SVM margin m is reported as
// score = 1 / (1 + exp(-2(m - 0.25))), so FaceFusion's default --face-detector-score
// 0.5 sits a little above dlib's own threshold (m = 0), which admits face-like patterns.
//
// Neural detectors run through infer::InferenceSession (neural_face_detectors.cc).
//
// Thread safety: an instance is used by one thread at a time; make one per worker.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "vision/face.h"

namespace swapline::vision {

class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  virtual Result<std::vector<Detection>> Detect(const cv::Mat& bgr, float min_score) = 0;
  virtual Result<std::vector<Detection>> DetectNear(const cv::Mat& bgr, const cv::Rect2f& box, float min_score);
};

struct HogFaceDetectorOptions {
  int detect_side = 640;
};

std::unique_ptr<FaceDetector> NewHogFaceDetector(const HogFaceDetectorOptions& options = {});

// YuNet (the 2023 ONNX layout: models yunet_{n,s}_{320,640}), `side` its fixed input
// (320 or 640). The image is fitted into the input keeping its aspect, so faces
// smaller than ~10 px at that scale are not found: 640 for small faces in big frames.
// FailedPrecondition when the file is not a YuNet model of that size.
Result<std::unique_ptr<FaceDetector>> NewYuNetFaceDetector(const std::filesystem::path& onnx, int side);

// MediaPipe BlazeFace: the front model (128 px input, faces filling much of the
// frame: selfies, close-ups) or the back model (256 px, smaller and farther faces).
Result<std::unique_ptr<FaceDetector>> NewBlazeFaceDetector(const std::filesystem::path& onnx, int side);

// InsightFace SCRFD (scrfd_2.5g) and RetinaFace (retinaface_10g, an SCRFD-10g): one
// layout, any square input from 160 to 1280 px in steps of 32 (FaceFusion offers 160,
// 320, 480, 512 and 640).
Result<std::unique_ptr<FaceDetector>> NewScrfdFaceDetector(const std::filesystem::path& onnx, int side);

// YOLOv8n-face (FaceFusion's yolo_face, yoloface_8n.onnx): 640 px input.
Result<std::unique_ptr<FaceDetector>> NewYoloFaceDetector(const std::filesystem::path& onnx);

// FaceFusion's --face-detector-angles: `detector` runs on copies of the image turned
// clockwise by each of `angles` (0, 90, 180, 270; distinct), so faces lying on their
// side or upside down are found. Boxes map back to the image and carry the angle they
// were found at; of boxes overlapping across angles the best is kept.
// InvalidArgument for other or repeated angles, or none.
Result<std::unique_ptr<FaceDetector>> NewTurningFaceDetector(std::unique_ptr<FaceDetector> detector,
                                                             const std::vector<int>& angles);

// FaceFusion's --face-detector-margin: `detector` runs on the image padded with black
// by `margin` percent (top, right, bottom, left; 0..100) of half its height or width,
// so a face cut by the image's edge is seen with room around it; boxes map back to the
// image and may reach past its edges. InvalidArgument for a value outside 0..100.
Status CheckDetectorMargin(const std::array<float, 4>& margin);
Result<std::unique_ptr<FaceDetector>> NewMarginFaceDetector(std::unique_ptr<FaceDetector> detector,
                                                            const std::array<float, 4>& margin);

// One of the above by the model manifest's `architecture` (yunet, blazeface, scrfd,
// yolo_face) with `side` its square input; InvalidArgument for another architecture.
Result<std::unique_ptr<FaceDetector>> LoadFaceDetector(std::string_view architecture,
                                                       const std::filesystem::path& onnx, int side);

}  // namespace swapline::vision
