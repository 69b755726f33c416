// Bucket lifecycle rules against a real S3 lifecycle implementation: Ceph radosgw
// (scripts/rgw-mini.sh: one monitor, one RAM-backed OSD, radosgw, on free loopback
// ports with its own data folder, stopped by PID). Swift's s3api has no lifecycle
// API, so this is the only server-side check of `swapline store lifecycle`.
//
// Skipped, with a message saying what to install, when the Ceph packages are not
// there (`make deps` installs them: radosgw ceph-mon ceph-osd, ~54 packages, ~30 s;
// the server is ready ~13 s after start).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "storage/s3_store.h"
#include "swift_server.h"  // FreePort

namespace swapline::storage {
namespace {

constexpr const char* kAccessKey = "rgwtest";  // scripts/rgw-mini.sh
constexpr const char* kSecretKey = "rgwtestsecret";
constexpr const char* kBucket = "swapline-lifecycle";

std::string Script() { return std::string(SWAPLINE_SCRIPTS_DIR) + "/rgw-mini.sh"; }

bool PortsFree(int first, int count) {
  for (int port = first; port < first + count; ++port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (!free) return false;
  }
  return true;
}

// radosgw on PORT; its monitor and OSD use PORT+1..PORT+9.
class RgwServer {
 public:
  ~RgwServer() {
    if (port_ != 0) (void)std::system((Environment() + "bash " + Script() + " stop").c_str());
  }
  bool Start() {
    dir_ = "/tmp/swapline-rgw-" + std::to_string(::getpid());
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int port = testing::FreePort();
      if (!PortsFree(port, 10)) continue;
      port_ = port;
      const std::string command = Environment() + "RGW_MINI_WATCH_PID=" + std::to_string(::getpid()) +
                                  " bash " + Script() + " start";
      if (std::system(command.c_str()) == 0) return true;
      port_ = 0;
    }
    return false;
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string Environment() const {
    return "RGW_MINI_PORT=" + std::to_string(port_) + " RGW_MINI_DIR=" + dir_ + " ";
  }
  int port_ = 0;
  std::string dir_;
};

bool CephInstalled() {
  return std::system("command -v ceph-mon >/dev/null 2>&1 && command -v ceph-osd >/dev/null 2>&1 && "
                     "command -v radosgw >/dev/null 2>&1 && command -v radosgw-admin >/dev/null 2>&1") == 0;
}

// Runs `swapline --log-level warn store --endpoint-url URL ARGS` with the rgw
// credentials; returns (exit code, stdout).
std::pair<int, std::string> RunStore(const std::string& endpoint, const std::string& args) {
  const std::string command = std::string("AWS_ACCESS_KEY_ID=") + kAccessKey +
                              " AWS_SECRET_ACCESS_KEY=" + kSecretKey + " '" + SWAPLINE_STORE_CLI +
                              "' --log-level warn store --endpoint-url " + endpoint + " " + args;
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A rule reduced to what S3 keeps: servers may reorder rules and transitions and
// write an empty Filter/Prefix as a bare <Prefix/> (radosgw does both).
using RuleSummary = std::map<std::string, std::string>;  // rule ID → canonical text

std::string Canonical(const std::string& status, const std::string& prefix,
                      std::set<std::string> transitions, const std::string& expiration_days,
                      const std::string& abort_days) {
  std::string text = "status=" + status + " prefix='" + prefix + "'";
  for (const std::string& t : transitions) text += " transition=" + t;
  if (!expiration_days.empty()) text += " expire-days=" + expiration_days;
  if (!abort_days.empty()) text += " abort-incomplete-days=" + abort_days;
  return text;
}

RuleSummary FromJson(const nlohmann::json& config) {
  RuleSummary rules;
  for (const auto& rule : config.at("Rules")) {
    std::string prefix = rule.contains("Prefix") ? rule["Prefix"].get<std::string>() : "";
    if (rule.contains("Filter") && rule["Filter"].contains("Prefix")) prefix = rule["Filter"]["Prefix"];
    std::set<std::string> transitions;
    for (const auto& t : rule.value("Transitions", nlohmann::json::array())) {
      transitions.insert(std::to_string(t.at("Days").get<int>()) + "d:" + t.at("StorageClass").get<std::string>());
    }
    const std::string expiration =
        rule.contains("Expiration") ? std::to_string(rule["Expiration"].at("Days").get<int>()) : "";
    const std::string abort = rule.contains("AbortIncompleteMultipartUpload")
                                  ? std::to_string(rule["AbortIncompleteMultipartUpload"].at("DaysAfterInitiation").get<int>())
                                  : "";
    rules[rule.at("ID").get<std::string>()] = Canonical(rule.at("Status"), prefix, transitions, expiration, abort);
  }
  return rules;
}

RuleSummary FromXml(const std::string& xml) {
  pugi::xml_document doc;
  RuleSummary rules;
  if (!doc.load_string(xml.c_str())) return rules;
  for (pugi::xml_node rule : doc.child("LifecycleConfiguration").children("Rule")) {
    std::string prefix = rule.child("Prefix").text().get();
    if (rule.child("Filter")) {
      prefix = rule.child("Filter").child("Prefix").text().get();
      if (rule.child("Filter").child("And")) prefix = rule.child("Filter").child("And").child("Prefix").text().get();
    }
    std::set<std::string> transitions;
    for (pugi::xml_node t : rule.children("Transition")) {
      transitions.insert(std::string(t.child("Days").text().get()) + "d:" + t.child("StorageClass").text().get());
    }
    rules[rule.child("ID").text().get()] =
        Canonical(rule.child("Status").text().get(), prefix, transitions,
                  rule.child("Expiration").child("Days").text().get(),
                  rule.child("AbortIncompleteMultipartUpload").child("DaysAfterInitiation").text().get());
  }
  return rules;
}

TEST(RgwLifecycleTest, DeployedRulesRoundTripThroughTheStoreCommand) {
  ASSERT_TRUE(CephInstalled()) << "Ceph radosgw is not installed, so the lifecycle rules cannot be checked "
                                   "against a server (`make deps` installs radosgw ceph-mon ceph-osd)";
  RgwServer server;
  ASSERT_TRUE(server.Start()) << "radosgw did not start (see the log above)";

  S3Options options;
  options.endpoint_url = server.endpoint();
  options.credentials.access_key_id = kAccessKey;
  options.credentials.secret_access_key = kSecretKey;
  Result<std::unique_ptr<S3Store>> store = S3Store::Open(kBucket, options);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->CreateBucket().ok());

  // No rules yet: "not found" (exit 3), as S3's NoSuchLifecycleConfiguration.
  auto [missing_code, missing_out] = RunStore(server.endpoint(), std::string("lifecycle get ") + kBucket + " 2>&1");
  EXPECT_EQ(missing_code, 3) << missing_out;
  EXPECT_NE(missing_out.find("NoSuchLifecycleConfiguration"), std::string::npos) << missing_out;

  const std::string rules_file = std::string(SWAPLINE_SOURCE_DIR) + "/deploy/lifecycle.json";
  auto [put_code, put_out] =
      RunStore(server.endpoint(), std::string("lifecycle put s3://") + kBucket + " --file " + rules_file);
  ASSERT_EQ(put_code, 0) << put_out;

  auto [get_code, xml] = RunStore(server.endpoint(), std::string("lifecycle get ") + kBucket);
  ASSERT_EQ(get_code, 0) << xml;
  std::ifstream in(rules_file);
  const nlohmann::json deployed = nlohmann::json::parse(in);
  const RuleSummary expected = FromJson(deployed);
  const RuleSummary got = FromXml(xml);
  ASSERT_EQ(expected.size(), deployed.at("Rules").size()) << "rule IDs must be unique";
  EXPECT_EQ(got, expected) << "radosgw returned:\n" << xml;
  EXPECT_NE(expected.at("scratch-expires-after-a-day").find("expire-days=1"), std::string::npos);
}

}  // namespace
}  // namespace swapline::storage
