// `swapline jobs submit|status|list|cancel|wait|result`: the client of the HTTP API
// (service/api_client.h). --server / --token default to $SWAPLINE_SERVER /
// $SWAPLINE_TOKEN (and http://127.0.0.1:8080).
//
// submit: each -s/-t that is a local file is uploaded through a presigned PUT
// (POST /v1/uploads); anything else (an object key, s3://, file://) is passed on as
// is. The job id is printed on stdout's last line. With --wait: progress on stderr,
// and the exit code says how the job ended (0 only if it succeeded; otherwise the
// code of the job's error, as `swapline swap` would exit).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/swap_flags.h"
#include "core/env.h"
#include "job/job_spec.h"
#include "service/api_client.h"

namespace swapline::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct JobsArgs {
  std::string server;
  std::string token;
  // submit
  std::vector<std::string> sources;
  std::string target;
  std::string output;
  int max_attempts = 0;
  bool wait = false;
  std::string download;
  pipeline::SwapOptions options;
  std::vector<std::string> given_options;
  // others
  std::string id;
  std::string state;
  int limit = 50;
  bool all = false;
  double timeout_s = 0;
  std::string result_file;
};

service::ApiClient MakeClient(const JobsArgs& args) {
  return service::ApiClient(args.server.empty() ? EnvOr("SWAPLINE_SERVER", "http://127.0.0.1:8080") : args.server,
                            args.token.empty() ? EnvOr("SWAPLINE_TOKEN", "") : args.token);
}


// A reference for the job: local files are uploaded first.
Result<std::string> Reference(service::ApiClient& client, const std::string& text) {
  if (text.find("://") != std::string::npos) return text;
  std::error_code ec;
  if (fs::is_regular_file(text, ec)) {
    SWAPLINE_ASSIGN_OR_RETURN(std::string key, client.UploadFile(text));
    spdlog::info("uploaded {} as {}", text, key);
    return key;
  }
  if (text.find('/') == std::string::npos || text[0] == '/' || text[0] == '.') {
    return NotFound("'" + text + "' is neither a local file nor an object key");
  }
  return text;  // an object key in the service's store
}

// Exit code for a finished job.
int JobExitCode(const json& job) {
  const std::string state = job.value("state", "");
  if (state == "succeeded") return kExitOk;
  if (state == "cancelled") return kExitCancelled;
  std::string code = "internal";
  std::string message = "job " + state;
  if (job.contains("error") && job["error"].is_object()) {
    code = job["error"].value("code", code);
    message = job["error"].value("message", message);
  }
  spdlog::error("job {} {}: {}: {}", job.value("id", ""), state, code, message);
  return ExitCodeFor(Status(service::CodeFromName(code), message));
}

bool IsTerminalState(const std::string& state) {
  const Result<job::JobState> parsed = job::ParseJobState(state);
  return parsed.ok() && job::IsTerminal(*parsed);
}

