// Unit tests of the service layer's pieces that need no server: tokens, metrics
// text format, tenant key rules, S3 event parsing, signed URLs, swap options JSON.
#include <gtest/gtest.h>

#include <chrono>

#include "core/time_text.h"
#include "job/job_spec.h"
#include "pipeline/swap_options.h"
#include "service/api_error.h"
#include "service/auth.h"
#include "service/local_urls.h"
#include "service/metrics.h"
#include "service/s3_events.h"
#include "service/tenancy.h"

namespace swapline::service {
namespace {

using nlohmann::json;

TEST(TokenTable, MapsTokensToTenants) {
  auto table = TokenTable::Parse("# comment\n\ntoken-aaaaaaaaaaaa1 acme\n  token-bbbbbbbbbbbb2   globex \n", "t");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->size(), 2u);
  EXPECT_EQ(table->Authenticate("token-aaaaaaaaaaaa1"), "acme");
  EXPECT_EQ(table->Authenticate("token-bbbbbbbbbbbb2"), "globex");
  EXPECT_FALSE(table->Authenticate("token-aaaaaaaaaaaa").has_value());
  EXPECT_FALSE(table->Authenticate("").has_value());
}

TEST(TokenTable, RefusesBadLinesNamingThem) {
  auto short_token = TokenTable::Parse("short acme\n", "tokens.txt");
  ASSERT_FALSE(short_token.ok());
  EXPECT_NE(short_token.status().message().find("tokens.txt:1"), std::string::npos);
  EXPECT_FALSE(TokenTable::Parse("token-aaaaaaaaaaaa1 Acme\n", "t").ok());       // uppercase tenant
  EXPECT_FALSE(TokenTable::Parse("token-aaaaaaaaaaaa1 a/b\n", "t").ok());        // '/'
  EXPECT_FALSE(TokenTable::Parse("token-aaaaaaaaaaaa1\n", "t").ok());            // no tenant
  EXPECT_FALSE(TokenTable::Parse("# nothing\n", "t").ok());                      // empty
  EXPECT_TRUE(TokenTable::Parse("token-aaaaaaaaaaaa1 *\n", "t").ok());           // event tenant
  auto duplicate = TokenTable::Parse("token-aaaaaaaaaaaa1 acme\ntoken-aaaaaaaaaaaa1 globex\n", "tokens.txt");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.status().message().find("tokens.txt:2: duplicate token"), std::string::npos);
}

