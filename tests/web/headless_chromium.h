// Headless Chromium (Debian's /usr/bin/chromium) driven over the Chrome DevTools
// protocol on --remote-debugging-pipe: commands go to the browser's fd 3 and
// answers and events come back on its fd 4, as NUL-terminated JSON messages. No
// driver library: the tests speak the protocol directly.
//
// One page (tab) is opened at start; Page* calls act on it. Every wait has a
// deadline and fails the calling test (ADD_FAILURE) when it passes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace swapline::web {

class HeadlessChromium {
 public:
  // Starts the browser with a fresh profile in `profile_dir`; its stderr goes to
  // `profile_dir`/chromium.log. started() says whether it came up.
  explicit HeadlessChromium(const std::filesystem::path& profile_dir);
  ~HeadlessChromium();
  HeadlessChromium(const HeadlessChromium&) = delete;
  HeadlessChromium& operator=(const HeadlessChromium&) = delete;

  bool started() const { return !session_.empty(); }
  std::string log() const;

  // A command to the browser (`page` false) or to the page; its "result", or null
  // after an ADD_FAILURE when it fails or no answer comes within 60 s.
  nlohmann::json Call(const std::string& method, const nlohmann::json& params = nlohmann::json::object(),
                      bool page = true);

  // Loads `url` and waits until the document has loaded.
  void Navigate(const std::string& url);
  // The value of a JavaScript expression in the page (promises are awaited).
  nlohmann::json Eval(const std::string& expression);
  // Waits until `expression` is truthy; false (after an ADD_FAILURE naming `what`)
  // when it is not within `timeout`.
  bool WaitUntil(const std::string& expression, std::chrono::seconds timeout, const std::string& what);
  // Sets the files of the <input type=file> matching `selector`, as a person
  // choosing them would (input and change events fire).
  void SetInputFiles(const std::string& selector, const std::vector<std::string>& paths);
  // Drags `path` from outside the browser and drops it on the centre of the element
  // matching `selector`.
  void DropFile(const std::string& selector, const std::string& path);
  // A PNG of the whole page laid out `width` CSS pixels wide (`mobile`: a phone's
  // viewport, scaled ×2), written to `out`.
  void Screenshot(int width, bool mobile, const std::filesystem::path& out);

  // Events received so far whose method is `method`.
  std::vector<nlohmann::json> Events(const std::string& method) const;

 private:
  bool Send(const nlohmann::json& message);
  // The next message, or null when none comes before `deadline`.
  nlohmann::json Receive(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int to_browser_ = -1;
  int from_browser_ = -1;
  std::string buffer_;
  int next_id_ = 1;
  std::string session_;
  std::filesystem::path log_;
  std::vector<nlohmann::json> events_;
};

}  // namespace swapline::web
