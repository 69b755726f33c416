// FaceRecognizer: identity embeddings, for reference-mode selection and quality checks.
//
// Embed() maps the face at `face` in `image` (BGR, 8-bit) to an embedding; Distance()
// compares two embeddings made by the same recognizer: small for the same person.
// SameIdentityThreshold() is the distance under which two faces count as one person.
//
// No recognizer model is embedded: one is configured with --face-recognizer-model.
// Without one, anything that needs identities fails with Code::kFailedPrecondition.
//
// Thread safety: an instance is used by one thread at a time; make one per worker.
#pragma once

#include <filesystem>
#include <memory>

#include <opencv2/core.hpp>

#include "core/status.h"
#include "vision/face.h"

namespace swapline::vision {

class FaceRecognizer {
 public:
  virtual ~FaceRecognizer() = default;
  virtual Result<Embedding> Embed(const cv::Mat& image, const Face& face) = 0;
  virtual float Distance(const Embedding& a, const Embedding& b) const = 0;
  virtual float SameIdentityThreshold() const = 0;
};

// Loads a recognizer from a model file, chosen by its name:
//   *.dat   dlib face_recognition_densenet_model_v1 (128-d, Euclidean distance, 0.55)
//   *.onnx  ArcFace (vision/arcface_recognizer.h: 512-d, 1 − cosine similarity, 0.6)
// Unknown or unreadable files give a Status naming the file and what is supported.
Result<std::unique_ptr<FaceRecognizer>> LoadFaceRecognizer(const std::filesystem::path& model);

}  // namespace swapline::vision
