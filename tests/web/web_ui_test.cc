// The web page of `swapline serve` in a real browser (headless Chromium over the
// DevTools protocol): a person uploads two photos (one by choosing the file, one by
// dropping it), submits, watches the job succeed, downloads the result (the same
// bytes the API returns), cancels a running video job, and is told why a text file
// posing as a photo is refused. With --tokens the page asks for the token, keeps it
// in sessionStorage only and shows why a job whose source has no face failed.
// Full-page screenshots (desktop and phone width) go to the build folder.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <thread>

#include "cli/cli_test_util.h"
#include "service/api_client.h"
#include "service/service_test_util.h"
#include "web/headless_chromium.h"

namespace swapline::web {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using service::ApiClient;
using service::Process;
using swapline::testing::ReadFileBytes;
using swapline::testing::TempDir;

const std::string kTestdata = SWAPLINE_TESTDATA_DIR;
const std::string kSource = kTestdata + "/photos/grace_hopper_usn_portrait.jpg";
const std::string kTarget = kTestdata + "/photos/eileen_collins_nasa_portrait.png";
const std::string kNoFace = kTestdata + "/photos/noface_coffee.png";
const std::string kVideo = kTestdata + "/videos/b_two_faces_side_by_side_1280x720_30fps_3s.mp4";
const fs::path kScreenshots = SWAPLINE_WEB_SCREENSHOT_DIR;
constexpr auto kJobTimeout = std::chrono::seconds(180);

// `swapline serve` (one embedded worker, file store, SQLite queue) on a free
// loopback port, and a browser.
class WebUiTest : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& extra = {}) {
    const int port = swapline::testing::FreePort();
    url_ = "http://127.0.0.1:" + std::to_string(port);
    std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--store",
                                     "file://" + (dir_.path() / "objects").string(), "--queue",
                                     "sqlite://" + (dir_.path() / "queue.db").string(), "--workers", "1",
                                     "--scratch-dir", (dir_.path() / "scratch").string(), "--lease", swapline::testing::ScaledArg(std::chrono::seconds(3)),
                                     "--execution-thread-count", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    serve_ = std::make_unique<Process>(args, dir_.path() / "serve-log");
    ApiClient client(url_, "");
    const auto deadline = std::chrono::steady_clock::now() + swapline::testing::Scaled(std::chrono::seconds(30));
    while (!client.Call("GET", "/healthz").ok()) {
      ASSERT_TRUE(serve_->running()) << serve_->log();
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "serve did not come up: " << serve_->log();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    browser_ = std::make_unique<HeadlessChromium>(dir_.path() / "chromium");
    ASSERT_TRUE(browser_->started()) << browser_->log();
    browser_->Navigate(url_ + "/");
    ASSERT_TRUE(browser_->WaitUntil("document.body.dataset.ready === 'true'", std::chrono::seconds(30), "page ready"));
  }

