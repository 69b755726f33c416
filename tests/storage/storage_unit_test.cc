// Key layout, URIs, S3 XML documents, lifecycle XML and the credentials chain.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/time_text.h"
#include "storage/content_type.h"
#include "storage/credentials.h"
#include "storage/file_store.h"
#include "storage/lifecycle.h"
#include "storage/object_key.h"
#include "storage/s3_xml.h"
#include "storage/s3_store.h"
#include "storage/storage_uri.h"
#include "storage/url.h"

namespace swapline::storage {
namespace {

using namespace std::chrono;

TEST(ObjectKeyTest, BuildsTheDocumentedLayout) {
  ObjectKeyParts parts{"videos/input", "u123", sys_days{year{2025} / April / 5} + hours(14) + minutes(23),
                       "raw.mp4"};
  Result<std::string> key = BuildObjectKey(parts);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "videos/input/u123/202504051423/raw.mp4");
  parts.hash_prefix = true;
  Result<std::string> hashed = BuildObjectKey(parts);
  ASSERT_TRUE(hashed.ok());
  EXPECT_EQ(hashed->size(), key->size() + 3);
  EXPECT_EQ(hashed->substr(3), *key);
  EXPECT_EQ(*BuildObjectKey(parts), *hashed) << "the prefix is stable";
}

TEST(ObjectKeyTest, RejectsUnsafeParts) {
  const auto now = system_clock::now();
  for (const ObjectKeyParts& bad : std::vector<ObjectKeyParts>{
           {"videos/../secrets", "u1", now, "a.mp4"}, {"/videos", "u1", now, "a.mp4"},
           {"videos", "u1/../u2", now, "a.mp4"},      {"videos", "u1", now, "a\nb.mp4"},
           {"videos", "", now, "a.mp4"},              {"videos", "u1", now, ".."},
           {"videos//input", "u1", now, "a.mp4"},     {"videos", "u1", now, "a\\b"}}) {
    EXPECT_EQ(BuildObjectKey(bad).status().code(), Code::kInvalidArgument) << bad.type << " " << bad.tenant;
  }
  EXPECT_TRUE(ValidateObjectKey("a/b/c.txt").ok());
  EXPECT_FALSE(ValidateObjectKey("a/../c").ok());
}

TEST(FileStoreTest, ListStaysInsideTheRoot) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("swapline-list-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "outside");
  std::ofstream(dir / "outside" / "secret.txt") << "not the store's";
  auto store = OpenFileStore(dir / "root");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::istringstream body("x");
  ASSERT_TRUE((*store)->Put("a/b.txt", body, {}).ok());
  for (const std::string prefix : {"../", "../outside/", "a/../../outside/", "/", "/etc/", "a//", ".swapline-meta/"}) {
    ListOptions options;
    options.prefix = prefix;
    const auto page = (*store)->List(options);
    EXPECT_EQ(page.status().code(), Code::kInvalidArgument) << prefix;
  }
  ListOptions options;
  options.prefix = "a/";
  const auto page = (*store)->List(options);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "a/b.txt");
  std::filesystem::remove_all(dir);
}

TEST(StorageUriTest, ParsesS3FileAndLocalPaths) {
  Result<StorageUri> s3 = ParseStorageUri("s3://my-bucket/a/b c.jpg");
  ASSERT_TRUE(s3.ok());
  EXPECT_TRUE(s3->is_s3());
  EXPECT_EQ(s3->bucket, "my-bucket");
  EXPECT_EQ(s3->key, "a/b c.jpg");
  EXPECT_EQ(ParseStorageUri("s3://my-bucket")->key, "");
  EXPECT_EQ(ParseStorageUri("file://var/objects")->local_path, "var/objects");
  EXPECT_EQ(ParseStorageUri("/tmp/x.png")->local_path, "/tmp/x.png");
  EXPECT_FALSE(ParseStorageUri("s3://Bad_Bucket/k").ok());
  EXPECT_FALSE(ParseStorageUri("gs://b/k").ok());
  // The canonical spelling reads back (found by fuzz_uri).
  const Result<StorageUri> odd = ParseStorageUri("file://var/a://b");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(ParseStorageUri(odd->ToString())->local_path, "var/a://b");
  EXPECT_EQ(ContentTypeForKey("a/B.JPG"), "image/jpeg");
  EXPECT_EQ(ContentTypeForKey("a.b/noext"), "application/octet-stream");
}

