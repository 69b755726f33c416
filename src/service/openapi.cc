#include "service/openapi.h"

#include "core/version.h"

namespace swapline::service {
namespace {

using nlohmann::json;

json Ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json JsonContent(const json& schema) { return {{"application/json", {{"schema", schema}}}}; }

json ErrorResponse(const std::string& description) {
  return {{"description", description}, {"content", JsonContent(Ref("Error"))}};
}

json Responses(json ok) {
  ok["400"] = ErrorResponse("malformed request; the message names the field");
  ok["401"] = ErrorResponse("missing or unknown bearer token");
  ok["413"] = ErrorResponse("request body over the limit");
  ok["503"] = ErrorResponse("queue or store unavailable");
  return ok;
}

json IdParameter() {
  return {{"name", "id"}, {"in", "path"}, {"required", true},
          {"schema", {{"type", "string"}, {"pattern", "^[0-9a-hjkmnp-tv-z]{26}$"}}}};
}

}  // namespace

json OpenApiDocument(const std::string& server_url) {
  json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", "swapline API"},
                 {"version", kVersion},
                 {"description",
                  "Face-swap jobs: upload inputs through presigned URLs, submit a job, poll it, fetch the "
                  "result. Every error is {\"error\": {\"code\", \"message\"}}. Tenants see only their own "
                  "jobs and keys; another tenant's job answers 404."}};
  doc["servers"] = json::array({{{"url", server_url}}});
  doc["security"] = json::array({{{"bearer", json::array()}}});

