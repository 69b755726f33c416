// The HTTP API against a real server on a free loopback port, with an SQLite queue
// and a file store in a temporary folder: auth, tenancy, errors, limits, uploads,
// S3 events, and that /openapi.json documents exactly the routes served.
#include <gtest/gtest.h>
#include <httplib.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>
#include <thread>

#include "cli/cli_test_util.h"
#include "job/job_queue.h"
#include "service/api_server.h"
#include "storage/file_store.h"
#include "support/process.h"

namespace swapline::service {
namespace {

using nlohmann::json;
using swapline::testing::TempDir;

constexpr const char* kAcme = "acme-token-0123456789";
constexpr const char* kGlobex = "globex-token-0123456789";
constexpr const char* kEvents = "events-token-0123456789";
constexpr const char* kMetrics = "metrics-token-0123456789";
const std::string kPhotos = std::string(SWAPLINE_TESTDATA_DIR) + "/photos/";

struct Reply {
  int status = 0;
  json body;
  std::string text;
  httplib::Headers headers;
};

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(true); }

  void StartServer(bool with_tokens, std::size_t max_body = 64 * 1024, Limits limits = {},
                   const std::function<void(ApiOptions&)>& configure = {}) {
    server_.reset();
    dir_ = std::make_unique<TempDir>("swapline_api_test");
    auto store = storage::OpenFileStore(dir_->path() / "objects");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto queue = job::OpenJobQueue("sqlite://" + (dir_->path() / "queue.db").string());
    ASSERT_TRUE(queue.ok()) << queue.status().ToString();
    queue_ = std::move(queue).value();
    ApiOptions options;
    options.port = 0;
    if (with_tokens) {
      auto tokens = TokenTable::Parse(std::string(kAcme) + " acme\n" + kGlobex + " globex\n" + kEvents + " *\n" +
                                          kMetrics + " metrics\n",
                                      "t");
      ASSERT_TRUE(tokens.ok());
      options.tokens = std::move(tokens).value();
    }
    options.store_uri = *storage::ParseStorageUri("file://" + (dir_->path() / "objects").string());
    options.max_body_bytes = max_body;
    options.limits = limits;
    options.watch = {{"images/input/", "images/input/{tenant}/faces/face.jpg"}};
    if (configure) configure(options);
    metrics_ = std::make_unique<MetricsRegistry>();  // its collectors die with the server
    server_ = std::make_unique<ApiServer>(*queue_, *store_, *metrics_, options);
    const Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             const char* token = kAcme) {
    httplib::Headers headers;
    if (token != nullptr) headers.emplace("Authorization", std::string("Bearer ") + token);
    httplib::Result result = method == "GET"    ? client_->Get(path, headers)
                             : method == "POST" ? client_->Post(path, headers, body, "application/json")
                             : method == "PUT"  ? client_->Put(path, headers, body, "application/octet-stream")
                                                : client_->Delete(path, headers);
    Reply reply;
    if (!result) {
      ADD_FAILURE() << method << " " << path << ": " << httplib::to_string(result.error());
      return reply;
    }
    reply.status = result->status;
    reply.text = result->body;
    reply.headers = result->headers;
    reply.body = json::parse(result->body, nullptr, false);
    return reply;
  }

  // /metrics once it shows every one of `lines` (an exchange is counted after its
  // answer's last byte, so a client may ask before it is).
  std::string MetricsShowing(const std::vector<std::string>& lines) {
    std::string text;
    const bool shown = swapline::testing::WaitUntil(
        [&] {
          text = Call("GET", "/metrics", "", nullptr).text;
          return std::all_of(lines.begin(), lines.end(),
                             [&](const std::string& line) { return text.find(line) != std::string::npos; });
        },
        std::chrono::seconds(5));
    EXPECT_TRUE(shown) << text;
    return text;
  }

  // Puts a test photo at `key` directly into the store.
  void PutPhoto(const std::string& key, const std::string& photo = "grace_hopper_usn_portrait.jpg") {
    auto info = store_->PutFile(key, kPhotos + photo, {});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
  }

