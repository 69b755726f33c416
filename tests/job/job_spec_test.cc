#include "job/job_spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "job/job_queue.h"
#include "job/queue_backends.h"

namespace swapline::job {
namespace {

nlohmann::json ValidBody() {
  return nlohmann::json{{"sources", {"images/input/u1/202504051423/a.jpg"}},
                        {"target", "s3://bucket/images/input/u1/202504051423/t.png"}};
}

// The error message of parsing `body`, which must fail.
std::string ErrorOf(const nlohmann::json& body) {
  Result<JobSpec> spec = JobSpec::FromJson(body);
  EXPECT_FALSE(spec.ok()) << body.dump();
  if (spec.ok()) return "";
  EXPECT_EQ(spec.status().code(), Code::kInvalidArgument);
  return spec.status().message();
}

TEST(JobSpecTest, ParsesMinimalBodyWithDefaults) {
  Result<JobSpec> spec = JobSpec::FromJson(ValidBody());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->sources.size(), 1u);
  EXPECT_EQ(spec->max_attempts, 3);
  EXPECT_TRUE(spec->options.is_object());
  EXPECT_TRUE(spec->options.empty());
  EXPECT_FALSE(spec->output.has_value());
  EXPECT_FALSE(spec->callback_url.has_value());
  EXPECT_TRUE(spec->id.empty());
}

TEST(JobSpecTest, ParsesFullBodyAndRoundTrips) {
  nlohmann::json body = ValidBody();
  body["sources"].push_back("https://example.com/face.jpg?x=1");
  body["output"] = "s3://bucket/images/output/u1/202504051423/out.png";
  body["options"] = {{"face-selector-mode", "one"},
                     {"processors", {"face_swapper"}},
                     {"face-mask-blur", 0.3},
                     {"keep-fps", true}};
  body["max_attempts"] = 5;
  body["callback_url"] = "https://hooks.example.com/done";
  body["tenant"] = "u1";
  body["id"] = NewJobId();
  Result<JobSpec> spec = JobSpec::FromJson(body);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->max_attempts, 5);
  EXPECT_EQ(spec->options["face-selector-mode"], "one");
  Result<JobSpec> again = JobSpec::FromJson(spec->ToJson());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *spec);
  Result<JobSpec> from_text = JobSpec::Parse(spec->ToJson().dump());
  ASSERT_TRUE(from_text.ok());
  EXPECT_EQ(*from_text, *spec);
}

TEST(JobSpecTest, ErrorsNameTheBadField) {
  nlohmann::json b = ValidBody();
  b["sources"] = {"a/b/c.jpg", 7};
  EXPECT_EQ(ErrorOf(b), "sources[1]: must be a string URI");

  b = ValidBody();
  b.erase("sources");
  EXPECT_EQ(ErrorOf(b).rfind("sources:", 0), 0u);
  b["sources"] = nlohmann::json::array();
  EXPECT_EQ(ErrorOf(b).rfind("sources:", 0), 0u);
  b["sources"] = "a.jpg";
  EXPECT_EQ(ErrorOf(b).rfind("sources:", 0), 0u);

  b = ValidBody();
  b.erase("target");
  EXPECT_EQ(ErrorOf(b).rfind("target:", 0), 0u);
  b["target"] = "images/x/clip.txt";
  EXPECT_EQ(ErrorOf(b).rfind("target:", 0), 0u);
  b["target"] = "gs://bucket/x.jpg";
  EXPECT_EQ(ErrorOf(b).rfind("target:", 0), 0u);
  b["target"] = "../etc/passwd.jpg";
  EXPECT_EQ(ErrorOf(b).rfind("target:", 0), 0u);

  b = ValidBody();
  b["output"] = "https://evil.example.com/x.jpg";
  EXPECT_EQ(ErrorOf(b).rfind("output:", 0), 0u);
  b["output"] = 3;
  EXPECT_EQ(ErrorOf(b).rfind("output:", 0), 0u);

  b = ValidBody();
  b["options"] = {1, 2};
  EXPECT_EQ(ErrorOf(b).rfind("options:", 0), 0u);
  b["options"] = {{"--face-mask-blur", 0.3}};
  EXPECT_EQ(ErrorOf(b).rfind("options.--face-mask-blur:", 0), 0u);
  b["options"] = {{"face-mask-types", {"box", {{"a", 1}}}}};
  EXPECT_EQ(ErrorOf(b).rfind("options.face-mask-types[1]:", 0), 0u);
  b["options"] = {{"x", {{"a", 1}}}};
  EXPECT_EQ(ErrorOf(b).rfind("options.x:", 0), 0u);

  b = ValidBody();
  b["max_attempts"] = 0;
  EXPECT_EQ(ErrorOf(b), "max_attempts: must be an integer from 1 to 100");
  b["max_attempts"] = "3";
  EXPECT_EQ(ErrorOf(b), "max_attempts: must be an integer from 1 to 100");
  b["max_attempts"] = 2.5;
  EXPECT_EQ(ErrorOf(b), "max_attempts: must be an integer from 1 to 100");

  b = ValidBody();
  b["callback_url"] = "ftp://x/y";
  EXPECT_EQ(ErrorOf(b).rfind("callback_url:", 0), 0u);

  b = ValidBody();
  b["colour"] = "red";
  EXPECT_EQ(ErrorOf(b).rfind("colour: unknown field", 0), 0u);

  b = ValidBody();
  b["id"] = "not-an-id";
  EXPECT_EQ(ErrorOf(b).rfind("id:", 0), 0u);
  b = ValidBody();
  b["tenant"] = "a/b";
  EXPECT_EQ(ErrorOf(b).rfind("tenant:", 0), 0u);

  EXPECT_EQ(ErrorOf(nlohmann::json::array()), "body: must be a JSON object");
}

