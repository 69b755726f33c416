#include "web/headless_chromium.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <thread>

namespace swapline::web {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string DecodeBase64(const std::string& text) {
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return "";
  std::size_t size = static_cast<std::size_t>(n);
  if (text.size() >= 1 && text[text.size() - 1] == '=') --size;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

}  // namespace

HeadlessChromium::HeadlessChromium(const fs::path& profile_dir) : log_(profile_dir / "chromium.log") {
  ::signal(SIGPIPE, SIG_IGN);  // a browser that died answers EPIPE, not a signal
  fs::create_directories(profile_dir);
  int to[2];
  int from[2];
  if (::pipe2(to, O_CLOEXEC) != 0 || ::pipe2(from, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return;
  }
  std::vector<std::string> args = {"/usr/bin/chromium",
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--disable-dev-shm-usage",
                                   "--hide-scrollbars",
                                   "--remote-debugging-pipe",
                                   "--user-data-dir=" + (profile_dir / "profile").string(),
                                   "about:blank"};
  pid_ = ::fork();
  if (pid_ == 0) {
    // The protocol's fds: the browser reads commands on 3 and writes on 4.
    const int in = ::dup(to[0]);
    const int out = ::dup(from[1]);
    ::dup2(in, 3);
    ::dup2(out, 4);
    const int log = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(to[0]);
  ::close(from[1]);
  to_browser_ = to[1];
  from_browser_ = from[0];
  if (pid_ < 0) {
    ADD_FAILURE() << "fork failed";
    return;
  }
  const json target = Call("Target.createTarget", {{"url", "about:blank"}}, false);
  if (target.is_null()) return;
  const json attached =
      Call("Target.attachToTarget", {{"targetId", target["targetId"]}, {"flatten", true}}, false);
  if (attached.is_null()) return;
  session_ = attached["sessionId"];
  Call("Page.enable");
  Call("Runtime.enable");
  Call("Log.enable");
}

HeadlessChromium::~HeadlessChromium() {
  if (pid_ > 0) {
    Send({{"id", next_id_++}, {"method", "Browser.close"}});
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (to_browser_ >= 0) ::close(to_browser_);
  if (from_browser_ >= 0) ::close(from_browser_);
}

std::string HeadlessChromium::log() const {
  std::ifstream in(log_);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool HeadlessChromium::Send(const json& message) {
  const std::string text = message.dump() + '\0';
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(to_browser_, text.data() + done, text.size() - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

json HeadlessChromium::Receive(Clock::time_point deadline) {
  while (true) {
    const std::size_t end = buffer_.find('\0');
    if (end != std::string::npos) {
      json message = json::parse(buffer_.substr(0, end), nullptr, false);
      buffer_.erase(0, end + 1);
      return message;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return nullptr;
    pollfd fd{from_browser_, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(left)) <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::read(from_browser_, chunk, sizeof(chunk));
    if (n <= 0) return nullptr;  // the browser closed the pipe
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

json HeadlessChromium::Call(const std::string& method, const json& params, bool page) {
  const int id = next_id_++;
  json message = {{"id", id}, {"method", method}, {"params", params}};
  if (page) message["sessionId"] = session_;
  if (!Send(message)) {
    ADD_FAILURE() << method << ": the browser is gone\n" << log();
    return nullptr;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (true) {
    json answer = Receive(deadline);
    if (answer.is_null()) {
      ADD_FAILURE() << method << ": no answer from the browser\n" << log();
      return nullptr;
    }
    if (!answer.contains("id")) {
      if (answer.contains("method")) events_.push_back(std::move(answer));
      continue;
    }
    if (answer["id"] != id) continue;
    if (answer.contains("error")) {
      ADD_FAILURE() << method << " " << params.dump() << ": " << answer["error"].dump();
      return nullptr;
    }
    return answer.value("result", json::object());
  }
}

void HeadlessChromium::Navigate(const std::string& url) {
  Call("Page.navigate", {{"url", url}});
  WaitUntil("document.readyState === 'complete' && location.href === " + json(url).dump(), std::chrono::seconds(30),
            "page " + url + " loaded");
}

json HeadlessChromium::Eval(const std::string& expression) {
  const json result = Call("Runtime.evaluate",
                           {{"expression", expression}, {"awaitPromise", true}, {"returnByValue", true}});
  if (result.is_null()) return nullptr;
  if (result.contains("exceptionDetails")) {
    ADD_FAILURE() << expression << ": " << result["exceptionDetails"].dump();
    return nullptr;
  }
  return result["result"].value("value", json());
}

bool HeadlessChromium::WaitUntil(const std::string& expression, std::chrono::seconds timeout,
                                 const std::string& what) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const json value = Eval("!!(" + expression + ")");
    if (value.is_boolean() && value.get<bool>()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "timed out waiting for: " << what << " (" << expression << ")";
  return false;
}

void HeadlessChromium::SetInputFiles(const std::string& selector, const std::vector<std::string>& paths) {
  const json document = Call("DOM.getDocument");
  if (document.is_null()) return;
  const json node = Call("DOM.querySelector", {{"nodeId", document["root"]["nodeId"]}, {"selector", selector}});
  if (node.is_null() || node.value("nodeId", 0) == 0) {
    ADD_FAILURE() << "no element " << selector;
    return;
  }
  Call("DOM.setFileInputFiles", {{"files", paths}, {"nodeId", node["nodeId"]}});
}

void HeadlessChromium::DropFile(const std::string& selector, const std::string& path) {
  const json box = Eval("(() => { const e = document.querySelector(" + json(selector).dump() +
                        "); e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                        " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()");
  if (box.is_null()) return;
  const json data = {{"items", json::array()}, {"files", {path}}, {"dragOperationsMask", 1}};
  for (const char* type : {"dragEnter", "dragOver", "drop"}) {
    Call("Input.dispatchDragEvent", {{"type", type}, {"x", box["x"]}, {"y", box["y"]}, {"data", data}});
  }
}

void HeadlessChromium::Screenshot(int width, bool mobile, const fs::path& out) {
  const int scale = mobile ? 2 : 1;
  Call("Emulation.setDeviceMetricsOverride",
       {{"width", width}, {"height", 800}, {"deviceScaleFactor", scale}, {"mobile", mobile}});
  const json height = Eval("Math.ceil(document.documentElement.scrollHeight)");
  const int page_height = height.is_number() ? height.get<int>() : 800;
  Call("Emulation.setDeviceMetricsOverride",
       {{"width", width}, {"height", page_height}, {"deviceScaleFactor", scale}, {"mobile", mobile}});
  const json shot = Call("Page.captureScreenshot", {{"format", "png"}, {"captureBeyondViewport", true}});
  Call("Emulation.clearDeviceMetricsOverride");
  if (shot.is_null()) return;
  fs::create_directories(out.parent_path());
  std::ofstream file(out, std::ios::binary);
  const std::string png = DecodeBase64(shot["data"].get<std::string>());
  file.write(png.data(), static_cast<std::streamsize>(png.size()));
}

std::vector<json> HeadlessChromium::Events(const std::string& method) const {
  std::vector<json> out;
  for (const json& e : events_) {
    if (e.value("method", "") == method) out.push_back(e);
  }
  return out;
}

}  // namespace swapline::web
