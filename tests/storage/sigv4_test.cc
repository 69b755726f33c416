// SigV4 against the worked examples in AWS's S3 API reference ("Signature
// Calculations for the Authorization Header" and "Authenticating Requests: Using
// Query Parameters"): bucket examplebucket, key AKIAIOSFODNN7EXAMPLE, 2013-05-24.
#include "storage/sigv4.h"

#include <gtest/gtest.h>

namespace swapline::storage {
namespace {

using namespace std::chrono;

const Credentials kExample{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "",
                           std::nullopt, "explicit"};
const system_clock::time_point kMay24 = sys_days{year{2013} / May / 24};

std::string HeaderValue(const SigningRequest& request, const std::string& name) {
  for (const auto& [n, v] : request.headers) {
    if (n == name) return v;
  }
  return "";
}

TEST(SigV4Test, GetObjectWithRange) {
  SigningRequest request{"GET", "/test.txt", {},
                         {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}},
                         std::string(kEmptyPayloadSha256)};
  SigV4Signer("us-east-1").SignHeaders(request, kExample, kMay24);
  EXPECT_EQ(HeaderValue(request, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(HeaderValue(request, "x-amz-date"), "20130524T000000Z");
}

TEST(SigV4Test, PutObjectWithSignedPayload) {
  const std::string body = "Welcome to Amazon S3.";
  SigningRequest request{"PUT", "/" + UriEncode("test$file.text", true), {},
                         {{"Host", "examplebucket.s3.amazonaws.com"},
                          {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                          {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                         Sha256Hex(AsBytes(body))};
  EXPECT_EQ(request.encoded_path, "/test%24file.text");
  SigV4Signer("us-east-1").SignHeaders(request, kExample, kMay24);
  EXPECT_EQ(HeaderValue(request, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4Test, GetBucketLifecycleWithValuelessParameter) {
  SigningRequest request{"GET", "/", {{"lifecycle", ""}},
                         {{"Host", "examplebucket.s3.amazonaws.com"}},
                         std::string(kEmptyPayloadSha256)};
  SigV4Signer("us-east-1").SignHeaders(request, kExample, kMay24);
  EXPECT_NE(HeaderValue(request, "Authorization")
                .find("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
            std::string::npos);
}

TEST(SigV4Test, ListObjectsWithUnsortedQuery) {
  SigningRequest request{"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}},
                         {{"Host", "examplebucket.s3.amazonaws.com"}},
                         std::string(kEmptyPayloadSha256)};
  SigV4Signer("us-east-1").SignHeaders(request, kExample, kMay24);
  EXPECT_NE(HeaderValue(request, "Authorization")
                .find("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
            std::string::npos);
}

TEST(SigV4Test, PresignedGet) {
  SigningRequest request{"GET", "/test.txt", {}, {{"host", "examplebucket.s3.amazonaws.com"}}, ""};
  const std::string query = SigV4Signer("us-east-1").PresignQuery(request, kExample, kMay24, seconds(86400));
  EXPECT_EQ(query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4Test, SessionTokenIsSignedAndSent) {
  Credentials with_token = kExample;
  with_token.session_token = "token/with+chars";
  SigningRequest request{"GET", "/k", {}, {{"host", "h"}}, std::string(kUnsignedPayload)};
  SigV4Signer("eu-west-1").SignHeaders(request, with_token, kMay24);
  EXPECT_EQ(HeaderValue(request, "x-amz-security-token"), "token/with+chars");
  EXPECT_NE(HeaderValue(request, "Authorization").find("x-amz-security-token"), std::string::npos);
  const std::string query = SigV4Signer("eu-west-1").PresignQuery(request, with_token, kMay24, seconds(60));
  EXPECT_NE(query.find("X-Amz-Security-Token=token%2Fwith%2Bchars"), std::string::npos);
}

TEST(SigV4Test, UriEncodeAndCanonicalQuery) {
  EXPECT_EQ(UriEncode("a b/ü~(1).txt", true), "a%20b/%C3%BC~%281%29.txt");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(CanonicalQueryString({{"uploads", ""}, {"prefix", "in/"}, {"delimiter", "/"}}),
            "delimiter=%2F&prefix=in%2F&uploads=");
}

TEST(SigV4Test, AccessKeyWithColonIsKeptWhole) {
  const Credentials swift{"test:tester", "testing", "", std::nullopt, "explicit"};
  SigningRequest request{"GET", "/", {}, {{"host", "127.0.0.1:8080"}}, std::string(kEmptyPayloadSha256)};
  SigV4Signer("us-east-1").SignHeaders(request, swift, kMay24);
  EXPECT_EQ(HeaderValue(request, "Authorization").find("Credential=test:tester/20130524/"), 17u);
}

}  // namespace
}  // namespace swapline::storage