// Polls until the job ends; progress on stderr (a bar on a TTY, lines otherwise).
Result<json> WaitForJob(service::ApiClient& client, const std::string& id, double timeout_s) {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  std::string last_line;
  int failures = 0;
  for (;;) {
    auto job = client.Call("GET", "/v1/jobs/" + id);
    if (!job.ok()) {
      // The server may be restarting: keep trying for a while.
      if (job.status().code() != Code::kUnavailable || ++failures > 60) return job.status();
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    failures = 0;
    const std::string state = job->value("state", "");
    const double progress = job->value("progress", 0.0);
    char line[160];
    const int filled = static_cast<int>(std::min(1.0, std::max(0.0, progress)) * 30);
    std::snprintf(line, sizeof(line), "[%s%s] %3.0f%% %s (attempt %d)", std::string(filled, '#').c_str(),
                  std::string(30 - filled, '.').c_str(), progress * 100, state.c_str(), job->value("attempts", 0));
    if (tty) {
      std::fprintf(stderr, "\r%s   ", line);
    } else if (line != last_line) {
      std::fprintf(stderr, "%s\n", line);
    }
    last_line = line;
    if (IsTerminalState(state)) {
      if (tty) std::fprintf(stderr, "\n");
      return job;
    }
    if (timeout_s > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout_s) {
      if (tty) std::fprintf(stderr, "\n");
      return Unavailable("job " + id + " still " + state + " after " + std::to_string(timeout_s) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

Status DownloadResult(service::ApiClient& client, const std::string& id, const std::string& file) {
  SWAPLINE_ASSIGN_OR_RETURN(std::string url, client.ResultUrl(id));
  SWAPLINE_RETURN_IF_ERROR(client.Download(url, file));
  spdlog::info("result of job {} written to {}", id, file);
  return Status::Ok();
}

int Submit(const JobsArgs& args) {
  service::ApiClient client = MakeClient(args);
  json body;
  body["sources"] = json::array();
  for (const std::string& source : args.sources) {
    auto reference = Reference(client, source);
    if (!reference.ok()) return RemoteFail(reference.status().WithContext("-s " + source));
    body["sources"].push_back(*reference);
  }
  auto target = Reference(client, args.target);
  if (!target.ok()) return RemoteFail(target.status().WithContext("-t " + args.target));
  body["target"] = *target;
  if (!args.output.empty()) body["output"] = args.output;
  if (args.max_attempts > 0) body["max_attempts"] = args.max_attempts;
  body["options"] = pipeline::SwapOptionsToJson(args.options, args.given_options);
  auto job = client.Call("POST", "/v1/jobs", body);
  if (!job.ok()) return RemoteFail(job.status());
  const std::string id = job->value("id", "");
  spdlog::info("submitted job {}", id);
  int code = kExitOk;
  if (args.wait) {
    auto done = WaitForJob(client, id, args.timeout_s);
    if (!done.ok()) {
      code = RemoteFail(done.status());
    } else {
      code = JobExitCode(*done);
      if (code == kExitOk && !args.download.empty()) {
        const Status downloaded = DownloadResult(client, id, args.download);
        if (!downloaded.ok()) code = RemoteFail(downloaded);
      }
    }
  }
  std::printf("%s\n", id.c_str());
  std::fflush(stdout);
  return code;
}

int Status_(const JobsArgs& args) {
  service::ApiClient client = MakeClient(args);
  auto job = client.Call("GET", "/v1/jobs/" + args.id);
  if (!job.ok()) return RemoteFail(job.status());
  std::printf("%s\n", job->dump(2).c_str());
  return kExitOk;
}

int Cancel(const JobsArgs& args) {
  service::ApiClient client = MakeClient(args);
  auto job = client.Call("POST", "/v1/jobs/" + args.id + "/cancel", json::object());
  if (!job.ok()) return RemoteFail(job.status());
  std::printf("%s %s%s\n", job->value("id", "").c_str(), job->value("state", "").c_str(),
              job->value("cancel_requested", false) && job->value("state", "") == "running" ? " (cancel requested)"
                                                                                               : "");
  return kExitOk;
}

int List(const JobsArgs& args) {
  service::ApiClient client = MakeClient(args);
  std::string cursor;
  int shown = 0;
  do {
    std::string path = "/v1/jobs?limit=" + std::to_string(args.limit);
    if (!args.state.empty()) path += "&state=" + args.state;
    if (!cursor.empty()) path += "&cursor=" + cursor;
    auto page = client.Call("GET", path);
    if (!page.ok()) return RemoteFail(page.status());
    for (const json& job : (*page)["jobs"]) {
      std::printf("%s  %-9s  %3.0f%%  attempts %d  %s\n", job.value("id", "").c_str(),
                  job.value("state", "").c_str(), job.value("progress", 0.0) * 100, job.value("attempts", 0),
                  job.value("created", "").c_str());
      ++shown;
    }
    cursor = page->value("next_cursor", "");
  } while (args.all && !cursor.empty());
  if (!cursor.empty()) spdlog::info("more jobs: --all lists every page");
  return kExitOk;
}

int Wait(const JobsArgs& args) {
  service::ApiClient client = MakeClient(args);
  auto job = WaitForJob(client, args.id, args.timeout_s);
  if (!job.ok()) return RemoteFail(job.status());
  return JobExitCode(*job);
}

int ResultCommand(const JobsArgs& args) {
  service::ApiClient client = MakeClient(args);
  const Status status = DownloadResult(client, args.id, args.result_file);
  if (!status.ok()) return RemoteFail(status);
  std::printf("%s\n", args.result_file.c_str());
  return kExitOk;
}

}  // namespace

void RegisterJobsCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<JobsArgs>();
  CLI::App* jobs = app.add_subcommand("jobs", "client of a swapline API server: submit and follow jobs");
  jobs->require_subcommand(1);
  jobs->add_option("--server", args->server, "API base URL (default $SWAPLINE_SERVER or http://127.0.0.1:8080)");
  jobs->add_option("--token", args->token, "bearer token (default $SWAPLINE_TOKEN)");

  CLI::App* submit = jobs->add_subcommand("submit", "submit a swap job; prints its id last");
  submit->fallthrough();
  submit->add_option("-s,--source", args->sources, "source image(s): local files (uploaded) or object keys/URIs")
      ->required();
  submit->add_option("-t,--target", args->target, "target image or video: a local file or an object key/URI")
      ->required();
  submit->add_option("-o,--output", args->output, "output object key (default: derived from the job id)");
  submit->add_option("--max-attempts", args->max_attempts, "attempts before the job is dead (server default 3)");
  submit->add_flag("--wait", args->wait, "wait for the job, showing progress; exit non-zero unless it succeeded");
  submit->add_option("--download", args->download, "with --wait: write the result to this local file");
  submit->add_option("--timeout", args->timeout_s, "with --wait: give up after this many seconds (0: never)");
  AddSwapOptionFlags(submit, args->options);
  submit->callback([args, submit, &exit_code] {
    args->given_options = GivenSwapOptionNames(submit);
    exit_code = Submit(*args);
  });

  CLI::App* status = jobs->add_subcommand("status", "a job's state as JSON");
  status->fallthrough();
  status->add_option("id", args->id, "job id")->required();
  status->callback([args, &exit_code] { exit_code = Status_(*args); });

  CLI::App* list = jobs->add_subcommand("list", "your jobs, newest first");
  list->fallthrough();
  list->add_option("--state", args->state, "queued, running, succeeded, failed, cancelled or dead");
  list->add_option("--limit", args->limit, "jobs per page (1-1000)")->capture_default_str();
  list->add_flag("--all", args->all, "every page");
  list->callback([args, &exit_code] { exit_code = List(*args); });

  CLI::App* cancel = jobs->add_subcommand("cancel", "cancel a queued or running job");
  cancel->fallthrough();
  cancel->add_option("id", args->id, "job id")->required();
  cancel->callback([args, &exit_code] { exit_code = Cancel(*args); });

  CLI::App* wait = jobs->add_subcommand("wait", "wait until a job ends; exit 0 only if it succeeded");
  wait->fallthrough();
  wait->add_option("id", args->id, "job id")->required();
  wait->add_option("--timeout", args->timeout_s, "give up after this many seconds (0: never)");
  wait->callback([args, &exit_code] { exit_code = Wait(*args); });

  CLI::App* result = jobs->add_subcommand("result", "download a succeeded job's result");
  result->fallthrough();
  result->add_option("id", args->id, "job id")->required();
  result->add_option("-o,--output", args->result_file, "local file to write")->required();
  result->callback([args, &exit_code] { exit_code = ResultCommand(*args); });
}

}  // namespace swapline::cli
