// DlibDecoder: integers and floats in dlib's binary serialization (dlib/serialize.h),
// read straight off a stream's buffer.
//
// dlib reads every value through a virtual sgetn() and builds each float through
// float_details; the 68-point landmark model holds 16 million floats, and reading them
// so took most of its load. Values decode exactly as dlib::deserialize decodes them
// (a float in dlib's old text format is handed to dlib itself); a malformed or
// truncated value throws dlib::serialization_error, as dlib does.
//
// Thread safety: one decoder per stream, used by one thread.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <istream>
#include <limits>
#include <type_traits>

#include <dlib/serialize.h>

namespace swapline::vision {

class DlibDecoder {
 public:
  explicit DlibDecoder(std::istream& in) : in_(in), buffer_(*in.rdbuf()) {}

  // An integer as dlib's pack_int writes it: a control byte (the byte count, and for a
  // signed type the sign in its top bit), then the magnitude's bytes, lowest first.
  template <typename T>
  T Integer() {
    static_assert(std::is_integral_v<T> && sizeof(T) <= 8);
    const int control = Byte();
    const bool negative = std::is_signed_v<T> && (control & 0x80) != 0;
    const unsigned size = std::is_signed_v<T> ? (control & 0x0F) : (control & 0x8F);
    if (size == 0 || size > sizeof(T)) throw dlib::serialization_error("a malformed integer");
    std::uint64_t magnitude = 0;
    for (unsigned i = 0; i < size; ++i) magnitude |= static_cast<std::uint64_t>(Byte()) << (8 * i);
    const auto value = static_cast<T>(magnitude);
    return negative ? static_cast<T>(-value) : value;
  }

  // A float as dlib's float_details writes it: a 64-bit mantissa and a 16-bit exponent,
  // with three exponents kept for infinities and NaN.
  float Float() {
    const int next = buffer_.sgetc();
    if (next != std::char_traits<char>::eof() && (next & 0x70) != 0) {
      float value = 0;
      dlib::deserialize(value, in_);
      return value;
    }
    const auto mantissa = Integer<std::int64_t>();
    const auto exponent = Integer<std::int16_t>();
    if (exponent < dlib::float_details::is_inf) return TimesPowerOfTwo(static_cast<float>(mantissa), exponent);
    if (exponent == dlib::float_details::is_inf) return std::numeric_limits<float>::infinity();
    if (exponent == dlib::float_details::is_ninf) return -std::numeric_limits<float>::infinity();
    return std::numeric_limits<float>::quiet_NaN();
  }

 private:
  // std::ldexp without its library call (a tenth of the model's load): where 2^exponent
  // is a normal float, the product rounds once, exactly as ldexp does.
  static float TimesPowerOfTwo(float value, int exponent) {
    if (exponent < -126 || exponent > 127) return std::ldexp(value, exponent);
    return value * std::bit_cast<float>(static_cast<std::uint32_t>(exponent + 127) << 23);
  }

  int Byte() {
    const int c = buffer_.sbumpc();
    if (c == std::char_traits<char>::eof()) throw dlib::serialization_error("the file ends inside a value");
    return c;
  }

  std::istream& in_;
  std::streambuf& buffer_;
};

}  // namespace swapline::vision