  std::string SubmitSimple(const char* token = kAcme, const std::string& tenant = "acme") {
    PutPhoto("images/input/" + tenant + "/1/s.jpg");
    PutPhoto("images/input/" + tenant + "/1/t.jpg", "eileen_collins_nasa_portrait.png");
    const Reply r = Call("POST", "/v1/jobs",
                         json{{"sources", {"images/input/" + tenant + "/1/s.jpg"}},
                              {"target", "images/input/" + tenant + "/1/t.jpg"}}.dump(), token);
    EXPECT_EQ(r.status, 201) << r.text;
    return r.body.value("id", "");
  }

  static void ExpectError(const Reply& r, int status, const std::string& code, const std::string& message_start = "") {
    EXPECT_EQ(r.status, status) << r.text;
    ASSERT_TRUE(r.body.is_object()) << r.text;
    ASSERT_TRUE(r.body.contains("error")) << r.text;
    EXPECT_EQ(r.body["error"].value("code", ""), code) << r.text;
    EXPECT_TRUE(r.body["error"]["message"].is_string()) << r.text;
    if (!message_start.empty()) {
      EXPECT_EQ(r.body["error"].value("message", "").rfind(message_start, 0), 0u) << r.text;
    }
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<storage::ObjectStore> store_;
  std::unique_ptr<job::JobQueue> queue_;
  std::unique_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ApiServerTest, RequiresAValidToken) {
  ExpectError(Call("GET", "/v1/jobs", "", nullptr), 401, "unauthenticated");
  ExpectError(Call("GET", "/v1/jobs", "", "wrong-token-0123456789"), 401, "unauthenticated");
  ExpectError(Call("POST", "/v1/jobs", "{}", nullptr), 401, "unauthenticated");
  ExpectError(Call("POST", "/v1/uploads", R"({"filename":"a.jpg"})", nullptr), 401, "unauthenticated");
  ExpectError(Call("GET", "/v1/jobs", "", kEvents), 403, "permission_denied");  // event token: events only
  EXPECT_EQ(Call("GET", "/v1/jobs").status, 200);
  EXPECT_EQ(Call("GET", "/healthz", "", nullptr).status, 200);
  const Reply ready = Call("GET", "/readyz", "", nullptr);
  EXPECT_EQ(ready.status, 200) << ready.text;
  EXPECT_EQ(Call("GET", "/openapi.json", "", nullptr).status, 200);
}

TEST_F(ApiServerTest, SubmitGetListCancel) {
  const std::string id = SubmitSimple();
  ASSERT_FALSE(id.empty());
  const Reply got = Call("GET", "/v1/jobs/" + id);
  ASSERT_EQ(got.status, 200) << got.text;
  EXPECT_EQ(got.body["state"], "queued");
  EXPECT_EQ(got.body["attempts"], 0);
  EXPECT_NE(got.body["spec"]["output"].get<std::string>().find(id), std::string::npos);  // key has the id
  EXPECT_EQ(got.body["spec"]["output"].get<std::string>().rfind("images/output/acme/", 0), 0u);

  const Reply list = Call("GET", "/v1/jobs?state=queued&limit=10");
  ASSERT_EQ(list.status, 200) << list.text;
  ASSERT_EQ(list.body["jobs"].size(), 1u);
  EXPECT_EQ(list.body["jobs"][0]["id"], id);
  EXPECT_EQ(Call("GET", "/v1/jobs?state=running").body["jobs"].size(), 0u);

  ExpectError(Call("GET", "/v1/jobs/" + id + "/result"), 409, "failed_precondition");
  const Reply cancelled = Call("POST", "/v1/jobs/" + id + "/cancel", "{}");
  ASSERT_EQ(cancelled.status, 200) << cancelled.text;
  EXPECT_EQ(cancelled.body["state"], "cancelled");
}

TEST_F(ApiServerTest, LimitsAreAdmissionErrorsNamingTheLimit) {
  PutPhoto("images/input/acme/1/s.jpg");
  PutPhoto("images/input/acme/1/t.jpg", "eileen_collins_nasa_portrait.png");
  auto submit = [&](const json& options) {
    return Call("POST", "/v1/jobs",
                json{{"sources", {"images/input/acme/1/s.jpg"}}, {"target", "images/input/acme/1/t.jpg"},
                     {"options", options}}.dump());
  };
  // Accepted before, then failed on the worker as retryable until dead.
  ExpectError(submit({{"face-detector-size", "100000"}}), 413, "too_large", "limit max_face_detector_size:");
  ExpectError(submit({{"max-pixels", 1'000'000'000'000}}), 413, "too_large", "limit max_image_pixels:");
  ExpectError(Call("POST", "/v1/jobs",
                   json{{"sources", {"images/input/acme/1/s.jpg"}}, {"target", "images/input/acme/1/t.jpg"},
                        {"output", "images/output/acme/1/" + std::string(300, 'n') + ".png"}}.dump()),
              400, "invalid_argument", "output");
  ExpectError(Call("POST", "/v1/jobs",
                   json{{"sources", {"images/input/acme/1/s.jpg"}}, {"target", "images/input/acme/1/t.jpg"},
                        {"callback_url", "http://169.254.169.254/latest/meta-data/"}}.dump()),
              403, "permission_denied", "callback_url");
  EXPECT_EQ(Call("GET", "/v1/jobs").body["jobs"].size(), 0u);
  // An input over the upload limit is refused at submission.
  Limits small_uploads;
  small_uploads.max_upload_bytes = 1000;
  StartServer(true, 64 * 1024, small_uploads);
  PutPhoto("images/input/acme/1/s.jpg");
  PutPhoto("images/input/acme/1/t.jpg", "eileen_collins_nasa_portrait.png");
  ExpectError(submit(json::object()), 413, "too_large", "limit max_upload_bytes:");
}

TEST_F(ApiServerTest, ChosenIdsMustBeCurrentAndMatchTheirSpec) {
  PutPhoto("images/input/acme/1/s.jpg");
  PutPhoto("images/input/acme/1/t.jpg", "eileen_collins_nasa_portrait.png");
  PutPhoto("images/input/acme/1/u.jpg", "obama_official_portrait_2012.jpg");
  const std::string id = job::NewJobId();
  const json spec = {{"id", id}, {"sources", {"images/input/acme/1/s.jpg"}}, {"target", "images/input/acme/1/t.jpg"}};
  EXPECT_EQ(Call("POST", "/v1/jobs", spec.dump()).status, 201);
  const Reply again = Call("POST", "/v1/jobs", spec.dump());
  EXPECT_EQ(again.status, 200) << again.text;  // a retried submission gets its job back
  EXPECT_EQ(again.body["id"], id);
  json different = spec;
  different["target"] = "images/input/acme/1/u.jpg";
  ExpectError(Call("POST", "/v1/jobs", different.dump()), 409, "failed_precondition", "id");
  EXPECT_EQ(Call("GET", "/v1/jobs/" + id).body["spec"]["target"], "images/input/acme/1/t.jpg");
  // A far-future id would list first forever.
  json future = spec;
  future["id"] = job::NewJobId(std::chrono::system_clock::now() + std::chrono::hours(24 * 365 * 100));
  ExpectError(Call("POST", "/v1/jobs", future.dump()), 400, "invalid_argument", "id");
}

TEST_F(ApiServerTest, EachTenantHasABoundedBacklog) {
  Limits small_backlog;
  small_backlog.max_active_jobs_per_tenant = 2;
  StartServer(true, 64 * 1024, small_backlog);
  const std::string first = SubmitSimple();
  SubmitSimple();
  PutPhoto("images/input/acme/1/s.jpg");
  ExpectError(Call("POST", "/v1/jobs",
                   json{{"sources", {"images/input/acme/1/s.jpg"}}, {"target", "images/input/acme/1/t.jpg"}}.dump()),
              429, "throttled", "limit max_active_jobs_per_tenant:");
  SubmitSimple(kGlobex, "globex");  // others are not held up
  // A cancelled job no longer counts.
  ASSERT_EQ(Call("POST", "/v1/jobs/" + first + "/cancel", "{}").status, 200);
  SubmitSimple();
  // Cancelling an ended job is a conflict, not a success.
  ExpectError(Call("POST", "/v1/jobs/" + first + "/cancel", "{}"), 409, "failed_precondition");
}

// Submissions and upload URLs are rate-limited per tenant: 429 with Retry-After and
// an error naming the limit, other tenants unaffected, tokens back after the window.
TEST_F(ApiServerTest, SubmissionsAndUploadUrlsAreRateLimitedPerTenant) {
  Limits limits;
  ASSERT_TRUE(SetLimit(limits, "max_jobs_per_window_per_tenant=2").ok());
  ASSERT_TRUE(SetLimit(limits, "max_upload_urls_per_window_per_tenant=2").ok());
  ASSERT_TRUE(SetLimit(limits, "rate_window_seconds=0.5").ok());
  StartServer(true, 64 * 1024, limits);
  const std::string spec =
      json{{"sources", {"images/input/acme/1/s.jpg"}}, {"target", "images/input/acme/1/t.jpg"}}.dump();
  SubmitSimple();
  SubmitSimple();
  const Reply refused = Call("POST", "/v1/jobs", spec);
  ExpectError(refused, 429, "throttled", "limit max_jobs_per_window_per_tenant:");
  ASSERT_EQ(refused.headers.count("Retry-After"), 1u) << refused.text;
  EXPECT_GE(std::stoi(refused.headers.find("Retry-After")->second), 1);
  SubmitSimple(kGlobex, "globex");  // others are not held up

  const std::string upload = R"({"filename": "face.jpg"})";
  EXPECT_EQ(Call("POST", "/v1/uploads", upload).status, 201);
  EXPECT_EQ(Call("POST", "/v1/uploads", upload).status, 201);
  const Reply no_url = Call("POST", "/v1/uploads", upload);
  ExpectError(no_url, 429, "throttled", "limit max_upload_urls_per_window_per_tenant:");
  EXPECT_EQ(no_url.headers.count("Retry-After"), 1u) << no_url.text;

  // The tokens come back after the window.
  int submitted = 0, minted = 0;
  for (const auto deadline = std::chrono::steady_clock::now() + swapline::testing::Scaled(std::chrono::seconds(20));
       (submitted != 201 || minted != 201) && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (submitted != 201) submitted = Call("POST", "/v1/jobs", spec).status;
    if (minted != 201) minted = Call("POST", "/v1/uploads", upload).status;
  }
  EXPECT_EQ(submitted, 201);
  EXPECT_EQ(minted, 201);
}

TEST_F(ApiServerTest, AnotherTenantsJobIsNotFound) {
  const std::string id = SubmitSimple();
  const Reply other = Call("GET", "/v1/jobs/" + id, "", kGlobex);
  const Reply missing = Call("GET", "/v1/jobs/01jaaaaaaaaaaaaaaaaaaaaaaa", "", kGlobex);
  ExpectError(other, 404, "not_found");
  ExpectError(missing, 404, "not_found");
  ExpectError(Call("POST", "/v1/jobs/" + id + "/cancel", "{}", kGlobex), 404, "not_found");
  ExpectError(Call("GET", "/v1/jobs/" + id + "/result", "", kGlobex), 404, "not_found");
  EXPECT_EQ(Call("GET", "/v1/jobs", "", kGlobex).body["jobs"].size(), 0u);
  ExpectError(Call("GET", "/v1/jobs/not-an-id"), 404, "not_found");
}

TEST_F(ApiServerTest, BadRequestsNameTheField) {
  PutPhoto("images/input/acme/1/s.jpg");
  ExpectError(Call("POST", "/v1/jobs", "{not json"), 400, "invalid_argument", "body");
  ExpectError(Call("POST", "/v1/jobs", R"({"target": "images/input/acme/1/s.jpg"})"), 400, "invalid_argument",
              "sources");
  ExpectError(Call("POST", "/v1/jobs", R"({"sources": [7], "target": "images/input/acme/1/s.jpg"})"), 400,
              "invalid_argument", "sources[0]");
  ExpectError(Call("POST", "/v1/jobs",
                   R"({"sources": ["images/input/acme/1/s.jpg"], "target": "images/input/acme/1/s.jpg", "colour": 1})"),
              400, "invalid_argument", "colour");
  ExpectError(Call("POST", "/v1/jobs",
                   R"({"sources": ["images/input/acme/1/s.jpg"], "target": "images/input/acme/1/s.jpg",
                       "options": {"colour": 1}})"),
              400, "invalid_argument", "options.colour");
  ExpectError(Call("POST", "/v1/jobs",
                   R"({"sources": ["images/input/acme/1/s.jpg"], "target": "images/input/acme/1/s.jpg",
                       "options": {"face-selector-mode": "sideways"}})"),
              400, "invalid_argument", "options");
  ExpectError(Call("POST", "/v1/jobs",
                   R"({"sources": ["images/input/acme/1/missing.jpg"], "target": "images/input/acme/1/s.jpg"})"),
              400, "invalid_argument", "sources[0]");
  ExpectError(Call("GET", "/v1/jobs?limit=0"), 400, "invalid_argument", "limit");
  ExpectError(Call("GET", "/v1/jobs?limit=abc"), 400, "invalid_argument", "limit");
  ExpectError(Call("GET", "/v1/jobs?state=sleeping"), 400, "invalid_argument", "state");
  ExpectError(Call("GET", "/v1/jobs?cursor=%%%bad"), 400, "invalid_argument", "cursor");
  ExpectError(Call("POST", "/v1/uploads", R"({"name": "a.jpg"})"), 400, "invalid_argument", "filename");
  ExpectError(Call("DELETE", "/v1/jobs"), 405, "method_not_allowed");
  ExpectError(Call("GET", "/v2/nothing"), 404, "not_found");
}

