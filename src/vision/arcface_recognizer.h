// ArcFace recognizer: InsightFace's arcface_w600k_r50, FaceFusion's identity model
// (512-d; InsightFace non-commercial licence, so users bring it: README "Models you bring").
//
// Model I/O, as FaceFusion feeds it: the face aligned on its five landmarks to the
// arcface_112_v2 template at 112×112, RGB, (x − 127.5) / 127.5, NCHW, into the network's
// one input (exports name it `input` or `input.1`); the output is the raw 1×512
// embedding. Embed() returns it raw: the neural swappers need its length (inswapper's
// latent divides by it), and Distance() normalises: 1 − cosine similarity, FaceFusion's
// face distance. Two faces of one person lie under 0.6 (cosine similarity above 0.4, as
// FaceFusion's reference distance 0.3 on half that distance).
//
// Thread safety: an instance is used by one thread at a time.
#pragma once

#include <filesystem>
#include <memory>

#include "core/status.h"
#include "vision/face_recognizer.h"

namespace swapline::vision {

inline constexpr int kArcFaceEmbeddingSize = 512;

Result<std::unique_ptr<FaceRecognizer>> LoadArcFaceRecognizer(const std::filesystem::path& onnx);

// The aligned 112×112 crop ArcFace embeds (of an 8-bit BGR or grey image), as its
// normalised NCHW input blob.
Result<cv::Mat> ArcFaceInput(const cv::Mat& image, const Landmarks5& landmarks);

}  // namespace swapline::vision
