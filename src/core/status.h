// Status and Result<T>: errors as values.
//
// Every fallible function in swapline returns a Status (no value) or a Result<T>
// (a value or an error, never both). An error carries a Code, which callers test,
// and a message written for the person running the tool: it says what failed and,
// where possible, what to do about it. Callers never parse the message text.
//
// Codes are stable: they are mapped to process exit codes (cli/exit_codes.h) and,
// later, to HTTP statuses and job error codes. Never renumber them.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace swapline {

enum class Code : int {
  kOk = 0,
  kInvalidArgument = 1,   // the request itself is wrong (bad option value, bad combination)
  kNotFound = 2,          // a named file, object or key does not exist
  kUnsupportedInput = 3,  // input exists but cannot be read: corrupt, truncated, wrong format
  kTooLarge = 4,          // input exceeds a documented limit (pixels, bytes)
  kNoFace = 5,            // no usable face where one is required (the source)
  kOutputNotWritable = 6, // output location missing or not writable
  kFailedPrecondition = 7,// a required model or resource is not configured
  kPermissionDenied = 8,
  kIOError = 9,
  kUnavailable = 10,      // transient: network, server busy
  kThrottled = 11,        // transient: server asked to slow down
  kCancelled = 12,
  kInternal = 13,         // a bug or an unexpected library failure
};

// Short stable name of a code, e.g. "not_found"; used in logs and JSON errors.
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "<code name>: <message>", for logs.
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context + ": "`.
  Status WithContext(const std::string& context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Factories, one per code, so call sites read as what happened.
inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status UnsupportedInput(std::string m) { return {Code::kUnsupportedInput, std::move(m)}; }
inline Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
inline Status NoFace(std::string m) { return {Code::kNoFace, std::move(m)}; }
inline Status OutputNotWritable(std::string m) { return {Code::kOutputNotWritable, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status Cancelled(std::string m) { return {Code::kCancelled, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

// Status from errno of a failed system call on `path`: ENOENT → NotFound,
// EACCES/EPERM → PermissionDenied, anything else → IOError.
Status ErrnoStatus(int err, const std::string& what, const std::string& path);

// A value of type T or an error Status. Like std::expected (C++23).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(data_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error, or OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(data_); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace swapline

// Propagates a non-OK Status from an expression returning Status.
#define SWAPLINE_RETURN_IF_ERROR(expr)          \
  do {                                          \
    ::swapline::Status swapline_status_ = (expr); \
    if (!swapline_status_.ok()) return swapline_status_; \
  } while (0)

#define SWAPLINE_CONCAT_INNER(a, b) a##b
#define SWAPLINE_CONCAT(a, b) SWAPLINE_CONCAT_INNER(a, b)
// Declares `lhs` from a Result expression, or returns its error.
#define SWAPLINE_ASSIGN_OR_RETURN(lhs, expr) \
  SWAPLINE_ASSIGN_OR_RETURN_IMPL(SWAPLINE_CONCAT(swapline_result_, __LINE__), lhs, expr)
#define SWAPLINE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()