TEST_F(ApiServerTest, TenantsNameOnlyTheirOwnKeys) {
  PutPhoto("images/input/acme/1/s.jpg");
  PutPhoto("images/input/globex/1/t.jpg");
  // Another tenant's object, as key, s3:// or file:// reference.
  ExpectError(Call("POST", "/v1/jobs",
                   R"({"sources": ["images/input/acme/1/s.jpg"], "target": "images/input/globex/1/t.jpg"})"),
              403, "permission_denied", "target");
  const std::string file_ref = "file://" + (dir_->path() / "objects/images/input/globex/1/t.jpg").string();
  ExpectError(Call("POST", "/v1/jobs",
                   json{{"sources", {"images/input/acme/1/s.jpg"}}, {"target", file_ref}}.dump()),
              403, "permission_denied", "target");
  // Traversal out of the tenant's prefix, or out of the store.
  ExpectError(Call("POST", "/v1/jobs",
                   R"({"sources": ["images/input/acme/../globex/1/t.jpg"], "target": "images/input/acme/1/s.jpg"})"),
              400, "invalid_argument", "sources[0]");
  ExpectError(Call("POST", "/v1/jobs",
                   R"({"sources": ["file:///etc/passwd"], "target": "images/input/acme/1/s.jpg"})"),
              400, "invalid_argument", "sources[0]");
  ExpectError(Call("POST", "/v1/jobs",
                   R"({"sources": ["images/input/acme/1/s.jpg"], "target": "images/input/acme/1/s.jpg",
                       "output": "images/output/globex/1/x.jpg"})"),
              403, "permission_denied", "output");
  ExpectError(Call("POST", "/v1/jobs",
                   R"({"sources": ["images/input/acme/1/s.jpg"], "target": "images/input/acme/1/s.jpg",
                       "tenant": "globex"})"),
              400, "invalid_argument");
  ExpectError(Call("POST", "/v1/uploads", R"({"filename": "../../globex/x.jpg"})"), 400, "invalid_argument",
              "filename");
  // Signed object URLs: a tampered key or signature is refused; traversal too.
  const Reply upload = Call("POST", "/v1/uploads", R"({"filename": "face.jpg"})");
  ASSERT_EQ(upload.status, 201) << upload.text;
  const std::string url = upload.body["url"];
  const std::string path = url.substr(url.find("/v1/objects/"));
  std::string tampered = path;
  tampered.replace(tampered.find("/acme/"), 6, "/globex/");
  ExpectError(Call("PUT", tampered, "bytes", nullptr), 403, "permission_denied");
  std::string traversal = path;
  traversal.replace(traversal.find("/acme/"), 6, "/acme/../globex/");
  const Reply t = Call("PUT", traversal, "bytes", nullptr);
  EXPECT_TRUE(t.status == 400 || t.status == 403 || t.status == 404) << t.status << " " << t.text;
  EXPECT_TRUE(t.body.contains("error")) << t.text;
}