TEST(S3XmlTest, ParsesListsErrorsAndUploads) {
  Result<ListPage> page = ParseListObjectsV2(
      "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name><EncodingType>url</EncodingType>"
      "<IsTruncated>true</IsTruncated><NextContinuationToken>tok</NextContinuationToken>"
      "<Contents><Key>a%20b%2Bc</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
      "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size></Contents>"
      "<CommonPrefixes><Prefix>dir%2F</Prefix></CommonPrefixes></ListBucketResult>");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "a b+c");
  EXPECT_EQ(page->objects[0].etag, "fba9dede5f27731c9771645a39863328");
  EXPECT_EQ(page->objects[0].size, 434234u);
  EXPECT_EQ(system_clock::to_time_t(page->objects[0].last_modified), 1255369830);
  EXPECT_EQ(page->common_prefixes, std::vector<std::string>{"dir/"});
  EXPECT_EQ(page->next_continuation_token, "tok");

  const S3Error error = ParseS3Error(
      "<Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist</Message>"
      "<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>");
  EXPECT_EQ(error.code, "NoSuchKey");
  EXPECT_EQ(error.request_id, "4442587FB7D0A2F9");
  EXPECT_TRUE(ParseS3Error("not xml").code.empty());
  // A '%' without two hex digits after it stays as it is (found by fuzz_s3_xml).
  const Result<ListPage> odd_keys = ParseListObjectsV2(
      "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a%zzb%4</Key></Contents>"
      "<CommonPrefixes><Prefix>%\xff\xff/</Prefix></CommonPrefixes></ListBucketResult>");
  ASSERT_TRUE(odd_keys.ok());
  EXPECT_EQ(odd_keys->objects[0].key, "a%zzb%4");
  EXPECT_EQ(odd_keys->common_prefixes[0], "%\xff\xff/");
  // An object without a key is a broken answer, not an object named "" (found by fuzz_s3_xml).
  EXPECT_EQ(ParseListObjectsV2("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>")
                .status()
                .code(),
            Code::kUnavailable);
  // Outside system_clock's range (found by fuzz_s3_xml): no time, not an overflow.
  EXPECT_FALSE(ParseIso8601("1012-04-05T14:23:01Z").has_value());
  EXPECT_FALSE(ParseIso8601("9999-04-05T14:23:01Z").has_value());
  EXPECT_TRUE(ParseIso8601("2262-01-01T00:00:00Z").has_value());

  Result<PartsPage> parts = ParseListParts(
      "<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>3</NextPartNumberMarker>"
      "<Part><PartNumber>2</PartNumber><ETag>\"7778aef83f66abc1fa1e8477f296d394\"</ETag><Size>10485760</Size></Part>"
      "</ListPartsResult>");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->parts[0].number, 2);
  EXPECT_EQ(parts->parts[0].size, 10485760u);
  EXPECT_EQ(parts->parts[0].etag, "7778aef83f66abc1fa1e8477f296d394");
  EXPECT_EQ(parts->next_marker, 3);
  EXPECT_EQ(BuildCompleteMultipartXml({{1, 5, "aa"}, {2, 5, "bb"}}),
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"aa\"</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>\"bb\"</ETag></Part></CompleteMultipartUpload>");
}

TEST(LifecycleTest, JsonBecomesTheDocumentedXml) {
  // The example of AWS's PutBucketLifecycleConfiguration reference, in AWS CLI JSON.
  Result<std::string> xml = LifecycleJsonToXml(R"({"Rules": [
      {"ID": "id1", "Filter": {"Prefix": "documents/"}, "Status": "Enabled",
       "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]},
      {"ID": "id2", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
       "Expiration": {"Days": 365}}]})");
  ASSERT_TRUE(xml.ok());
  EXPECT_EQ(*xml,
            "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Rule><ID>id1</ID><Filter><Prefix>documents/</Prefix></Filter><Status>Enabled</Status>"
            "<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>"
            "<Rule><ID>id2</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status>"
            "<Expiration><Days>365</Days></Expiration></Rule></LifecycleConfiguration>");
  EXPECT_FALSE(LifecycleJsonToXml("{").ok());
  EXPECT_FALSE(LifecycleJsonToXml("{\"Rules\": []}").ok());
}

