#include "core/status.h"

#include <gtest/gtest.h>

namespace swapline {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  SWAPLINE_ASSIGN_OR_RETURN(int half, Half(x));
  SWAPLINE_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s = NotFound("no such file 'x.jpg'");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.ToString(), "not_found: no such file 'x.jpg'");
  EXPECT_EQ(s.WithContext("source").message(), "source: no such file 'x.jpg'");
}

TEST(StatusTest, ErrnoMapping) {
  EXPECT_EQ(ErrnoStatus(ENOENT, "open", "a").code(), Code::kNotFound);
  EXPECT_EQ(ErrnoStatus(EACCES, "open", "a").code(), Code::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus(EIO, "open", "a").code(), Code::kIOError);
}

TEST(ResultTest, ValueOrError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Quarter(4).status().ok());
}

}  // namespace
}  // namespace swapline