TEST_F(ApiServerTest, UploadThenSubmitThenFetchTheResult) {
  const std::string bytes = swapline::testing::ReadFileBytes(kPhotos + "grace_hopper_usn_portrait.jpg");
  const Reply upload = Call("POST", "/v1/uploads", R"({"filename": "face.jpg"})");
  ASSERT_EQ(upload.status, 201) << upload.text;
  const std::string key = upload.body["key"];
  EXPECT_EQ(key.rfind("images/input/acme/", 0), 0u) << key;
  EXPECT_EQ(upload.body["method"], "PUT");
  const std::string url = upload.body["url"];
  const std::string path = url.substr(url.find("/v1/objects/"));
  const Reply put = Call("PUT", path, bytes, nullptr);  // no token: the URL is the credential
  ASSERT_EQ(put.status, 200) << put.text;
  auto info = store_->Stat(key);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, bytes.size());

  const Reply job = Call("POST", "/v1/jobs", json{{"sources", {key}}, {"target", key}}.dump());
  ASSERT_EQ(job.status, 201) << job.text;
  const std::string id = job.body["id"];
  // A worker's work, done by hand: claim, upload the result, complete.
  auto lease = queue_->Claim("test-worker", std::chrono::milliseconds(1000));
  ASSERT_TRUE(lease.ok() && lease->has_value());
  const std::string output = *(*lease)->spec.output;
  ASSERT_TRUE(store_->PutFile(output, kPhotos + "grace_hopper_usn_portrait.jpg", {}).ok());
  ASSERT_TRUE(queue_->Complete(**lease, "file://" + (dir_->path() / "objects" / output).string()).ok());

  const Reply result = Call("GET", "/v1/jobs/" + id + "/result");
  ASSERT_EQ(result.status, 302) << result.text;
  const std::string location = result.body["url"];
  EXPECT_EQ(httplib::detail::get_header_value(result.headers, "Location", 0, ""), location);
  const Reply download = Call("GET", location.substr(location.find("/v1/objects/")), "", nullptr);
  ASSERT_EQ(download.status, 200);
  EXPECT_EQ(download.text, bytes);
  // The download URL grants GET only.
  ExpectError(Call("PUT", location.substr(location.find("/v1/objects/")), "x", nullptr), 403, "permission_denied");
  // Streamed uploads and downloads are counted and timed like every other route.
  MetricsShowing({R"(swapline_http_requests_total{method="PUT",route="/v1/objects/{key}",status="200"} 1)",
                  R"(swapline_http_requests_total{method="PUT",route="/v1/objects/{key}",status="403"} 1)",
                  R"(swapline_http_requests_total{method="GET",route="/v1/objects/{key}",status="200"} 1)",
                  R"(swapline_http_request_duration_seconds_count{route="/v1/objects/{key}"} 3)"});
}

