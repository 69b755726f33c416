// Internal to the neural landmarkers (vision/face_mesh_landmarker.h, fan_landmarker.h):
// what they share. One inference session, or the error that kept a clone from loading
// one (reported by Mark(), since Clone() cannot fail); the checks of Mark()'s inputs;
// Clone() loading another session of the same file.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/status.h"
#include "infer/session.h"
#include "vision/face_landmarker.h"

namespace swapline::vision {

// Derived implements Result<Landmarks68> MarkChecked(image, box) for an 8-bit BGR or
// grey image and a non-empty box, and inherits this constructor.
template <typename Derived>
class NetworkLandmarker : public FaceLandmarker {
 public:
  NetworkLandmarker(std::unique_ptr<infer::InferenceSession> session, Status load_status)
      : session_(std::move(session)), load_status_(std::move(load_status)) {}

  Result<Landmarks68> Mark(const cv::Mat& image, const cv::Rect2f& box) final {
    SWAPLINE_RETURN_IF_ERROR(load_status_);
    if (image.empty() || (image.type() != CV_8UC3 && image.type() != CV_8UC1)) {
      return InvalidArgument("landmarker needs an 8-bit BGR or grey image");
    }
    if (!(box.width > 0 && box.height > 0)) return InvalidArgument("landmarker needs a non-empty face box");
    return static_cast<Derived*>(this)->MarkChecked(image, box);
  }

  std::unique_ptr<FaceLandmarker> Clone() const final {
    if (!load_status_.ok()) return std::make_unique<Derived>(nullptr, load_status_);
    auto session = session_->Clone();
    if (!session.ok()) return std::make_unique<Derived>(nullptr, session.status());
    return std::make_unique<Derived>(std::move(session).value(), Status::Ok());
  }

  // Loads `onnx` checked against `signature`; errors say they concern `what`.
  static Result<std::unique_ptr<FaceLandmarker>> Load(const std::filesystem::path& onnx,
                                                      const infer::ModelSignature& signature, const std::string& what) {
    auto session = infer::InferenceSession::Load(onnx, signature);
    if (!session.ok()) return session.status().WithContext(what);
    return std::unique_ptr<FaceLandmarker>(std::make_unique<Derived>(std::move(session).value(), Status::Ok()));
  }

 protected:
  infer::InferenceSession& session() { return *session_; }

 private:
  std::unique_ptr<infer::InferenceSession> session_;
  Status load_status_;
};

}  // namespace swapline::vision