TEST(JobSpecTest, MalformedJsonNamesTheBody) {
  Result<JobSpec> spec = JobSpec::Parse("{\"sources\": [");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(spec.status().message().rfind("body: malformed JSON", 0), 0u) << spec.status().message();
}

TEST(JobSpecTest, MediaKindFromTargetExtension) {
  JobSpec s;
  s.target = "a/b/c.JPG";
  EXPECT_EQ(*s.MediaKind(), "image");
  s.target = "s3://b/v/clip.mp4";
  EXPECT_EQ(*s.MediaKind(), "video");
  s.target = "https://x.example.com/p/clip.mov?sig=abc";
  EXPECT_EQ(*s.MediaKind(), "video");
  s.target = "a/b/noext";
  EXPECT_FALSE(s.MediaKind().ok());
}

TEST(JobIdTest, UniqueSortableUrlSafe) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5000; ++i) ids.push_back(NewJobId());
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  for (const auto& id : ids) {
    ASSERT_TRUE(IsValidJobId(id)) << id;
    ASSERT_EQ(id.size(), 26u);
    for (char c : id) ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) << id;
  }
  // Later in time sorts later even across a fresh millisecond.
  const std::string a = NewJobId();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_LT(a, NewJobId());
}

TEST(JobIdTest, EncodesCreationTime) {
  const TimePoint t = Clock::now();
  const std::string id = NewJobId(t + std::chrono::hours(1));  // ahead of the id state
  Result<TimePoint> back = JobIdTime(id);
  ASSERT_TRUE(back.ok());
  const auto diff = std::chrono::duration_cast<std::chrono::milliseconds>(
      *back - (t + std::chrono::hours(1)));
  EXPECT_LE(std::abs(diff.count()), 1);
  EXPECT_FALSE(IsValidJobId("01ARZ3NDEKTSV4RRFFQ69G5FAV"));  // uppercase
  EXPECT_FALSE(IsValidJobId("short"));
  EXPECT_FALSE(JobIdTime("x").ok());
}

TEST(JobSpecTest, DefaultOutputKeyIsDeterministicAndContainsTheId) {
  JobSpec s = *JobSpec::FromJson(ValidBody());
  ASSERT_TRUE(FinalizeJobSpec(s, "u1").ok());
  ASSERT_TRUE(s.output.has_value());
  EXPECT_EQ(s.tenant, "u1");
  EXPECT_TRUE(IsValidJobId(s.id));
  EXPECT_EQ(s.output->rfind("images/output/u1/", 0), 0u) << *s.output;
  EXPECT_NE(s.output->find(s.id + ".png"), std::string::npos) << *s.output;
  EXPECT_EQ(*DefaultOutputKey(s), *s.output);
  EXPECT_EQ(*DefaultOutputKey(s), *DefaultOutputKey(s));
  // yyyymmddHHMM segment.
  const std::string stamp = s.output->substr(std::string("images/output/u1/").size(), 12);
  EXPECT_TRUE(std::all_of(stamp.begin(), stamp.end(), ::isdigit)) << stamp;

  JobSpec v = *JobSpec::FromJson(ValidBody());
  v.target = "videos/input/u1/202504051423/clip.MP4";
  ASSERT_TRUE(FinalizeJobSpec(v, "u1").ok());
  EXPECT_EQ(v.output->rfind("videos/output/u1/", 0), 0u);
  EXPECT_NE(v.output->find(v.id + ".mp4"), std::string::npos);

  JobSpec other = *JobSpec::FromJson(ValidBody());
  other.tenant = "u2";
  Status st = FinalizeJobSpec(other, "u1");
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(st.message().rfind("tenant:", 0), 0u);
}