TEST_F(ApiServerTest, OversizedBodiesGet413) {
  const std::string big = R"({"sources": [")" + std::string(70 * 1024, 'a') + R"("]})";
  ExpectError(Call("POST", "/v1/jobs", big), 413, "too_large");
  ExpectError(Call("POST", "/v1/events/s3", big, kEvents), 413, "too_large");
  // The server still answers afterwards.
  EXPECT_EQ(Call("GET", "/v1/jobs").status, 200);
}

// Sends `request` on a new connection and returns the first response's status line.
std::string FirstStatusLine(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string reply;
  char buffer[4096];
  while (reply.find("\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return reply.substr(0, reply.find("\r\n"));
}

TEST_F(ApiServerTest, BodiesWithoutADeclaredLengthAreRefusedBeforeReading) {
  // No Content-Length: a server would have to read until the connection ends, with
  // no limit and before auth.
  const std::string unframed = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(256 * 1024, 'a');
  EXPECT_EQ(FirstStatusLine(server_->port(), unframed).substr(0, 12), "HTTP/1.1 411");
  const std::string chunked =
      "PUT /v1/objects/images/input/acme/1/a.jpg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "10\r\n0123456789abcdef\r\n";
  EXPECT_EQ(FirstStatusLine(server_->port(), chunked).substr(0, 12), "HTTP/1.1 411");
  const std::string big_upload =
      "PUT /v1/objects/images/input/acme/1/a.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n";
  EXPECT_EQ(FirstStatusLine(server_->port(), big_upload).substr(0, 12), "HTTP/1.1 413");
  EXPECT_EQ(Call("GET", "/v1/jobs").status, 200);
}

TEST_F(ApiServerTest, TokensCompareOnTheirRawBytes) {
  // A token percent-encoded, or with a NUL and more after it, is not the token.
  const std::string encoded = "GET /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer acme%2Dtoken-0123456789\r\n\r\n";
  EXPECT_EQ(FirstStatusLine(server_->port(), encoded).substr(0, 12), "HTTP/1.1 401");
  const std::string truncated =
      std::string("GET /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") + kAcme + '\0' + "junk\r\n\r\n";
  EXPECT_EQ(FirstStatusLine(server_->port(), truncated).substr(0, 12), "HTTP/1.1 400");
  const std::string exact = std::string("GET /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") + kAcme + "\r\n\r\n";
  EXPECT_EQ(FirstStatusLine(server_->port(), exact).substr(0, 12), "HTTP/1.1 200");
}

TEST_F(ApiServerTest, S3EventsBecomeJobsOnce) {
  PutPhoto("images/input/acme/faces/face.jpg");
  PutPhoto("images/input/acme/202504051423/new.jpg", "eileen_collins_nasa_portrait.png");
  const std::string event = R"({"Records": [
    {"eventName": "ObjectCreated:Put", "eventTime": "2025-04-05T14:23:01.000Z",
     "s3": {"bucket": {"name": "ignored-for-file-stores"},
            "object": {"key": "images/input/acme/202504051423/new.jpg", "eTag": "e1", "sequencer": "01"}}},
    {"eventName": "ObjectCreated:Put",
     "s3": {"bucket": {"name": "x"}, "object": {"key": "images/output/acme/202504051423/out.jpg"}}},
    {"eventName": "ObjectRemoved:Delete",
     "s3": {"bucket": {"name": "x"}, "object": {"key": "images/input/acme/202504051423/new.jpg"}}}]})";
  const Reply first = Call("POST", "/v1/events/s3", event, kEvents);
  ASSERT_EQ(first.status, 200) << first.text;
  ASSERT_EQ(first.body["jobs"].size(), 1u) << first.text;
  EXPECT_EQ(first.body["ignored"], 2);
  const std::string id = first.body["jobs"][0]["id"];
  const Reply again = Call("POST", "/v1/events/s3", event, kEvents);  // redelivery
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["jobs"][0]["id"], id);
  const Reply job = Call("GET", "/v1/jobs/" + id);
  ASSERT_EQ(job.status, 200) << job.text;
  EXPECT_EQ(job.body["spec"]["sources"][0], "images/input/acme/faces/face.jpg");
  EXPECT_EQ(Call("GET", "/v1/jobs").body["jobs"].size(), 1u);
  // globex's token may not create jobs for acme's objects.
  const Reply foreign = Call("POST", "/v1/events/s3", event, kGlobex);
  ASSERT_EQ(foreign.status, 200);
  EXPECT_EQ(foreign.body["jobs"].size(), 0u);
  ExpectError(Call("POST", "/v1/events/s3", R"({"Records": 3})", kEvents), 400, "invalid_argument", "Records");
}