TEST(TokenTable, ParsesBearerHeader) {
  EXPECT_EQ(TokenTable::BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(TokenTable::BearerToken("bearer  abc "), "abc");
  EXPECT_EQ(TokenTable::BearerToken("Basic abc"), "");
  EXPECT_EQ(TokenTable::BearerToken("Bearer"), "");
}

TEST(ApiError, BodiesAreJsonWithCodeAndMessage) {
  const json body = json::parse(ErrorBody(InvalidArgument("sources: must be an array")));
  EXPECT_EQ(body["error"]["code"], "invalid_argument");
  EXPECT_EQ(body["error"]["message"], "sources: must be an array");
  EXPECT_EQ(HttpStatusFor(Code::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(Code::kTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(Code::kUnavailable), 503);
}

TEST(Metrics, RendersPrometheusTextFormat) {
  MetricsRegistry m;
  m.Declare("t_requests_total", MetricsRegistry::Type::kCounter, "requests");
  m.Declare("t_depth", MetricsRegistry::Type::kGauge, "depth");
  m.Declare("t_seconds", MetricsRegistry::Type::kHistogram, "latency", {0.1, 1});
  m.Declare("t_retries_total", MetricsRegistry::Type::kCounter, "never incremented");
  m.Add("t_requests_total", {{"route", "/v1/jobs"}, {"status", "200"}});
  m.Add("t_requests_total", {{"route", "/v1/jobs"}, {"status", "200"}}, 2);
  m.Set("t_depth", {}, 7);
  m.Set("t_depth", {{"q", "a\"b\\c\n"}}, 1.5);
  m.Observe("t_seconds", {}, 0.05);
  m.Observe("t_seconds", {}, 0.5);
  m.Observe("t_seconds", {}, 5);
  const std::string text = m.Render();
  EXPECT_NE(text.find("# HELP t_requests_total requests\n# TYPE t_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("t_requests_total{route=\"/v1/jobs\",status=\"200\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_depth 7\n"), std::string::npos);
  EXPECT_NE(text.find("t_depth{q=\"a\\\"b\\\\c\\n\"} 1.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("t_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("t_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("t_seconds_sum 5.55\n"), std::string::npos) << text;
  EXPECT_EQ(m.Value("t_requests_total", {{"route", "/v1/jobs"}, {"status", "200"}}), 3);
  // A family without samples is still announced, so rules naming it find its type.
  EXPECT_NE(text.find("# TYPE t_retries_total counter\n"), std::string::npos) << text;
  // Updates through the wrong type are ignored, not applied to another family.
  m.Set("t_requests_total", {{"route", "/v1/jobs"}, {"status", "200"}}, 0);
  EXPECT_EQ(m.Value("t_requests_total", {{"route", "/v1/jobs"}, {"status", "200"}}), 3);
}

TEST(Tenancy, TenantOwnsOnlyItsPrefixes) {
  EXPECT_TRUE(CheckTenantKey("acme", "images/input/acme/202504051423/a.jpg").ok());
  EXPECT_TRUE(CheckTenantKey("acme", "videos/output/acme/202504051423/x.mp4").ok());
  EXPECT_TRUE(CheckTenantKey("acme", "3f/images/input/acme/202504051423/a.jpg").ok());
  EXPECT_EQ(CheckTenantKey("acme", "images/input/globex/202504051423/a.jpg").code(), Code::kPermissionDenied);
  EXPECT_EQ(CheckTenantKey("acme", "images/input/acmex/1/a.jpg").code(), Code::kPermissionDenied);
  EXPECT_EQ(CheckTenantKey("acme", "scratch/acme/a.jpg").code(), Code::kPermissionDenied);
  EXPECT_EQ(CheckTenantKey("acme", "images/input/acme").code(), Code::kPermissionDenied);
  EXPECT_EQ(CheckTenantKey("acme", "images/input/acme/../globex/a.jpg").code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckTenantKey("acme", "/images/input/acme/a.jpg").code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckTenantKey("acme", "images/input/acme/./a.jpg").code(), Code::kInvalidArgument);
}

TEST(Tenancy, UploadKeysLandUnderTheInputPrefix) {
  const auto now = std::chrono::system_clock::from_time_t(1743863000);
  auto image = UploadKey("acme", "face.jpg", now);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->rfind("images/input/acme/", 0), 0u) << *image;
  EXPECT_TRUE(CheckTenantKey("acme", *image).ok());
  auto video = UploadKey("acme", "clip.mp4", now);
  ASSERT_TRUE(video.ok());
  EXPECT_EQ(video->rfind("videos/input/acme/", 0), 0u);
  EXPECT_FALSE(UploadKey("acme", "../x.jpg", now).ok());
  EXPECT_FALSE(UploadKey("acme", "a/b.jpg", now).ok());
  EXPECT_FALSE(UploadKey("acme", ".hidden", now).ok());
  EXPECT_FALSE(UploadKey("acme", "", now).ok());
}

TEST(Tenancy, MapsReferencesOntoTheStore) {
  auto s3 = storage::ParseStorageUri("s3://media");
  ASSERT_TRUE(s3.ok());
  EXPECT_EQ(*KeyInStore(*s3, "s3://media/images/input/a/1/x.jpg", "target"), "images/input/a/1/x.jpg");
  EXPECT_EQ(*KeyInStore(*s3, "images/input/a/1/x.jpg", "target"), "images/input/a/1/x.jpg");
  auto other = KeyInStore(*s3, "s3://other/images/input/a/1/x.jpg", "sources[1]");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message().rfind("sources[1]", 0), 0u);
  EXPECT_FALSE(KeyInStore(*s3, "https://example.com/x.jpg", "target").ok());
  auto file = storage::ParseStorageUri("file:///srv/objects");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*KeyInStore(*file, "file:///srv/objects/images/input/a/1/x.jpg", "t"), "images/input/a/1/x.jpg");
  EXPECT_FALSE(KeyInStore(*file, "file:///etc/passwd", "t").ok());
  EXPECT_FALSE(KeyInStore(*file, "file:///srv/objects/../x.jpg", "t").ok());
  EXPECT_EQ(UriOfKey(*s3, "a/b.jpg"), "s3://media/a/b.jpg");
  EXPECT_EQ(UriOfKey(*file, "a/b.jpg"), "a/b.jpg");  // no server paths in results
  EXPECT_EQ(KeyInStore(*file, "file:///etc/passwd", "t").status().message().find("/srv"), std::string::npos);
}

TEST(S3Events, ParsesCreatedRecordsAndDecodesKeys) {
  const json body = json::parse(R"({"Records": [
    {"eventName": "ObjectCreated:Put", "eventTime": "2025-04-05T14:23:01.123Z",
     "s3": {"bucket": {"name": "media"}, "object": {"key": "videos/input/acme/202504051423/my+clip%281%29.mp4",
            "size": 10, "eTag": "abc", "sequencer": "0055"}}},
    {"eventName": "s3:ObjectRemoved:Delete", "s3": {"bucket": {"name": "media"}, "object": {"key": "x"}}}]})");
  auto parsed = ParseBucketNotification(body);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->created.size(), 1u);
  EXPECT_EQ(parsed->ignored, 1);
  EXPECT_EQ(parsed->created[0].key, "videos/input/acme/202504051423/my clip(1).mp4");
  EXPECT_EQ(parsed->created[0].bucket, "media");
  const auto now = std::chrono::system_clock::now();
  const std::string id = EventJobId(parsed->created[0], now);
  EXPECT_TRUE(job::IsValidJobId(id)) << id;
  EXPECT_EQ(id, EventJobId(parsed->created[0], now + std::chrono::hours(1)));  // redelivery: same id
  auto time = job::JobIdTime(id);
  ASSERT_TRUE(time.ok());
  EXPECT_EQ(FormatIso8601Millis(*time), "2025-04-05T14:23:01.123Z");
  CreatedObject other = parsed->created[0];
  other.etag = "def";
  EXPECT_NE(EventJobId(other, now), id);

  auto bad = ParseBucketNotification(json::parse(R"({"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("Records[0].s3.bucket.name", 0), 0u) << bad.status().message();
  EXPECT_FALSE(ParseBucketNotification(json::parse("{}")).ok());
  // Fields of another type are errors naming the field, never exceptions (fuzz/regressions/s3_events).
  const auto not_a_name = ParseBucketNotification(json::parse(R"({"Records": [{"eventName": {"a": 1}}]})"));
  EXPECT_EQ(not_a_name.status().message(), "Records[0].eventName: must be a string");
  const auto not_an_etag = ParseBucketNotification(json::parse(
      R"({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "k", "eTag": 5}}}]})"));
  EXPECT_EQ(not_an_etag.status().message(), "Records[0].s3.object.eTag: must be a string");
}

TEST(LocalUrls, SignAndVerify) {
  LocalUrlSigner signer("secret");
  const auto now = std::chrono::system_clock::now();
  const std::string url = signer.Sign("http://h:1", "PUT", "images/input/a/1/x y.jpg", now + std::chrono::minutes(5));
  EXPECT_EQ(url.rfind("http://h:1/v1/objects/images/input/a/1/x%20y.jpg?expires=", 0), 0u) << url;
  const std::string expires = url.substr(url.find("expires=") + 8, url.find('&') - url.find("expires=") - 8);
  const std::string signature = url.substr(url.find("signature=") + 10);
  EXPECT_TRUE(signer.Verify("PUT", "images/input/a/1/x y.jpg", expires, signature, now).ok());
  EXPECT_FALSE(signer.Verify("GET", "images/input/a/1/x y.jpg", expires, signature, now).ok());
  EXPECT_FALSE(signer.Verify("PUT", "images/input/a/1/other.jpg", expires, signature, now).ok());
  EXPECT_FALSE(signer.Verify("PUT", "images/input/a/1/x y.jpg", expires, signature, now + std::chrono::hours(1)).ok());
  EXPECT_FALSE(LocalUrlSigner("other").Verify("PUT", "images/input/a/1/x y.jpg", expires, signature, now).ok());
}

TEST(SwapOptions, JsonNamesMatchTheCliAndErrorsNameTheField) {
  auto options = pipeline::SwapOptionsFromJson(json::parse(
      R"({"face-selector-mode": "one", "face-mask-types": ["box"], "face-mask-padding": 5,
          "no-color-transfer": true, "output-video-quality": 60, "face-detector-score": 1})"));
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->face_selector_mode, "one");
  EXPECT_EQ(options->face_mask_types, std::vector<std::string>{"box"});
  EXPECT_EQ(options->face_mask_padding, std::vector<float>{5});
  EXPECT_TRUE(options->no_color_transfer);
  EXPECT_EQ(options->output_video_quality, 60);
  EXPECT_FLOAT_EQ(options->face_detector_score, 1.0f);

  auto unknown = pipeline::SwapOptionsFromJson(json::parse(R"({"colour": 1})"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message().rfind("options.colour", 0), 0u);
  auto wrong_type = pipeline::SwapOptionsFromJson(json::parse(R"({"output-image-quality": "high"})"));
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.status().message().rfind("options.output-image-quality", 0), 0u);
  EXPECT_FALSE(pipeline::SwapOptionsFromJson(json::parse(R"({"output-image-quality": 1.5})")).ok());
  EXPECT_FALSE(pipeline::SwapOptionsFromJson(json::parse(R"([1])")).ok());

  // Round trip of the given names.
  const json back = pipeline::SwapOptionsToJson(*options, {"face-selector-mode", "face-mask-types", "nope"});
  EXPECT_EQ(back, json::parse(R"({"face-selector-mode": "one", "face-mask-types": ["box"]})"));

  // Values are checked by the same builders as `swapline swap`.
  options->face_selector_mode = "sideways";
  EXPECT_FALSE(pipeline::BuildImageJobSpec(*options, {"s.jpg"}, "t.jpg", "o.jpg").ok());
}

}  // namespace
}  // namespace swapline::service
