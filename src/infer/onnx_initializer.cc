#include "infer/onnx_initializer.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace swapline::infer {
namespace {

// Protobuf wire types, and the onnx.proto fields read here.
enum WireType : int { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };
constexpr std::uint64_t kModelGraph = 7;        // ModelProto.graph
constexpr std::uint64_t kGraphInitializer = 5;  // GraphProto.initializer
constexpr std::uint64_t kTensorDims = 1, kTensorDataType = 2, kTensorFloatData = 4, kTensorInt32Data = 5,
                        kTensorRawData = 9, kTensorDataLocation = 14;  // TensorProto
constexpr std::uint64_t kFloat = 1, kFloat16 = 10;                     // TensorProto.DataType
constexpr std::uint64_t kExternal = 1;                                 // TensorProto.DataLocation
constexpr std::uint64_t kMaxTensorBytes = 256ull << 20;

// Reads protobuf fields from bytes [position, end) of a stream, seeking past what it skips.
class WireReader {
 public:
  WireReader(std::istream& in, std::uint64_t begin, std::uint64_t end) : in_(in), position_(begin), end_(end) {}

  bool done() const { return position_ >= end_; }

  // The next field's number and wire type; false at a malformed key.
  bool Key(std::uint64_t& field, int& wire_type) {
    std::uint64_t key = 0;
    if (!Varint(key)) return false;
    field = key >> 3;
    wire_type = static_cast<int>(key & 7);
    return field != 0;
  }