TEST_F(ApiServerTest, S3EventJobsCountTowardTheSubmissionRate) {
  Limits limits;
  ASSERT_TRUE(SetLimit(limits, "max_jobs_per_window_per_tenant=1").ok());
  StartServer(true, 64 * 1024, limits);
  PutPhoto("images/input/acme/faces/face.jpg");
  PutPhoto("images/input/acme/202504051423/a.jpg", "eileen_collins_nasa_portrait.png");
  PutPhoto("images/input/acme/202504051423/b.jpg", "eileen_collins_nasa_portrait.png");
  const std::string event = R"({"Records": [
    {"eventName": "ObjectCreated:Put", "eventTime": "2025-04-05T14:23:01.000Z",
     "s3": {"bucket": {"name": "x"}, "object": {"key": "images/input/acme/202504051423/a.jpg", "sequencer": "01"}}},
    {"eventName": "ObjectCreated:Put", "eventTime": "2025-04-05T14:23:02.000Z",
     "s3": {"bucket": {"name": "x"}, "object": {"key": "images/input/acme/202504051423/b.jpg", "sequencer": "02"}}}]})";
  // The first record's job takes acme's one token; the second is over the rate: the
  // sender is told to come back, and a redelivery does not charge the first again.
  for (int delivery = 0; delivery < 2; ++delivery) {
    const Reply throttled = Call("POST", "/v1/events/s3", event, kEvents);
    ExpectError(throttled, 429, "throttled", "limit max_jobs_per_window_per_tenant:");
    EXPECT_EQ(throttled.headers.count("Retry-After"), 1u) << throttled.text;
    EXPECT_EQ(Call("GET", "/v1/jobs").body["jobs"].size(), 1u);
  }
}