  std::string Text(const std::string& selector) {
    const json value = browser_->Eval("document.querySelector(" + json(selector).dump() + ").textContent");
    return value.is_string() ? value.get<std::string>() : "";
  }
  bool Visible(const std::string& selector) {
    const json value = browser_->Eval("document.querySelector(" + json(selector).dump() + ").offsetParent !== null");
    return value.is_boolean() && value.get<bool>();
  }
  void Click(const std::string& selector) {
    browser_->Eval("document.querySelector(" + json(selector).dump() + ").click()");
  }
  // Waits until the result panel shows job state `state`.
  bool WaitForState(const std::string& state) {
    return browser_->WaitUntil("document.getElementById('job-state').dataset.state === " + json(state).dump(),
                               kJobTimeout, "job " + state + "; page says: " + Text("#job-panel"));
  }
  // Chooses both files and waits until both uploads are done.
  void Upload(const std::string& source, const std::string& target) {
    browser_->SetInputFiles("#source-file", {source});
    // As a person would, the second file is dropped once the page has settled
    // (the first one's preview moves the drop zones).
    ASSERT_TRUE(browser_->WaitUntil("document.getElementById('source-drop').classList.contains('ok') && "
                                    "document.querySelector('#source-drop img').complete",
                                    std::chrono::seconds(60), "source uploaded"))
        << Text("#source-status");
    browser_->DropFile("#target-drop", target);
    ASSERT_TRUE(browser_->WaitUntil("document.querySelectorAll('.drop.ok').length === 2 && "
                                    "!document.getElementById('submit').disabled",
                                    std::chrono::seconds(60), "both uploads done"))
        << "source: " << Text("#source-status") << "\ntarget: " << Text("#target-status");
  }
  // Console errors, uncaught exceptions and policy violations the page caused.
  std::vector<std::string> PageErrors() {
    std::vector<std::string> errors;
    for (const json& e : browser_->Events("Log.entryAdded")) {
      if (e["params"]["entry"].value("level", "") == "error") errors.push_back(e["params"]["entry"].dump());
    }
    for (const json& e : browser_->Events("Runtime.exceptionThrown")) errors.push_back(e["params"].dump());
    return errors;
  }
  std::vector<fs::path> Objects(const std::string& prefix) {
    std::vector<fs::path> out;
    const fs::path root = dir_.path() / "objects" / prefix;
    if (!fs::exists(root)) return out;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (entry.is_regular_file()) out.push_back(entry.path());
    }
    return out;
  }

  TempDir dir_{"swapline_web_test"};
  std::string url_;
  std::unique_ptr<Process> serve_;
  std::unique_ptr<HeadlessChromium> browser_;
};