  json schemas;
  schemas["Error"] = {
      {"type", "object"},
      {"required", {"error"}},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"required", {"code", "message"}},
          {"properties", {{"code", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}}}}}};
  schemas["JobRequest"] = {
      {"type", "object"},
      {"required", {"sources", "target"}},
      {"properties",
       {{"sources", {{"type", "array"}, {"minItems", 1}, {"items", {{"type", "string"}}},
                     {"description", "object keys, s3:// or file:// URIs in this service's store"}}},
        {"target", {{"type", "string"}}},
        {"output", {{"type", "string"}, {"description", "default: {images|videos}/output/{tenant}/{time}/{id}.{ext}"}}},
        {"options", {{"type", "object"}, {"description", "swap options: `swapline swap` flag names without dashes"},
                     {"additionalProperties", true}}},
        {"max_attempts", {{"type", "integer"}, {"minimum", 1}, {"maximum", 100}}},
        {"callback_url", {{"type", "string"}}},
        {"id", {{"type", "string"}, {"description", "client-chosen id for idempotent retries"}}}}}};
  schemas["Job"] = {
      {"type", "object"},
      {"required", {"id", "state", "progress", "attempts"}},
      {"properties",
       {{"id", {{"type", "string"}}},
        {"tenant", {{"type", "string"}}},
        {"state", {{"type", "string"}, {"enum", {"queued", "running", "succeeded", "failed", "cancelled", "dead"}}}},
        {"progress", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
        {"attempts", {{"type", "integer"}}},
        {"max_attempts", {{"type", "integer"}}},
        {"created", {{"type", "string"}, {"format", "date-time"}}},
        {"updated", {{"type", "string"}, {"format", "date-time"}}},
        {"cancel_requested", {{"type", "boolean"}}},
        {"result", {{"type", "object"}, {"properties", {{"uri", {{"type", "string"}}}}}}},
        {"error", {{"type", "object"}, {"properties", {{"code", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}}},
        {"spec", Ref("JobRequest")}}}};
  schemas["JobList"] = {{"type", "object"},
                        {"properties", {{"jobs", {{"type", "array"}, {"items", Ref("Job")}}},
                                        {"next_cursor", {{"type", "string"}}}}}};
  schemas["UploadRequest"] = {{"type", "object"},
                              {"required", {"filename"}},
                              {"properties", {{"filename", {{"type", "string"}}}}}};
  schemas["Upload"] = {{"type", "object"},
                       {"properties", {{"key", {{"type", "string"}}},
                                       {"uri", {{"type", "string"}}},
                                       {"url", {{"type", "string"}}},
                                       {"method", {{"type", "string"}, {"enum", {"PUT"}}}},
                                       {"expires_at", {{"type", "string"}, {"format", "date-time"}}}}}};
  doc["components"]["schemas"] = schemas;
  doc["components"]["securitySchemes"]["bearer"] = {
      {"type", "http"}, {"scheme", "bearer"},
      {"description", "token from the server's token file; without --tokens only loopback clients, as tenant 'local'"}};

  json& paths = doc["paths"];
  paths["/v1/jobs"]["post"] = {
      {"operationId", "submitJob"},
      {"summary", "submit a job"},
      {"requestBody", {{"required", true}, {"content", JsonContent(Ref("JobRequest"))}}},
      {"responses", Responses({{"201", {{"description", "queued (or the existing job for a reused id)"},
                                        {"content", JsonContent(Ref("Job"))}}},
                               {"429", ErrorResponse("over max_active_jobs_per_tenant, or over "
                                                     "max_jobs_per_window_per_tenant (Retry-After says when)")}})}};
  paths["/v1/jobs"]["get"] = {
      {"operationId", "listJobs"},
      {"summary", "the caller's jobs, newest first"},
      {"parameters",
       {{{"name", "state"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
        {{"name", "limit"}, {"in", "query"}, {"schema", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}}}},
        {{"name", "cursor"}, {"in", "query"}, {"schema", {{"type", "string"}}}}}},
      {"responses", Responses({{"200", {{"description", "one page"}, {"content", JsonContent(Ref("JobList"))}}}})}};
  paths["/v1/jobs/{id}"]["get"] = {
      {"operationId", "getJob"},
      {"summary", "one job"},
      {"parameters", {IdParameter()}},
      {"responses", Responses({{"200", {{"description", "the job"}, {"content", JsonContent(Ref("Job"))}}},
                               {"404", ErrorResponse("no such job for this tenant")}})}};
  paths["/v1/jobs/{id}/cancel"]["post"] = {
      {"operationId", "cancelJob"},
      {"summary", "cancel a queued or running job"},
      {"parameters", {IdParameter()}},
      {"responses", Responses({{"200", {{"description", "the job after the request"}, {"content", JsonContent(Ref("Job"))}}},
                               {"404", ErrorResponse("no such job for this tenant")}})}};
  paths["/v1/jobs/{id}/result"]["get"] = {
      {"operationId", "getJobResult"},
      {"summary", "redirect to a presigned GET of the result (file stores: a signed /v1/objects URL)"},
      {"parameters", {IdParameter()}},
      {"responses", Responses({{"302", {{"description", "Location: the download URL"}}},
                               {"404", ErrorResponse("no such job for this tenant")},
                               {"409", ErrorResponse("the job has not succeeded")}})}};
  paths["/v1/uploads"]["post"] = {
      {"operationId", "createUpload"},
      {"summary", "a presigned PUT URL under the caller's input prefix"},
      {"requestBody", {{"required", true}, {"content", JsonContent(Ref("UploadRequest"))}}},
      {"responses", Responses({{"201", {{"description", "upload URL"}, {"content", JsonContent(Ref("Upload"))}}},
                               {"429", ErrorResponse("over max_upload_urls_per_window_per_tenant (Retry-After says when)")}})}};
  paths["/v1/events/s3"]["post"] = {
      {"operationId", "s3Event"},
      {"summary", "S3/MinIO bucket notification: created objects under a watched prefix become jobs"},
      {"requestBody", {{"required", true}, {"content", JsonContent({{"type", "object"}})}}},
      {"responses", Responses({{"200", {{"description", "jobs created and records ignored"},
                                        {"content", JsonContent({{"type", "object"}})}}},
                               {"429", ErrorResponse("a tenant over max_jobs_per_window_per_tenant: deliver the "
                                                     "notification again after Retry-After")}})}};
  json key_param = {{"name", "key"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
  json signed_params = {key_param,
                        {{"name", "expires"}, {"in", "query"}, {"required", true}, {"schema", {{"type", "integer"}}}},
                        {{"name", "signature"}, {"in", "query"}, {"required", true}, {"schema", {{"type", "string"}}}}};
  paths["/v1/objects/{key}"]["put"] = {
      {"operationId", "putObject"},
      {"summary", "file:// stores only: upload through a signed URL from /v1/uploads"},
      {"security", json::array()},
      {"parameters", signed_params},
      {"requestBody", {{"content", {{"application/octet-stream", {{"schema", {{"type", "string"}, {"format", "binary"}}}}}}}}},
      {"responses", {{"200", {{"description", "stored"}}}, {"403", ErrorResponse("bad or expired signature")}}}};
  paths["/v1/objects/{key}"]["get"] = {
      {"operationId", "getObject"},
      {"summary", "file:// stores only: download through a signed URL from /v1/jobs/{id}/result"},
      {"security", json::array()},
      {"parameters", signed_params},
      {"responses", {{"200", {{"description", "the object's bytes"}}}, {"403", ErrorResponse("bad or expired signature")},
                     {"404", ErrorResponse("no such object")}}}};
  auto open = [](const std::string& id, const std::string& summary, const std::string& type) {
    return json{{"operationId", id}, {"summary", summary}, {"security", json::array()},
                {"responses", {{"200", {{"description", "ok"}, {"content", {{type, {{"schema", {{"type", "string"}}}}}}}}}}}};
  };
  paths["/healthz"]["get"] = open("healthz", "liveness: the process serves requests", "application/json");
  paths["/readyz"]["get"] = open("readyz", "readiness: queue and store reachable (503 otherwise)", "application/json");
  paths["/metrics"]["get"] = open("metrics", "Prometheus text exposition", "text/plain");
  paths["/openapi.json"]["get"] = open("openapi", "this document", "application/json");
  return doc;
}

}  // namespace swapline::service