TEST_F(ApiServerTest, OpenApiDocumentsEveryRoute) {
  const Reply doc = Call("GET", "/openapi.json", "", nullptr);
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(doc.body["openapi"].get<std::string>().rfind("3.", 0), 0u);
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, operations] : doc.body["paths"].items()) {
    for (const auto& [method, op] : operations.items()) {
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
      documented.emplace(upper, path);
    }
  }
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& route : server_->Routes()) served.insert(route);
  EXPECT_EQ(documented, served);
  // The routes the issue names, whatever the server registers.
  for (const auto& route : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/v1/jobs"}, {"GET", "/v1/jobs/{id}"}, {"GET", "/v1/jobs"}, {"POST", "/v1/jobs/{id}/cancel"},
           {"POST", "/v1/uploads"}, {"GET", "/v1/jobs/{id}/result"}, {"POST", "/v1/events/s3"}, {"GET", "/healthz"},
           {"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/openapi.json"}}) {
    EXPECT_EQ(documented.count(route), 1u) << route.first << " " << route.second;
  }
}

TEST_F(ApiServerTest, MetricsAreInPrometheusFormat) {
  SubmitSimple();
  MetricsShowing({"# TYPE swapline_jobs gauge", R"(swapline_jobs{state="queued"} 1)", "swapline_queue_ready 1",
                  R"(swapline_http_requests_total{method="POST",route="/v1/jobs",status="201"} 1)",
                  R"(swapline_http_request_duration_seconds_bucket{route="/v1/jobs",le="+Inf"})"});
}

