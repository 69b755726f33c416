// Bucket lifecycle rules against a real S3 lifecycle implementation: Ceph radosgw
// (scripts/rgw-mini.sh: one monitor, one RAM-backed OSD, radosgw, on free loopback
// ports with its own data folder, stopped by PID). Swift's s3api has no lifecycle
// API, so this is the only server-side check of `swapline store lifecycle`.
//
// Fails, with a message saying what to install, when the Ceph packages are not
// there (`make deps` installs them: radosgw ceph-mon ceph-osd, ~54 packages, ~30 s;
// the server is ready ~13 s after start).
#include <gtest/gtest.h>
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
#include "support/s3_servers.h"

namespace swapline::storage {
namespace {

constexpr const char* kBucket = "swapline-lifecycle";
using testing::RgwServer;

// Runs `swapline --log-level warn store --endpoint-url URL ARGS` with the rgw
// credentials; returns (exit code, stdout).
std::pair<int, std::string> RunStore(const std::string& endpoint, const std::string& args) {
  const std::string command = std::string("AWS_ACCESS_KEY_ID=") + RgwServer::kAccessKey +
                              " AWS_SECRET_ACCESS_KEY=" + RgwServer::kSecretKey + " '" + SWAPLINE_STORE_CLI +
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
  Result<std::unique_ptr<RgwServer>> started = RgwServer::Start();
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  const RgwServer& server = **started;

  S3Options options;
  options.endpoint_url = server.endpoint();
  options.credentials.access_key_id = RgwServer::kAccessKey;
  options.credentials.secret_access_key = RgwServer::kSecretKey;
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