TEST(LifecycleTest, DeployedRulesConvert) {
  std::ifstream in(std::string(SWAPLINE_SOURCE_DIR) + "/deploy/lifecycle.json");
  const std::string json{std::istreambuf_iterator<char>(in), {}};
  Result<std::string> xml = LifecycleJsonToXml(json);
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_NE(xml->find("<Transition><Days>7</Days><StorageClass>STANDARD_IA</StorageClass></Transition>"), std::string::npos);
  EXPECT_NE(xml->find("<Prefix>scratch/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days>"), std::string::npos);
  EXPECT_NE(xml->find("<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"), std::string::npos);
}

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("swapline-creds-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / ".aws");
    env_["HOME"] = dir_.string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  EnvLookup Env() {
    return [this](const std::string& name) -> std::optional<std::string> {
      const auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(CredentialsTest, FollowsTheAwsOrder) {
  std::ofstream(dir_ / ".aws/credentials") << "[default]\naws_access_key_id = FILEKEY\n"
                                              "aws_secret_access_key = filesecret\n"
                                              "# comment\n[work]\naws_access_key_id=WORKKEY\n"
                                              "aws_secret_access_key=worksecret\naws_session_token=tok\n";
  std::ofstream(dir_ / ".aws/config") << "[profile cfg]\naws_access_key_id = CFGKEY\naws_secret_access_key = c\n";
  EXPECT_EQ(NewCredentialsChain({}, Env())->Get()->access_key_id, "FILEKEY");
  env_["AWS_PROFILE"] = "work";
  Result<Credentials> work = NewCredentialsChain({}, Env())->Get();
  EXPECT_EQ(work->access_key_id, "WORKKEY");
  EXPECT_EQ(work->session_token, "tok");
  CredentialsOptions cfg;
  cfg.profile = "cfg";
  EXPECT_EQ(NewCredentialsChain(cfg, Env())->Get()->access_key_id, "CFGKEY");
  env_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  EXPECT_EQ(NewCredentialsChain({}, Env())->Get()->source, "environment");
  CredentialsOptions explicit_keys;
  explicit_keys.access_key_id = "EXPLICIT";
  explicit_keys.secret_access_key = "s";
  EXPECT_EQ(NewCredentialsChain(explicit_keys, Env())->Get()->access_key_id, "EXPLICIT");
  explicit_keys.secret_access_key.clear();
  EXPECT_EQ(NewCredentialsChain(explicit_keys, Env())->Get().status().code(), Code::kInvalidArgument);
}

TEST_F(CredentialsTest, NoneFoundSaysWhereToPutThem) {
  Status status = NewCredentialsChain({}, Env())->Get().status();
  EXPECT_EQ(status.code(), Code::kFailedPrecondition);
  EXPECT_NE(status.message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

TEST(StsTest, ParsesAssumeRoleWithWebIdentityResponse) {
  Result<Credentials> credentials = ParseStsCredentials(
      "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
      "<AssumeRoleWithWebIdentityResult><Credentials>"
      "<SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>"
      "<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>"
      "<Expiration>2014-10-24T23:00:23Z</Expiration><AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>"
      "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>");
  ASSERT_TRUE(credentials.ok()) << credentials.status().ToString();
  EXPECT_EQ(credentials->access_key_id, "ASgeIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(credentials->session_token, "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE");
  EXPECT_EQ(system_clock::to_time_t(*credentials->expiration), 1414191623);
  EXPECT_FALSE(ParseStsCredentials("<x/>").ok());
}

TEST(UrlTest, SplitsAndPercentDecodesThroughLibcurl) {
  Result<Url> redis = ParseUrl("redis://:p%2Fw%3Fd%40x@Host:6380/2?stream=a%3Ab");
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  EXPECT_EQ(redis->scheme, "redis");
  EXPECT_EQ(redis->user, "");
  EXPECT_EQ(redis->password, "p/w?d@x");
  EXPECT_EQ(redis->host, "host");
  EXPECT_EQ(redis->port, 6380);
  EXPECT_EQ(redis->path, "/2");
  EXPECT_EQ(redis->query, "stream=a%3Ab");  // split on '&' first, then decoded
  Result<Url> v6 = ParseUrl("http://[::1]:9000");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->HostPort(), "[::1]:9000");
  EXPECT_FALSE(v6->user.has_value());
  Result<Url> bare = ParseUrl("minio.local:9000", "https");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->scheme, "https");
  EXPECT_EQ(bare->HostPort(), "minio.local:9000");
  EXPECT_EQ(ParseUrl("http://h:99999/").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseUrl("redis://").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseUrl("hooks.example.com/x").status().code(), Code::kInvalidArgument);  // no scheme
  EXPECT_EQ(PercentDecode("a%2Fb+c%3f"), "a/b+c?");
  // An empty view of a longer buffer: nothing is read past it.
  const std::string text = "abc%41";
  EXPECT_EQ(PercentDecode(std::string_view(text).substr(0, 0)), "");
  EXPECT_EQ(PercentDecode(std::string_view(text).substr(3)), "A");
}

TEST(UrlTest, RedactsPasswordsEvenFromMalformedUrls) {
  EXPECT_EQ(RedactPassword("redis://:s%2Fcret@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0");
  EXPECT_EQ(RedactPassword("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
  const std::string malformed = RedactPassword("redis://app:pa/ss?w@127.0.0.1:x/0");
  EXPECT_EQ(malformed.find("pa/ss"), std::string::npos) << malformed;
  EXPECT_EQ(malformed, "redis://app:***@127.0.0.1:x/0");
}

TEST(UrlTest, S3EndpointsNameAServerOnly) {
  auto open = [](const std::string& endpoint) {
    S3Options options;
    options.endpoint_url = endpoint;
    return S3Store::Open("bucket", options).status();
  };
  EXPECT_TRUE(open("http://127.0.0.1:9000").ok());
  EXPECT_TRUE(open("https://[::1]:9000/").ok());
  EXPECT_EQ(open("http://key:secret@127.0.0.1:9000").code(), Code::kInvalidArgument);
  EXPECT_EQ(open("http://127.0.0.1:9000").message().find("secret"), std::string::npos);
  EXPECT_EQ(open("ftp://127.0.0.1:9000").code(), Code::kInvalidArgument);
  EXPECT_EQ(open("http://127.0.0.1:9000/prefix").code(), Code::kInvalidArgument);
  EXPECT_EQ(open("http://127.0.0.1:port").code(), Code::kInvalidArgument);
  const Status with_password = open("http://key:s3cret@127.0.0.1:9000/x");
  EXPECT_EQ(with_password.message().find("s3cret"), std::string::npos) << with_password.message();
}

}  // namespace
}  // namespace swapline::storage