TEST_F(ApiServerTest, MetricsCountTheStatusSent) {
  EXPECT_EQ(Call("GET", "/healthz", "", nullptr).status, 200);
  const std::string metrics = MetricsShowing({R"(route="/healthz",status="200"} 1)"});
  EXPECT_EQ(metrics.find("status=\"-1\""), std::string::npos) << metrics;
}

TEST_F(ApiServerTest, MetricsCanBeProtected) {
  StartServer(true, 64 * 1024, {}, [](ApiOptions& o) { o.protect_metrics = true; });
  ExpectError(Call("GET", "/metrics", "", nullptr), 401, "unauthenticated");
  ExpectError(Call("GET", "/metrics", "", kAcme), 403, "permission_denied");
  EXPECT_EQ(Call("GET", "/metrics", "", kMetrics).status, 200);
  // The metrics token is good for nothing else.
  ExpectError(Call("GET", "/v1/jobs", "", kMetrics), 403, "permission_denied");
}

TEST_F(ApiServerTest, WithoutTokensS3EventsNeedTheOperatorsConsent) {
  const std::string event = R"({"Records": [{"eventName": "ObjectCreated:Put",
     "s3": {"bucket": {"name": "x"}, "object": {"key": "images/input/acme/202504051423/new.jpg"}}}]})";
  StartServer(false);
  ExpectError(Call("POST", "/v1/events/s3", event, nullptr), 403, "permission_denied");
  StartServer(false, 64 * 1024, {}, [](ApiOptions& o) { o.allow_local_events = true; });
  EXPECT_EQ(Call("POST", "/v1/events/s3", event, nullptr).status, 200);
}

TEST_F(ApiServerTest, ASecondServerCannotShareThePort) {
  ApiOptions options;
  options.port = server_->port();
  options.store_uri = *storage::ParseStorageUri("file://" + (dir_->path() / "objects").string());
  MetricsRegistry metrics;
  ApiServer second(*queue_, *store_, metrics, options);
  const Status started = second.Start();
  EXPECT_EQ(started.code(), Code::kUnavailable) << started.ToString();
  EXPECT_EQ(Call("GET", "/healthz", "", nullptr).status, 200);
}

TEST_F(ApiServerTest, WithoutTokensLoopbackClientsAreTenantLocal) {
  StartServer(false);
  PutPhoto("images/input/local/1/s.jpg");
  const Reply job = Call("POST", "/v1/jobs",
                         R"({"sources": ["images/input/local/1/s.jpg"], "target": "images/input/local/1/s.jpg"})",
                         nullptr);
  ASSERT_EQ(job.status, 201) << job.text;
  EXPECT_EQ(job.body["tenant"], "local");
}

}  // namespace
}  // namespace swapline::service