TEST_F(WebUiTest, SwapsPhotosDownloadsTheResultCancelsAVideoAndRefusesText) {
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_FALSE(Visible("#token-panel"));
  EXPECT_TRUE(Visible("#jobs-empty"));

  // A text file named like a photo: refused before anything is uploaded.
  const fs::path text = dir_.path() / "holiday.jpg";
  std::ofstream(text) << "this is a shopping list, not a photo\n";
  browser_->SetInputFiles("#source-file", {text.string()});
  ASSERT_TRUE(browser_->WaitUntil("document.getElementById('source-drop').classList.contains('bad')",
                                  std::chrono::seconds(10), "text file refused"));
  EXPECT_NE(Text("#source-status").find("Unsupported file: \"holiday.jpg\" is not a photo"), std::string::npos)
      << Text("#source-status");
  EXPECT_TRUE(browser_->Eval("document.getElementById('submit').disabled").get<bool>());
  EXPECT_TRUE(Objects("images/input").empty());

  // Two photos: uploaded through the signed URLs, swapped, previewed.
  ASSERT_NO_FATAL_FAILURE(Upload(kSource, kTarget));
  EXPECT_EQ(Objects("images/input").size(), 2u);
  browser_->Eval("document.getElementById('selector-order').value = 'left-right'");
  Click("#submit");
  ASSERT_TRUE(WaitForState("succeeded"));
  ASSERT_TRUE(browser_->WaitUntil("document.getElementById('job-panel').dataset.result === 'ready' && "
                                  "document.getElementById('result-image').complete && "
                                  "document.getElementById('result-image').naturalWidth > 0",
                                  std::chrono::seconds(30), "result preview shown"));
  EXPECT_TRUE(Visible("#synthetic-notice"));
  EXPECT_NE(Text("#synthetic-notice").find("Synthetic media"), std::string::npos);
  const std::string id = Text("#job-id");
  ApiClient client(url_, "");
  auto job = client.Call("GET", "/v1/jobs/" + id);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ((*job)["spec"]["options"]["face-selector-order"], "left-right");

  // Download: the browser saves exactly the bytes the API hands out.
  const fs::path downloads = dir_.path() / "downloads";
  fs::create_directories(downloads);
  browser_->Call("Browser.setDownloadBehavior",
                 {{"behavior", "allow"}, {"downloadPath", downloads.string()}, {"eventsEnabled", true}}, false);
  Click("#download");
  const fs::path saved = downloads / ("swapline-" + id + ".png");
  const auto deadline = std::chrono::steady_clock::now() + swapline::testing::Scaled(std::chrono::seconds(30));
  bool completed = false;
  while (!completed && std::chrono::steady_clock::now() < deadline) {
    browser_->Eval("1");  // collects the browser's events
    for (const json& e : browser_->Events("Browser.downloadProgress")) {
      if (e["params"].value("state", "") == "completed") completed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(completed) << "download did not complete";
  auto result_url = client.ResultUrl(id);
  ASSERT_TRUE(result_url.ok()) << result_url.status().ToString();
  const fs::path expected = dir_.path() / "api-result.png";
  ASSERT_TRUE(client.Download(*result_url, expected).ok());
  const std::string bytes = ReadFileBytes(saved);
  EXPECT_GT(bytes.size(), 1000u);
  EXPECT_TRUE(bytes == ReadFileBytes(expected)) << "downloaded " << bytes.size() << " bytes differ from the API's";

  browser_->Screenshot(1280, false, kScreenshots / "desktop.png");
  browser_->Screenshot(390, true, kScreenshots / "phone.png");
  EXPECT_TRUE(fs::file_size(kScreenshots / "desktop.png") > 10000);
  EXPECT_TRUE(fs::file_size(kScreenshots / "phone.png") > 10000);

  // A video job, cancelled while it runs (a slow preset keeps it running well past
  // the heartbeat that carries the cancel).
  browser_->SetInputFiles("#target-file", {kVideo});
  ASSERT_TRUE(browser_->WaitUntil("document.getElementById('target-status').textContent.includes('.mp4') && "
                                  "document.getElementById('target-drop').classList.contains('ok') && "
                                  "!document.getElementById('video-options').disabled",
                                  std::chrono::seconds(60), "video uploaded"));
  browser_->Eval("document.getElementById('video-preset').value = 'veryslow'");
  Click("#submit");
  ASSERT_TRUE(browser_->WaitUntil("document.getElementById('job-id').textContent !== " + json(id).dump() +
                                      " && document.getElementById('job-state').dataset.state === 'running' && "
                                      "document.getElementById('job-progress').value >= 10",
                                  kJobTimeout, "video job running"));
  const std::string video_id = Text("#job-id");
  EXPECT_TRUE(Visible("#cancel"));
  Click("#cancel");
  ASSERT_TRUE(WaitForState("cancelled"));
  EXPECT_FALSE(Visible("#cancel"));
  EXPECT_FALSE(Visible("#result"));
  EXPECT_TRUE(Objects("videos/output").empty());
  auto video_job = client.Call("GET", "/v1/jobs/" + video_id);
  ASSERT_TRUE(video_job.ok());
  EXPECT_EQ((*video_job)["state"], "cancelled");
  EXPECT_EQ((*video_job)["spec"]["options"]["output-video-preset"], "veryslow");

  // The recent jobs list shows both with their states.
  ASSERT_TRUE(browser_->WaitUntil("document.querySelectorAll('#jobs li').length === 2 && "
                                  "document.querySelector('#jobs li[data-id=\"" + video_id +
                                      "\"] .state').dataset.state === 'cancelled' && "
                                      "document.querySelector('#jobs li[data-id=\"" + id +
                                      "\"] .state').dataset.state === 'succeeded'",
                                  std::chrono::seconds(30), "recent jobs listed"));
  EXPECT_EQ(PageErrors(), std::vector<std::string>());
}

TEST_F(WebUiTest, AsksForTheTokenKeepsItInTheTabAndExplainsANoFaceSource) {
  const fs::path tokens = dir_.path() / "tokens";
  std::ofstream(tokens) << "web-test-token-0123456789 acme\n";
  ASSERT_NO_FATAL_FAILURE(Start({"--tokens", tokens.string()}));
  ASSERT_TRUE(Visible("#token-panel"));
  EXPECT_FALSE(Visible("#swap-form"));

  browser_->Eval("document.getElementById('token').value = 'wrong-token'");
  Click("#token-form button");
  ASSERT_TRUE(browser_->WaitUntil("!document.getElementById('token-error').hidden", std::chrono::seconds(10),
                                  "wrong token refused"));
  EXPECT_NE(Text("#token-error").find("not accepted"), std::string::npos) << Text("#token-error");

  browser_->Eval("document.getElementById('token').value = 'web-test-token-0123456789'");
  Click("#token-form button");
  ASSERT_TRUE(browser_->WaitUntil("document.getElementById('token-panel').hidden && "
                                  "!document.getElementById('swap-form').hidden",
                                  std::chrono::seconds(10), "signed in"));
  EXPECT_EQ(browser_->Eval("sessionStorage.getItem('swapline.token')"), "web-test-token-0123456789");
  EXPECT_EQ(browser_->Eval("localStorage.length"), 0);
  EXPECT_EQ(browser_->Eval("document.cookie"), "");

  ASSERT_NO_FATAL_FAILURE(Upload(kNoFace, kTarget));
  EXPECT_EQ(Objects("images/input/acme").size(), 2u);
  Click("#submit");
  ASSERT_TRUE(WaitForState("failed"));
  ASSERT_TRUE(browser_->WaitUntil("!document.getElementById('job-error').hidden", std::chrono::seconds(10),
                                  "job error shown"));
  EXPECT_NE(Text("#job-error").find("No usable face was found in the source photo"), std::string::npos)
      << Text("#job-error");
  EXPECT_FALSE(Visible("#result"));
  EXPECT_NE(Text("#signed-in-text").find("acme"), std::string::npos) << Text("#signed-in-text");

  // A reload in the same tab keeps the token.
  browser_->Navigate(url_ + "/");
  ASSERT_TRUE(browser_->WaitUntil("document.body.dataset.ready === 'true' && "
                                  "document.getElementById('token-panel').hidden && "
                                  "document.querySelectorAll('#jobs li').length === 1",
                                  std::chrono::seconds(10), "still signed in after a reload"));
}

TEST_F(WebUiTest, ServesItsFilesWithAStrictContentSecurityPolicy) {
  ASSERT_NO_FATAL_FAILURE(Start());
  httplib::Client http(url_);
  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  const std::string policy = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(policy.find("default-src 'none'"), std::string::npos) << policy;
  EXPECT_NE(policy.find("script-src 'self';"), std::string::npos) << policy;
  EXPECT_NE(policy.find("style-src 'self';"), std::string::npos) << policy;
  EXPECT_EQ(policy.find("unsafe"), std::string::npos) << policy;
  EXPECT_EQ(policy.find("http"), std::string::npos) << "no other host: " << policy;
  // No inline code for the policy to refuse, no third-party URL.
  EXPECT_EQ(page->body.find("<script>"), std::string::npos);
  EXPECT_EQ(page->body.find("<style"), std::string::npos);
  EXPECT_EQ(page->body.find(" style="), std::string::npos);
  EXPECT_EQ(page->body.find("//"), std::string::npos);
  for (const std::string path : {"/ui/app.js", "/ui/app.css", "/ui/favicon.svg"}) {
    auto file = http.Get(path);
    ASSERT_TRUE(file) << path;
    EXPECT_EQ(file->status, 200) << path;
    EXPECT_EQ(file->get_header_value("Content-Security-Policy"), policy) << path;
    EXPECT_EQ(file->get_header_value("X-Content-Type-Options"), "nosniff") << path;
  }
  EXPECT_NE(http.Get("/ui/../CMakeLists.txt")->status, 200);
  EXPECT_EQ(http.Get("/ui/missing.js")->status, 404);
}

}  // namespace
}  // namespace swapline::web