  bool Varint(std::uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      unsigned char byte = 0;
      if (!Read(&byte, 1)) return false;
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // A length-delimited field's bytes [begin, end); the reader moves past them.
  bool Span(std::uint64_t& begin, std::uint64_t& end) {
    std::uint64_t length = 0;
    if (!Varint(length) || length > end_ - position_) return false;
    begin = position_;
    end = position_ + length;
    position_ = end;
    return true;
  }

  bool Skip(int wire_type) {
    std::uint64_t value = 0, begin = 0, end = 0;
    switch (wire_type) {
      case kVarint: return Varint(value);
      case kFixed64: return Advance(8);
      case kFixed32: return Advance(4);
      case kLengthDelimited: return Span(begin, end);
      default: return false;  // groups do not occur in ONNX files
    }
  }

  bool Read(void* out, std::uint64_t count) {
    if (count > end_ - position_) return false;
    if (in_.tellg() != static_cast<std::streamoff>(position_)) in_.seekg(static_cast<std::streamoff>(position_));
    if (!in_.read(static_cast<char*>(out), static_cast<std::streamsize>(count))) return false;
    position_ += count;
    return true;
  }

 private:
  bool Advance(std::uint64_t count) {
    if (count > end_ - position_) return false;
    position_ += count;
    return true;
  }

  std::istream& in_;
  std::uint64_t position_ = 0, end_ = 0;
};

// The extent of the last field `wanted` (length-delimited) in [begin, end); false when
// malformed, `found` false when there is none.
bool LastField(std::istream& in, std::uint64_t begin, std::uint64_t end, std::uint64_t wanted, bool& found,
               std::uint64_t& field_begin, std::uint64_t& field_end) {
  WireReader reader(in, begin, end);
  found = false;
  while (!reader.done()) {
    std::uint64_t field = 0;
    int wire_type = 0;
    if (!reader.Key(field, wire_type)) return false;
    if (field == wanted && wire_type == kLengthDelimited) {
      if (!reader.Span(field_begin, field_end)) return false;
      found = true;
    } else if (!reader.Skip(wire_type)) {
      return false;
    }
  }
  return true;
}

struct Tensor {
  std::vector<int> dims;
  std::uint64_t data_type = 0;
  std::uint64_t location = 0;
  std::string raw;                    // raw_data: little-endian values
  std::vector<float> floats;          // float_data
  std::vector<std::uint32_t> int32s;  // int32_data (FLOAT16 bits, one per value)
};

// Appends a repeated numeric field's value(s), packed or not.
template <typename T>
bool ReadRepeated(WireReader& reader, std::istream& in, int wire_type, bool varint, std::vector<T>& out) {
  auto one = [&](WireReader& r) {
    if (varint) {
      std::uint64_t value = 0;
      if (!r.Varint(value)) return false;
      out.push_back(static_cast<T>(value));
      return true;
    }
    T value{};
    if (!r.Read(&value, sizeof value)) return false;
    out.push_back(value);
    return true;
  };
  if (wire_type != kLengthDelimited) return wire_type == (varint ? kVarint : kFixed32) && one(reader);
  std::uint64_t begin = 0, end = 0;
  if (!reader.Span(begin, end)) return false;
  WireReader packed(in, begin, end);
  while (!packed.done()) {
    if (!one(packed)) return false;
  }
  return true;
}

bool ParseTensor(std::istream& in, std::uint64_t begin, std::uint64_t end, Tensor& tensor) {
  WireReader reader(in, begin, end);
  std::vector<std::int64_t> dims;
  while (!reader.done()) {
    std::uint64_t field = 0, data_begin = 0, data_end = 0;
    int wire_type = 0;
    if (!reader.Key(field, wire_type)) return false;
    bool ok = true;
    if (field == kTensorDims) {
      ok = ReadRepeated(reader, in, wire_type, true, dims);
    } else if (field == kTensorDataType && wire_type == kVarint) {
      ok = reader.Varint(tensor.data_type);
    } else if (field == kTensorDataLocation && wire_type == kVarint) {
      ok = reader.Varint(tensor.location);
    } else if (field == kTensorFloatData) {
      ok = ReadRepeated(reader, in, wire_type, false, tensor.floats);
    } else if (field == kTensorInt32Data) {
      ok = ReadRepeated(reader, in, wire_type, true, tensor.int32s);
    } else if (field == kTensorRawData && wire_type == kLengthDelimited) {
      ok = reader.Span(data_begin, data_end);
      if (ok) {
        tensor.raw.resize(data_end - data_begin);
        WireReader data(in, data_begin, data_end);
        ok = data.Read(tensor.raw.data(), tensor.raw.size());
      }
    } else {
      ok = reader.Skip(wire_type);
    }
    if (!ok) return false;
  }
  for (const std::int64_t d : dims) {
    if (d <= 0 || d > (1 << 28)) return false;
    tensor.dims.push_back(static_cast<int>(d));
  }
  return true;
}

}  // namespace

Result<cv::Mat> ReadLastInitializer(const std::filesystem::path& onnx) {
  const std::string name = onnx.filename().string();
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(onnx, error);
  if (error) return NotFound("model file " + onnx.string() + " not found");
  std::ifstream in(onnx, std::ios::binary);
  if (!in) return NotFound("model file " + onnx.string() + " cannot be opened");
  auto malformed = [&name] { return FailedPrecondition("model " + name + " is not a readable ONNX file"); };

  bool found = false;
  std::uint64_t graph_begin = 0, graph_end = 0, tensor_begin = 0, tensor_end = 0;
  if (!LastField(in, 0, size, kModelGraph, found, graph_begin, graph_end)) return malformed();
  if (!found) return FailedPrecondition("model " + name + " holds no graph");
  if (!LastField(in, graph_begin, graph_end, kGraphInitializer, found, tensor_begin, tensor_end)) return malformed();
  if (!found) return FailedPrecondition("model " + name + " holds no initializer");
  if (tensor_end - tensor_begin > kMaxTensorBytes) {
    return FailedPrecondition("model " + name + ": its last initializer is over 256 MB");
  }
  Tensor tensor;
  if (!ParseTensor(in, tensor_begin, tensor_end, tensor)) return malformed();
  if (tensor.location == kExternal) {
    return FailedPrecondition("model " + name + ": its last initializer is kept in an external file");
  }
  if (tensor.data_type != kFloat && tensor.data_type != kFloat16) {
    return FailedPrecondition("model " + name + ": its last initializer is of ONNX type " +
                              std::to_string(tensor.data_type) + ", not FLOAT or FLOAT16");
  }
  if (tensor.dims.empty()) return FailedPrecondition("model " + name + ": its last initializer has no dimensions");
  std::uint64_t count = 1;
  for (const int d : tensor.dims) count *= static_cast<std::uint64_t>(d);
  const std::uint64_t element = tensor.data_type == kFloat ? 4 : 2;
  if (count * element > kMaxTensorBytes) return FailedPrecondition("model " + name + ": its last initializer is too large");
  cv::Mat values(static_cast<int>(tensor.dims.size()), tensor.dims.data(), CV_32F);
  auto* out = values.ptr<float>();
  auto wrong_size = [&] {
    return FailedPrecondition("model " + name + ": its last initializer's data does not match its dimensions");
  };
  if (!tensor.raw.empty()) {
    if (tensor.raw.size() != count * element) return wrong_size();
    const cv::Mat raw(1, static_cast<int>(count), tensor.data_type == kFloat ? CV_32F : CV_16F, tensor.raw.data());
    raw.convertTo(cv::Mat(1, static_cast<int>(count), CV_32F, out), CV_32F);
  } else if (tensor.data_type == kFloat) {
    if (tensor.floats.size() != count) return wrong_size();
    std::copy(tensor.floats.begin(), tensor.floats.end(), out);
  } else {
    if (tensor.int32s.size() != count) return wrong_size();
    for (std::uint64_t i = 0; i < count; ++i) {
      out[i] = static_cast<float>(cv::float16_t::fromBits(static_cast<std::uint16_t>(tensor.int32s[i])));
    }
  }
  return values;
}

}  // namespace swapline::infer
