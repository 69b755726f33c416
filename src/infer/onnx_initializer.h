// Reads a weight tensor (an ONNX "initializer") straight from a model file: values a
// network carries beside its graph for the caller to use, such as inswapper's emap
// (its last initializer, the 512×512 map from an ArcFace embedding to its latent).
// OpenCV DNN does not expose initializers.
//
// The file is scanned as protobuf wire format, skipping every other field without
// reading it: parsing the whole ModelProto (libonnx) would hold all weights in memory
// (over 500 MB for inswapper) to read one 1 MB tensor. FLOAT and FLOAT16 tensors, in
// raw_data or their typed fields, come back as CV_32F with the tensor's dimensions.
// Anything else (a truncated or foreign file, tensors kept in external files, other
// types, a tensor over 256 MB) fails with FailedPrecondition naming the file.
#pragma once

#include <filesystem>

#include <opencv2/core.hpp>

#include "core/status.h"

namespace swapline::infer {

Result<cv::Mat> ReadLastInitializer(const std::filesystem::path& onnx);

}  // namespace swapline::infer
