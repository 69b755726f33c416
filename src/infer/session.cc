#include "infer/session.h"

#include <algorithm>

#include <opencv2/dnn.hpp>

namespace swapline::infer {

struct InferenceSession::Net {
  cv::dnn::Net net;
  std::vector<std::string> output_names;
};

namespace {

std::vector<int> ShapeOf(const cv::Mat& mat) { return std::vector<int>(mat.size.p, mat.size.p + mat.dims); }

}  // namespace

std::string ShapeText(const std::vector<int>& shape) {
  std::string text;
  for (int d : shape) text += (text.empty() ? "" : "x") + std::to_string(d);
  return text;
}

Result<std::unique_ptr<InferenceSession::Net>> InferenceSession::LoadNet(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return NotFound("model file " + path.string() + " not found");
  auto loaded = std::make_unique<InferenceSession::Net>();
  try {
    loaded->net = cv::dnn::readNetFromONNX(path.string());
  } catch (const cv::Exception& e) {
    return FailedPrecondition("model " + path.filename().string() + " is not an ONNX network OpenCV can load: " +
                              e.err);
  }
  if (loaded->net.empty()) return FailedPrecondition("model " + path.filename().string() + " holds no network");
  loaded->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  loaded->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return loaded;
}

namespace {

std::string InputsText(const ModelSignature& signature) {
  std::string text;
  for (const TensorSpec& input : signature.inputs) {
    text += (text.empty() ? "" : ", ") + (input.name.empty() ? std::string("its input") : input.name) + " " +
            ShapeText(input.shape);
  }
  return text;
}

}  // namespace

Status InferenceSession::Forward(Net& net, const ModelSignature& signature, const std::vector<cv::Mat>& inputs,
                                 const std::vector<std::string>& outputs, const std::filesystem::path& onnx,
                                 std::vector<cv::Mat>& values) {
  try {
    for (std::size_t i = 0; i < inputs.size(); ++i) net.net.setInput(inputs[i], signature.inputs[i].name);
    net.net.forward(values, outputs);
  } catch (const cv::Exception& e) {
    // OpenCV names the missing layer or the failing node; the model name makes it actionable.
    return FailedPrecondition("model " + onnx.filename().string() + " does not run with input " +
                              InputsText(signature) + ": " + e.err);
  }
  return Status::Ok();
}

Status InferenceSession::NameOutputsByShape(Net& net, const std::vector<cv::Mat>& inputs,
                                            const std::filesystem::path& onnx, ModelSignature& signature) {
  if (std::none_of(signature.outputs.begin(), signature.outputs.end(), [](auto& o) { return o.name.empty(); })) {
    return Status::Ok();
  }
  const std::vector<std::string> names = net.net.getUnconnectedOutLayersNames();
  std::vector<cv::Mat> values;
  SWAPLINE_RETURN_IF_ERROR(Forward(net, signature, inputs, names, onnx, values));
  for (TensorSpec& output : signature.outputs) {
    if (!output.name.empty()) continue;
    std::vector<std::string> matches;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (ShapeOf(values[i]) == output.shape) matches.push_back(names[i]);
    }
    if (matches.size() != 1) {
      return FailedPrecondition("model " + onnx.filename().string() + " has " + std::to_string(matches.size()) +
                                " outputs of shape " + ShapeText(output.shape) + ", expected one");
    }
    output.name = matches.front();
  }
  return Status::Ok();
}

InferenceSession::InferenceSession(std::filesystem::path path, ModelSignature signature, std::unique_ptr<Net> net)
    : path_(std::move(path)), signature_(std::move(signature)), net_(std::move(net)) {}

InferenceSession::~InferenceSession() = default;

Result<std::unique_ptr<InferenceSession>> InferenceSession::Load(const std::filesystem::path& onnx,
                                                                 const ModelSignature& signature) {
  SWAPLINE_ASSIGN_OR_RETURN(std::unique_ptr<Net> net, LoadNet(onnx));
  if (signature.inputs.empty() ||
      (signature.inputs.size() > 1 &&
       std::any_of(signature.inputs.begin(), signature.inputs.end(), [](auto& i) { return i.name.empty(); }))) {
    return InvalidArgument("a model signature names each of several inputs");  // a programming error
  }
  std::vector<cv::Mat> zeros;
  for (const TensorSpec& input : signature.inputs) {
    zeros.emplace_back(static_cast<int>(input.shape.size()), input.shape.data(), CV_32F, cv::Scalar(0));
  }
  ModelSignature named = signature;
  SWAPLINE_RETURN_IF_ERROR(NameOutputsByShape(*net, zeros, onnx, named));
  for (const TensorSpec& output : named.outputs) net->output_names.push_back(output.name);
  std::unique_ptr<InferenceSession> session(new InferenceSession(onnx, named, std::move(net)));
  // The dry run: names and shapes as declared, or a clear error now.
  auto outputs = session->Run(zeros);
  if (!outputs.ok()) return outputs.status();
  for (std::size_t i = 0; i < outputs->size(); ++i) {
    const std::vector<int> shape = ShapeOf((*outputs)[i]);
    if (shape != signature.outputs[i].shape) {
      return FailedPrecondition("model " + onnx.filename().string() + ": output " + signature.outputs[i].name +
                                " is " + ShapeText(shape) + ", expected " + ShapeText(signature.outputs[i].shape));
    }
  }
  return session;
}

Result<std::vector<cv::Mat>> InferenceSession::Run(const std::vector<cv::Mat>& inputs) {
  if (inputs.size() != signature_.inputs.size()) {
    return InvalidArgument("model " + path_.filename().string() + " takes " +
                           std::to_string(signature_.inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (ShapeOf(inputs[i]) != signature_.inputs[i].shape) {
      return InvalidArgument("model " + path_.filename().string() + ": input " + signature_.inputs[i].name +
                             " must be " + ShapeText(signature_.inputs[i].shape) + ", got " +
                             ShapeText(ShapeOf(inputs[i])));
    }
  }
  std::vector<cv::Mat> outputs;
  SWAPLINE_RETURN_IF_ERROR(Forward(*net_, signature_, inputs, net_->output_names, path_, outputs));
  if (outputs.size() != net_->output_names.size()) {
    return FailedPrecondition("model " + path_.filename().string() + " gave " + std::to_string(outputs.size()) +
                              " outputs, expected " + std::to_string(net_->output_names.size()));
  }
  return outputs;
}

Result<std::unique_ptr<InferenceSession>> InferenceSession::Clone() const {
  SWAPLINE_ASSIGN_OR_RETURN(std::unique_ptr<Net> net, LoadNet(path_));
  net->output_names = net_->output_names;
  return std::unique_ptr<InferenceSession>(new InferenceSession(path_, signature_, std::move(net)));
}

Result<std::shared_ptr<SharedSession>> SharedSession::Load(const std::filesystem::path& onnx,
                                                          const ModelSignature& signature) {
  SWAPLINE_ASSIGN_OR_RETURN(std::unique_ptr<InferenceSession> session, InferenceSession::Load(onnx, signature));
  return std::shared_ptr<SharedSession>(new SharedSession(std::move(session)));
}

Result<std::vector<cv::Mat>> SharedSession::Run(const std::vector<cv::Mat>& inputs) {
  std::lock_guard lock(mutex_);
  SWAPLINE_ASSIGN_OR_RETURN(std::vector<cv::Mat> outputs, session_->Run(inputs));
  for (cv::Mat& output : outputs) output = output.clone();
  return outputs;
}

}  // namespace swapline::infer