TEST(JobStateTest, StableNames) {
  const char* names[] = {"queued", "running", "succeeded", "failed", "cancelled", "dead"};
  for (int i = 0; i < kJobStateCount; ++i) {
    EXPECT_STREQ(JobStateName(static_cast<JobState>(i)), names[i]);
    EXPECT_EQ(*ParseJobState(names[i]), static_cast<JobState>(i));
  }
  EXPECT_FALSE(ParseJobState("done").ok());
  EXPECT_FALSE(IsTerminal(JobState::kQueued));
  EXPECT_FALSE(IsTerminal(JobState::kRunning));
  EXPECT_TRUE(IsTerminal(JobState::kDead));
}

TEST(JobRecordTest, ApiJson) {
  JobRecord r;
  r.spec = *JobSpec::FromJson(ValidBody());
  ASSERT_TRUE(FinalizeJobSpec(r.spec, "u1").ok());
  r.state = JobState::kFailed;
  r.error = JobError::FromStatus(UnsupportedInput("target is truncated"));
  r.created = r.updated = internal::FromMillis(1743862981123);
  const nlohmann::json j = r.ToJson();
  EXPECT_EQ(j["id"], r.spec.id);
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["error"]["code"], "unsupported_input");
  EXPECT_EQ(j["error"]["message"], "target is truncated");
  EXPECT_EQ(j["created"], "2025-04-05T14:23:01.123Z");
  EXPECT_FALSE(j.contains("result"));
  r.state = JobState::kSucceeded;
  r.result_uri = "s3://b/k.png";
  EXPECT_EQ(r.ToJson()["result"]["uri"], "s3://b/k.png");
}

TEST(OpenJobQueueTest, RejectsBadUris) {
  EXPECT_EQ(OpenJobQueue("mysql://x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(OpenJobQueue("sqlite://").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(OpenJobQueue("redis://h:notaport").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(OpenJobQueue("redis://h:6379/x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(OpenJobQueue("redis://h:6379?colour=red").status().code(), Code::kInvalidArgument);
  // Nobody listens on port 1.
  EXPECT_EQ(OpenJobQueue("redis://127.0.0.1:1").status().code(), Code::kUnavailable);
}

TEST(OpenJobQueueTest, ParsesRedisUris) {
  Result<internal::RedisEndpoint> ep =
      internal::ParseRedisUri("redis://:s3cret@10.0.0.5:6380/2?stream=app:jobs&group=g1");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->host, "10.0.0.5");
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 2);
  EXPECT_EQ(ep->password, "s3cret");
  EXPECT_EQ(ep->stream, "app:jobs");
  EXPECT_EQ(ep->group, "g1");
  EXPECT_EQ(ep->Describe().find("s3cret"), std::string::npos);
  ep = internal::ParseRedisUri("redis://redis");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "redis");
  EXPECT_EQ(ep->port, 6379);
  EXPECT_EQ(ep->stream, "swapline:jobs");
}

TEST(OpenJobQueueTest, RedisPasswordsArePercentDecoded) {
  // '/', '?' and '@' in a password are written %2F, %3F, %40.
  Result<internal::RedisEndpoint> ep =
      internal::ParseRedisUri("redis://app:s%2Fe%3Fc%40r%3Aet@[::1]:6380/3?stream=app%3Ajobs");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->user, "app");
  EXPECT_EQ(ep->password, "s/e?c@r:et");
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 3);
  EXPECT_EQ(ep->stream, "app:jobs");
  EXPECT_EQ(ep->Describe(), "redis://app@[::1]:6380/3?stream=app:jobs");
  ep = internal::ParseRedisUri("redis:///1");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->db, 1);
  // Unencoded, a '/' ends the authority: the rest is no port.
  EXPECT_EQ(internal::ParseRedisUri("redis://:pa/ss@h:6379/0").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(internal::ParseRedisUri("redis://h:0").status().code(), Code::kInvalidArgument);
}

TEST(RetryBackoffTest, DoublesUpToTheCap) {
  JobQueueOptions o;
  o.retry_backoff_initial = std::chrono::milliseconds(100);
  o.retry_backoff_max = std::chrono::milliseconds(350);
  EXPECT_EQ(RetryBackoff(o, 1).count(), 100);
  EXPECT_EQ(RetryBackoff(o, 2).count(), 200);
  EXPECT_EQ(RetryBackoff(o, 3).count(), 350);
  EXPECT_EQ(RetryBackoff(o, 50).count(), 350);
}

}  // namespace
}  // namespace swapline::job
