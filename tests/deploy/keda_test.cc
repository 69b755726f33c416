// The KEDA ScaledObject against what the workers really do: its redis-streams
// triggers name the stream, consumer group, address and password the worker (and
// API) Deployments' --queue arguments use; and on a real Redis, after jobs are
// submitted, claimed, cancelled and completed through the JobQueue, the figures the
// triggers read (XINFO GROUPS lag, XPENDING count) are the backlog and the jobs in
// flight, with cancelled jobs leaving the backlog once a worker passes them.
//
// Reads the rendered overlays as JSON (SWAPLINE_DEPLOY_JSON, written by the
// deploy_render fixture).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "deploy/manifests.h"
#include "job/job_queue.h"
#include "job/queue_backends.h"
#include "job/redis_client.h"
#include "support/redis_server.h"

namespace swapline::job {
namespace {

using deploy::testing::Flag;
using nlohmann::json;
using std::chrono::milliseconds;

std::map<std::string, deploy::testing::Overlay> LoadOverlays() {
  auto overlays = deploy::testing::LoadOverlays(SWAPLINE_DEPLOY_JSON);
  EXPECT_TRUE(overlays.ok()) << overlays.status().ToString();
  return overlays.ok() ? *overlays : std::map<std::string, deploy::testing::Overlay>{};
}

std::set<std::string> EnvNames(const json& container) {
  std::set<std::string> names;
  for (const json& env : container.value("env", json::array())) names.insert(env["name"].get<std::string>());
  return names;
}

std::int64_t DurationSeconds(const std::string& text) {
  std::smatch m;
  EXPECT_TRUE(std::regex_match(text, m, std::regex("([0-9]+)(s|m)"))) << text;
  if (m.empty()) return 0;
  return std::stoll(m[1]) * (m[2] == "m" ? 60 : 1);
}

TEST(KedaManifests, TriggersReadTheStreamAndGroupTheWorkersUse) {
  const auto overlays = LoadOverlays();
  int checked = 0;
  for (const auto& [file, overlay] : overlays) {
    const json* scaled = overlay.FindKind("ScaledObject");
    if (scaled == nullptr) continue;  // the local overlay has no autoscaler
    SCOPED_TRACE(file);
    const json& spec = (*scaled)["spec"];
    EXPECT_EQ(spec["minReplicaCount"], 0) << "workers scale to zero";
    EXPECT_GE(spec["maxReplicaCount"].get<int>(), 1);
    const json* worker = overlay.Find("Deployment", spec["scaleTargetRef"]["name"]);
    ASSERT_NE(worker, nullptr) << "scaleTargetRef names no Deployment";
    const json& pod = (*worker)["spec"]["template"]["spec"];
    const json& container = pod["containers"][0];
    EXPECT_FALSE((*worker)["spec"].contains("replicas")) << "KEDA owns the worker replica count";

    const json& triggers = spec["triggers"];
    ASSERT_EQ(triggers.size(), 2u);
    const json* lag = nullptr;
    const json* pending = nullptr;
    for (const json& t : triggers) {
      EXPECT_EQ(t["type"], "redis-streams");
      const json& m = t["metadata"];
      if (m.contains("lagCount")) lag = &m;
      if (m.contains("pendingEntriesCount")) pending = &m;
    }
    ASSERT_NE(lag, nullptr) << "a lagCount trigger (backlog, wakes from zero)";
    ASSERT_NE(pending, nullptr) << "a pendingEntriesCount trigger (keeps busy workers)";
    EXPECT_TRUE(lag->contains("activationLagCount"));
    EXPECT_FALSE(lag->contains("pendingEntriesCount"));
    for (const char* key : {"stream", "consumerGroup", "addressFromEnv", "passwordFromEnv"}) {
      EXPECT_EQ((*lag)[key], (*pending)[key]) << key;
    }
    const std::string address_env = (*lag)["addressFromEnv"];
    const std::string password_env = (*lag)["passwordFromEnv"];
    // KEDA resolves *FromEnv in the target's container env.
    EXPECT_EQ(EnvNames(container).count(address_env), 1u) << address_env;
    EXPECT_EQ(EnvNames(container).count(password_env), 1u) << password_env;

    // An optional Secret that is missing leaves "$(VAR)" unexpanded in --queue.
    for (const json& env : container.value("env", json::array())) {
      if (env["name"] != address_env && env["name"] != password_env) continue;
      for (const char* ref : {"secretKeyRef", "configMapKeyRef"}) {
        if (!env.contains("valueFrom") || !env["valueFrom"].contains(ref)) continue;
        EXPECT_FALSE(env["valueFrom"][ref].value("optional", false)) << env["name"] << " must not be optional";
      }
    }

    // Every process that touches the queue: the workers and the API that submits.
    const json* api = overlay.Find("Deployment", "swapline-api");
    ASSERT_NE(api, nullptr);
    for (const json* c : {&container, &(*api)["spec"]["template"]["spec"]["containers"][0]}) {
      const std::optional<std::string> queue = Flag(*c, "--queue");
      ASSERT_TRUE(queue.has_value()) << (*c)["name"] << " has no --queue";
      const Result<std::string> uri =
          deploy::testing::ExpandVars(*queue, {{address_env, "10.1.2.3:6380"}, {password_env, "pw"}});
      ASSERT_TRUE(uri.ok()) << uri.status().ToString() << " (the triggers name " << address_env << " and "
                            << password_env << ")";
      Result<internal::RedisEndpoint> endpoint = internal::ParseRedisUri(*uri);
      ASSERT_TRUE(endpoint.ok()) << endpoint.status().ToString();
      EXPECT_EQ(endpoint->host, "10.1.2.3");
      EXPECT_EQ(endpoint->port, 6380);
      EXPECT_EQ(endpoint->password, "pw");
      EXPECT_EQ(endpoint->stream, (*lag)["stream"]) << (*c)["name"];
      EXPECT_EQ(endpoint->group, (*lag)["consumerGroup"]) << (*c)["name"];
    }

    // Scale-down or rollout SIGTERMs a worker: it drains for --grace, and the pod
    // must outlive that (plus a margin for the upload and the release).
    const std::optional<std::string> grace = Flag(container, "--grace");
    ASSERT_TRUE(grace.has_value());
    EXPECT_GE(pod["terminationGracePeriodSeconds"].get<std::int64_t>(), DurationSeconds(*grace) + 30);
    ++checked;
  }
  EXPECT_GE(checked, 2) << "the cpu and gpu overlays each have a ScaledObject";
}

// What KEDA's redis-streams scaler reads: lag from XINFO GROUPS, the pending count
// from XPENDING's summary.
struct TriggerInputs {
  std::int64_t lag = -1;
  std::int64_t pending = -1;
};

TriggerInputs ReadLikeKeda(internal::RedisConnection& redis, const std::string& stream, const std::string& group) {
  TriggerInputs in;
  Result<internal::Reply> groups = redis.Command({"XINFO", "GROUPS", stream});
  EXPECT_TRUE(groups.ok());
  if (!groups.ok()) return in;
  const internal::ReplyView list = groups->view();
  for (std::size_t g = 0; g < list.size(); ++g) {
    const internal::ReplyView info = list[g];
    std::map<std::string, internal::ReplyView> fields;
    for (std::size_t i = 0; i + 1 < info.size(); i += 2) fields.emplace(std::string(info[i].str()), info[i + 1]);
    if (fields.at("name").str() != group) continue;
    EXPECT_FALSE(fields.at("lag").is_nil()) << "lag NULL reads as 0 in KEDA: scaling would stop";
    in.lag = fields.at("lag").integer();
  }
  Result<internal::Reply> pending = redis.Command({"XPENDING", stream, group});
  EXPECT_TRUE(pending.ok());
  if (pending.ok()) in.pending = pending->view()[0].integer();
  return in;
}

TEST(KedaBacklog, LagAndPendingAreTheBacklogAndTheJobsInFlight) {
  const auto overlays = LoadOverlays();
  ASSERT_EQ(overlays.count(SWAPLINE_DEPLOY_CPU), 1u);
  const json* scaled = overlays.at(SWAPLINE_DEPLOY_CPU).FindKind("ScaledObject");
  ASSERT_NE(scaled, nullptr);
  const std::string stream = (*scaled)["spec"]["triggers"][0]["metadata"]["stream"];
  const std::string group = (*scaled)["spec"]["triggers"][0]["metadata"]["consumerGroup"];

  Result<std::unique_ptr<testing::RedisServer>> server = testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString() << " (run make deps)";
  const std::string uri = (*server)->Uri(stream) + "&group=" + group;
  JobQueueOptions options;
  options.lease = milliseconds(60'000);
  Result<std::unique_ptr<JobQueue>> opened = OpenJobQueue(uri, options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  JobQueue& queue = **opened;
  Result<internal::RedisEndpoint> endpoint = internal::ParseRedisUri(uri);
  ASSERT_TRUE(endpoint.ok());
  Result<std::unique_ptr<internal::RedisConnection>> redis =
      internal::RedisConnection::Connect(*endpoint, milliseconds(5000));
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  auto read = [&] { return ReadLikeKeda(**redis, stream, group); };
  auto expect = [&](std::int64_t lag, std::int64_t pending, const char* when) {
    const TriggerInputs in = read();
    EXPECT_EQ(in.lag, lag) << when;
    EXPECT_EQ(in.pending, pending) << when;
    Result<QueueStats> stats = queue.Stats();  // what /metrics exports beside it
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->lag, lag) << when;
    EXPECT_EQ(stats->in_flight, pending) << when;
  };

  expect(0, 0, "empty queue: KEDA may scale to zero");
  constexpr int kJobs = 6;
  std::vector<std::string> ids;
  for (int i = 0; i < kJobs; ++i) {
    JobSpec spec;
    spec.sources = {"images/input/u1/202504051423/src.jpg"};
    spec.target = "images/input/u1/202504051423/target" + std::to_string(i) + ".png";
    ASSERT_TRUE(FinalizeJobSpec(spec, "u1").ok());
    Result<JobRecord> rec = queue.Submit(spec);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    ids.push_back(rec->id());
  }
  expect(kJobs, 0, "submitted: the backlog wakes workers from zero");

  std::vector<Lease> running;
  for (int i = 0; i < 2; ++i) {
    Result<std::optional<Lease>> lease = queue.Claim("w" + std::to_string(i), milliseconds(0));
    ASSERT_TRUE(lease.ok() && lease->has_value());
    running.push_back(**lease);
  }
  expect(kJobs - 2, 2, "two claimed: in flight, out of the backlog");

  // Cancel two queued jobs: each takes one unread ticket with it (read and
  // acknowledged, never XDELed), so lag drops at once and stays exact...
  std::set<std::string> cancelled;
  for (const std::string& id : ids) {
    if (cancelled.size() == 2) break;
    if (id == running[0].job_id() || id == running[1].job_id()) continue;
    ASSERT_TRUE(queue.Cancel("u1", id).ok());
    cancelled.insert(id);
  }
  expect(kJobs - 4, 2, "cancelled jobs leave the backlog at once");

  // ... and are never handed out.
  for (int i = 2;; ++i) {
    Result<std::optional<Lease>> lease = queue.Claim("w" + std::to_string(i), milliseconds(0));
    ASSERT_TRUE(lease.ok());
    if (!lease->has_value()) break;
    EXPECT_EQ(cancelled.count((*lease)->job_id()), 0u) << "a cancelled job was handed out";
    running.push_back(**lease);
  }
  ASSERT_EQ(running.size(), static_cast<std::size_t>(kJobs - 2));
  expect(0, kJobs - 2, "all read: no backlog, the running jobs keep their workers");

  for (const Lease& lease : running) ASSERT_TRUE(queue.Complete(lease, "s3://b/out").ok());
  expect(0, 0, "all done: nothing keeps a worker");
}

}  // namespace
}  // namespace swapline::job
