#include "service/api_server_impl.h"

#include "job/job_spec.h"
#include "service/tenancy.h"
#include "storage/object_key.h"

namespace swapline::service {
bool ApiServer::Impl::WithinRate(const job::RateLimit& limit, const std::string& tenant, Response& res) {
  auto decision = queue_.TakeRateToken(tenant, limit);
  if (!decision.ok()) {
    SendStatus(res, decision.status());
    return false;
  }
  if (decision->allowed) return true;
  res.set_header("Retry-After", std::to_string(std::max<std::int64_t>(1, (decision->retry_after.count() + 999) / 1000)));
  SendStatus(res, Admission::RateLimitError(limit, tenant, decision->retry_after));
  return false;
}

Result<AdmittedJob> ApiServer::Impl::AdmitSpec(const job::JobSpec& spec) {
  SWAPLINE_ASSIGN_OR_RETURN(AdmittedJob admitted, admission_.Admit(spec));
  auto check_input = [&](const std::string& key, const std::string& field) -> Status {
    auto info = store_.Stat(key);
    if (!info.ok()) {
      if (info.status().code() == Code::kNotFound) {
        return InvalidArgument(field + ": object '" + key + "' does not exist (upload it first: POST /v1/uploads)");
      }
      return info.status().WithContext(field);
    }
    return admission_.CheckInputSize(field, info->size);
  };
  for (std::size_t i = 0; i < admitted.source_keys.size(); ++i) {
    SWAPLINE_RETURN_IF_ERROR(check_input(admitted.source_keys[i], "sources[" + std::to_string(i) + "]"));
  }
  SWAPLINE_RETURN_IF_ERROR(check_input(admitted.target_key, "target"));
  return admitted;
}

void ApiServer::Impl::SubmitJob(const Request& req, Response& res, const std::string& tenant) {
  if (!WithinRate(admission_.job_rate(), tenant, res)) return;
  auto spec = job::JobSpec::Parse(req.body);
  if (!spec.ok()) return SendStatus(res, spec.status());
  const bool chosen_id = !spec->id.empty();
  Status status = job::FinalizeJobSpec(*spec, tenant);
  if (!status.ok()) return SendStatus(res, status);
  auto admitted = AdmitSpec(*spec);
  if (!admitted.ok()) return SendStatus(res, admitted.status());
  if (chosen_id) {
    // A retried submission gets its job back; a different spec under the same id,
    // or an id whose time is not now, is refused.
    auto existing = queue_.Get(tenant, spec->id);
    if (existing.ok()) {
      if (existing->spec != admitted->spec) {
        return SendError(res, 409, "failed_precondition", "id: job " + spec->id + " exists with a different spec");
      }
      return SendJson(res, 200, existing->ToJson());
    }
    if (existing.status().code() != Code::kNotFound) return SendStatus(res, existing.status());
    status = Admission::CheckNewJobId(spec->id, std::chrono::system_clock::now());
    if (!status.ok()) return SendStatus(res, status);
  }
  auto record = queue_.Submit(admitted->spec, options_.limits.max_active_jobs_per_tenant);
  if (!record.ok()) {
    // An id taken by another tenant must look like any other conflict.
    return SendStatus(res, record.status());
  }
  if (record->spec != admitted->spec) {
    return SendError(res, 409, "failed_precondition", "id: job " + spec->id + " exists with a different spec");
  }
  metrics_.Add("swapline_api_jobs_submitted_total", {{"source", "api"}});
  res.set_header("Location", "/v1/jobs/" + record->id());
  SendJson(res, 201, record->ToJson());
}

void ApiServer::Impl::ListJobs(const Request& req, Response& res, const std::string& tenant) {
  job::ListOptions list;
  if (req.has_param("state") && !req.param("state").empty()) {
    auto state = job::ParseJobState(req.param("state"));
    if (!state.ok()) return SendError(res, 400, "invalid_argument", "state: " + state.status().message());
    list.state = *state;
  }
  if (req.has_param("limit")) {
    const std::string text = req.param("limit");
    int limit = 0;
    std::size_t used = 0;
    try {
      limit = std::stoi(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || text.empty() || limit < 1 || limit > 1000) {
      return SendError(res, 400, "invalid_argument", "limit: must be an integer from 1 to 1000");
    }
    list.limit = limit;
  }
  list.cursor = req.param("cursor");
  auto page = queue_.List(tenant, list);
  if (!page.ok()) {
    if (page.status().code() == Code::kInvalidArgument) {
      return SendError(res, 400, "invalid_argument", "cursor: " + page.status().message());
    }
    return SendStatus(res, page.status());
  }
  json jobs = json::array();
  for (const auto& record : page->jobs) jobs.push_back(record.ToJson());
  SendJson(res, 200, {{"jobs", std::move(jobs)}, {"next_cursor", page->next_cursor}});
}

namespace {
// Ids are checked before any lookup so a malformed one is a plain 404.
bool ValidIdOr404(const std::string& id, Response& res) {
  if (job::IsValidJobId(id)) return true;
  SendError(res, 404, "not_found", "no job '" + id + "'");
  return false;
}
}  // namespace

void ApiServer::Impl::GetJob(const Request& req, Response& res, const std::string& tenant) {
  const std::string id = req.matches[1];
  if (!ValidIdOr404(id, res)) return;
  auto record = queue_.Get(tenant, id);
  if (!record.ok()) return SendStatus(res, record.status());
  SendJson(res, 200, record->ToJson());
}

void ApiServer::Impl::CancelJob(const Request& req, Response& res, const std::string& tenant) {
  const std::string id = req.matches[1];
  if (!ValidIdOr404(id, res)) return;
  auto current = queue_.Get(tenant, id);
  if (!current.ok()) return SendStatus(res, current.status());
  if (job::IsTerminal(current->state)) {
    return SendError(res, 409, "failed_precondition",
                     "job " + id + " has already ended (" + job::JobStateName(current->state) + ")");
  }
  auto record = queue_.Cancel(tenant, id);
  if (!record.ok()) return SendStatus(res, record.status());
  SendJson(res, 200, record->ToJson());
}

void ApiServer::Impl::JobResult(const Request& req, Response& res, const std::string& tenant) {
  const std::string id = req.matches[1];
  if (!ValidIdOr404(id, res)) return;
  auto record = queue_.Get(tenant, id);
  if (!record.ok()) return SendStatus(res, record.status());
  if (record->state != job::JobState::kSucceeded || !record->result_uri) {
    return SendError(res, 409, "failed_precondition",
                     "job " + id + " is " + job::JobStateName(record->state) + "; it has no result");
  }
  auto key = KeyInStore(options_.store_uri, *record->result_uri, "result.uri");
  if (!key.ok()) return SendStatus(res, Internal(key.status().message()));
  const auto expires = std::chrono::system_clock::now() + options_.url_expiry;
  std::string url;
  if (options_.store_uri.is_s3()) {
    auto presigned = store_.Presign(*key, storage::PresignMethod::kGet, options_.url_expiry);
    if (!presigned.ok()) return SendStatus(res, presigned.status());
    url = *presigned;
  } else {
    url = signer_.Sign(base_url_, "GET", *key, expires);
  }
  res.set_header("Location", url);
  SendJson(res, 302, {{"url", url}, {"uri", *record->result_uri}, {"expires_at", FormatExpiry(expires)}});
}

void ApiServer::Impl::CreateUpload(const Request& req, Response& res, const std::string& tenant) {
  if (!WithinRate(admission_.upload_url_rate(), tenant, res)) return;
  const json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return SendError(res, 400, "invalid_argument", "body: must be a JSON object {\"filename\": \"...\"}");
  }
  if (!body.contains("filename") || !body["filename"].is_string()) {
    return SendError(res, 400, "invalid_argument", "filename: must be a string");
  }
  for (const auto& [name, value] : body.items()) {
    if (name != "filename" && name != "content_type") {
      return SendError(res, 400, "invalid_argument", name + ": unknown field");
    }
  }
  const auto now = std::chrono::system_clock::now();
  auto key = UploadKey(tenant, body["filename"].get<std::string>(), now);
  if (!key.ok()) return SendStatus(res, key.status());
  const auto expires = now + options_.url_expiry;
  std::string url;
  if (options_.store_uri.is_s3()) {
    auto presigned = store_.Presign(*key, storage::PresignMethod::kPut, options_.url_expiry);
    if (!presigned.ok()) return SendStatus(res, presigned.status());
    url = *presigned;
  } else {
    url = signer_.Sign(base_url_, "PUT", *key, expires);
  }
  SendJson(res, 201,
           {{"key", *key}, {"uri", *key}, {"url", url}, {"method", "PUT"}, {"expires_at", FormatExpiry(expires)}});
}

}  // namespace swapline::service
