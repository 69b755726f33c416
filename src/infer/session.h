// InferenceSession: one loaded neural network and its declared input/output contract.
//
// A model's signature (input names and shapes, output names and shapes) is checked when
// it loads: a dry run on zero tensors of the inputs' shapes must produce every named
// output with its declared shape. A wrong, truncated or foreign file therefore fails
// at load with a message naming the file and what differs (FailedPrecondition), never
// later in a frame.
//
// The backend is OpenCV DNN (Debian's OpenCV 4.6, CPU). Callers see only NCHW/NHWC
// float tensors as cv::Mat, so another backend (ONNX Runtime, CUDA) can stand behind
// this interface without touching vision code.
//
// Thread safety: one session is used by one thread at a time (OpenCV DNN nets keep
// per-forward state). Clone() loads another session of the same model for another
// thread; never load a model per frame. OpenCV's worker-thread count is process-wide
// (cv::setNumThreads), so SessionOptions does not carry one.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/status.h"

namespace swapline::infer {

struct TensorSpec {
  // An input declared without a name is the network's only input, whatever its export
  // calls it. An output declared without a name is the network's output of that shape: some
  // exporters number their tensors ("448"), so the same model family has other names
  // in every file. Its shape must then be unique among the network's outputs.
  std::string name;
  std::vector<int> shape;  // e.g. {1, 3, 320, 320}
};

struct ModelSignature {
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
};

class InferenceSession {
 public:
  // Loads an ONNX file and checks it against `signature`.
  static Result<std::unique_ptr<InferenceSession>> Load(const std::filesystem::path& onnx,
                                                        const ModelSignature& signature);
  ~InferenceSession();

  // Runs the network on `inputs` (float blobs of the signature's input shapes, in its
  // order) and returns the outputs in the signature's order.
  Result<std::vector<cv::Mat>> Run(const std::vector<cv::Mat>& inputs);
  // The same for a network of one input.
  Result<std::vector<cv::Mat>> Run(const cv::Mat& input) { return Run(std::vector<cv::Mat>{input}); }

  // Another session of the same model, for another thread.
  Result<std::unique_ptr<InferenceSession>> Clone() const;

  const ModelSignature& signature() const { return signature_; }

 private:
  struct Net;
  static Result<std::unique_ptr<Net>> LoadNet(const std::filesystem::path& path);
  // Fills the names of outputs declared by shape only (TensorSpec::name empty).
  static Status NameOutputsByShape(Net& net, const std::vector<cv::Mat>& inputs, const std::filesystem::path& onnx,
                                   ModelSignature& signature);
  // Sets `inputs` on the net and runs it up to `outputs`.
  static Status Forward(Net& net, const ModelSignature& signature, const std::vector<cv::Mat>& inputs,
                        const std::vector<std::string>& outputs, const std::filesystem::path& onnx,
                        std::vector<cv::Mat>& values);
  InferenceSession(std::filesystem::path path, ModelSignature signature, std::unique_ptr<Net> net);

  std::filesystem::path path_;
  ModelSignature signature_;
  std::unique_ptr<Net> net_;
};

// One session shared by the threads of a process: large networks (a face enhancer, a
// segmenter) are loaded once per worker, not per thread. Runs take turns under a lock
// (OpenCV DNN spreads each forward pass over its own threads anyway) and return copies
// of the outputs, which the next run would overwrite.
class SharedSession {
 public:
  static Result<std::shared_ptr<SharedSession>> Load(const std::filesystem::path& onnx,
                                                     const ModelSignature& signature);
  Result<std::vector<cv::Mat>> Run(const std::vector<cv::Mat>& inputs);
  Result<std::vector<cv::Mat>> Run(const cv::Mat& input) { return Run(std::vector<cv::Mat>{input}); }

 private:
  explicit SharedSession(std::unique_ptr<InferenceSession> session) : session_(std::move(session)) {}
  std::mutex mutex_;
  std::unique_ptr<InferenceSession> session_;
};

// "1x3x320x320".
std::string ShapeText(const std::vector<int>& shape);

}  // namespace swapline::infer
