// JobQueue over Redis Streams (Redis ≥ 7.0, hiredis 0.14).
//
// Layout (ns = the stream name up to its last ':', e.g. "swapline:"):
//   <stream>            stream, one dispatch ticket {ticket: 1} per time a job becomes
//                       ready; consumer group <group> (created with MKSTREAM, from id 0)
//   <stream>:ready:<t>  list: tenant t's ready jobs, oldest first
//   <stream>:ready-tenants  list: the tenants whose ready list is not empty, in turn
//   <stream>:bound      hash entry id → job id: the job a read ticket was given to,
//                       until the entry is acknowledged
//   <ns>job:<id>        hash (expires JobQueueOptions::retention after the job ended): tenant, state, spec (JSON), progress, attempts,
//                       max_attempts, result_uri, error_code, error_message, cancel,
//                       lease (token), worker, lease_until (ms, Redis clock), entry
//                       (current stream entry id), deliveries, created_ms, updated_ms
//   <ns>tenant:<t>:jobs sorted set (score 0, ordered by id) for List
//   <stream>:delayed    sorted set id → due ms: retries waiting out their backoff
//   <stream>:dead       dead-letter stream {job, entry, deliveries, reason}, capped at
//                       JobQueueOptions::dead_letter_max entries (XADD MAXLEN)
//   <stream>:counts     hash state → number of jobs, for Stats
//   <stream>:counts:active  hash tenant → queued + running jobs (Submit's cap)
//   <stream>:rate:<name>:<t>  tenant t's bucket of rate limit <name> (TakeRateToken)
//
// Every state move is one Lua script, so it is atomic and checks the lease token:
// two workers racing to Complete produce one success. Claims read new entries with
// XREADGROUP and take over entries idle past the lease with XAUTOCLAIM; the take and
// each renewal are XCLAIM … JUSTID (idle reset, delivery counter untouched), so an
// entry is idle past the lease exactly when its lease has ended; the delivery counter
// from XPENDING decides when a poison job is dead-lettered. Entries are never
// XDELed (that breaks the group's lag, which KEDA reads); acked history is trimmed
// with XTRIM MINID.
//
// Fairness. A stream entry does not name a job: it is a ticket that says "one job is
// ready". The worker that reads a ticket binds it (in the same script) to the next
// job of the next tenant in turn (the ready-tenants list rotates), and from then on
// the entry is that job's lease: takeover, renewal and the delivery count work on it
// as on any entry. So a tenant that queued 2,000 jobs holds up another tenant's job
// by one claim, not 2,000, and the stream still holds exactly one unread entry per
// ready job: the group's lag (KEDA's lagCount) is the whole dispatchable backlog, a
// lone tenant's burst scales the workers as before, and no job is ever deleted from
// the stream. A per-tenant window of entries in the stream was the alternative; it
// caps a lone tenant at the window's size however many workers are idle, and hides
// the held jobs from KEDA. Cancelling a ready job takes it off its tenant's list and
// reads and acknowledges one unread ticket (tickets are interchangeable), so lag
// drops at once; when every ticket is already with a worker, that worker finds no
// job and acknowledges its ticket. Entries of the earlier layout ({job: <id>}) are
// still honoured: a queued job named by one joins its tenant's list, a running one
// keeps its entry.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "core/random_text.h"
#include "job/job_queue.h"
#include "job/queue_backends.h"
#include "job/redis_client.h"

namespace swapline::job::internal {
namespace {

// What a stream entry carries: "" for a ticket, the job id for an entry of the
// earlier layout, nullopt for an entry that is not ours.
std::optional<std::string> JobOfEntry(const ReplyView& fields) {
  for (std::size_t f = 0; f + 1 < fields.size(); f += 2) {
    if (fields[f].str() == "ticket") return std::string();
    if (fields[f].str() == "job") return std::string(fields[f + 1].str());
  }
  return std::nullopt;
}

// Shared by every script. KEYS: 1 job hash, 2 stream, 3 counts, 4 delayed, 5 dead.
// ARGV[2] is the group. The last three ARGV of every call (appended by Eval): the
// key namespace, retention ms (0: keep ended jobs forever) and the dead-letter
// stream's MAXLEN.
constexpr const char* kPrelude = R"lua(
local ns = ARGV[#ARGV - 2]
local retention_ms = tonumber(ARGV[#ARGV - 1])
local dead_max = ARGV[#ARGV]
local ring = KEYS[2] .. ':ready-tenants'
local bound = KEYS[2] .. ':bound'
local function job_key(id)
  return ns .. 'job:' .. id
end
local function ready_list(tenant)
  return KEYS[2] .. ':ready:' .. tenant
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function unfinished(state)
  return state == 'queued' or state == 'running'
end
-- Moves the counts of job hash h (default KEYS[1]) from state `from` to `to`.
local function count(from, to, h)
  h = h or KEYS[1]
  if from then redis.call('HINCRBY', KEYS[3], from, -1) end
  if to then redis.call('HINCRBY', KEYS[3], to, 1) end
  local d = (unfinished(to) and 1 or 0) - (unfinished(from) and 1 or 0)
  if d ~= 0 then
    redis.call('HINCRBY', KEYS[3] .. ':active', redis.call('HGET', h, 'tenant'), d)
  end
  if to and not unfinished(to) and retention_ms > 0 then
    redis.call('PEXPIRE', h, retention_ms)  -- ended: kept for the retention period
  end
end
local function settle(from, to, code, msg, now, h)
  h = h or KEYS[1]
  redis.call('HSET', h, 'state', to, 'error_code', code, 'error_message', msg,
             'updated_ms', now)
  redis.call('HDEL', h, 'lease')
  count(from, to, h)
end
local function ack(entry)
  redis.call('XACK', KEYS[2], ARGV[2], entry)
  redis.call('HDEL', bound, entry)
end
-- Puts queued job `id` on its tenant's ready list (at the front for a job given back).
local function hold(id, tenant, front)
  local n = redis.call(front and 'LPUSH' or 'RPUSH', ready_list(tenant), id)
  if n == 1 then redis.call('RPUSH', ring, tenant) end
  redis.call('HSET', job_key(id), 'entry', '')
end
-- Makes queued job `id` ready: on its tenant's list, with a ticket in the stream.
local function make_ready(id, tenant, front)
  hold(id, tenant, front)
  redis.call('XADD', KEYS[2], '*', 'ticket', 1)
end
-- Takes a ready job off its tenant's list; true when it was there.
local function unready(id, tenant)
  local list = ready_list(tenant)
  if redis.call('LREM', list, 1, id) == 0 then return false end
  if redis.call('LLEN', list) == 0 then redis.call('LREM', ring, 0, tenant) end
  return true
end
-- The next ready job: the first of the tenant whose turn it is (tenants rotate).
local function next_ready()
  while true do
    local tenant = redis.call('LMOVE', ring, ring, 'LEFT', 'RIGHT')
    if not tenant then return nil end
    local list = ready_list(tenant)
    local id = redis.call('LPOP', list)
    if redis.call('LLEN', list) == 0 then redis.call('LREM', ring, 0, tenant) end
    if id then return id end
  end
end
-- An entry of the earlier layout names its job (legacy_id; '' for a ticket). A queued
-- job bound to it joins its tenant's list and the entry serves as its ticket; a
-- running one keeps the entry: its id is returned.
local function adopt(entry, legacy_id)
  if legacy_id == '' then return nil end
  local st = redis.call('HMGET', job_key(legacy_id), 'state', 'entry', 'tenant')
  if st[2] ~= entry then return nil end
  if st[1] == 'running' then return legacy_id end
  if st[1] == 'queued' then hold(legacy_id, st[3], true) end
  return nil
end
)lua";

// ARGV: id, group, tenant, spec, max_attempts, tenant index key, max active jobs (0: any)
constexpr const char* kSubmit = R"lua(
local t = redis.call('HGET', KEYS[1], 'tenant')
if t then
  if t == ARGV[3] then return 'exists' end
  return 'taken'
end
local max_active = tonumber(ARGV[7])
if max_active > 0 and tonumber(redis.call('HGET', KEYS[3] .. ':active', ARGV[3]) or '0') >= max_active then
  return 'full'
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'tenant', ARGV[3], 'state', 'queued', 'spec', ARGV[4],
           'max_attempts', ARGV[5], 'attempts', 0, 'progress', 0, 'cancel', 0,
           'entry', '', 'deliveries', 0, 'created_ms', now, 'updated_ms', now,
           'ready_ms', now)
make_ready(ARGV[1], ARGV[3], false)
redis.call('ZADD', ARGV[6], 0, ARGV[1])
count(nil, 'queued')
return 'ok'
)lua";

// Hands out the job of entry ARGV[3] (read or taken over by the worker): the job
// bound to it, or for a fresh ticket the next ready job, which it binds.
// ARGV: the job an entry of the earlier layout names ('' for a ticket), group, entry
// id, worker, token, lease ms, max deliveries
constexpr const char* kTake = R"lua(
local entry = ARGV[3]
local p = redis.call('XPENDING', KEYS[2], ARGV[2], entry, entry, 1)
if #p == 0 then return {'skip'} end
local id = redis.call('HGET', bound, entry)
if not id then
  id = adopt(entry, ARGV[1])
  if not id then
    id = next_ready()
    if not id then  -- its job was cancelled: the ticket is spent
      redis.call('XACK', KEYS[2], ARGV[2], entry)
      return {'skip'}
    end
    redis.call('HSET', job_key(id), 'entry', entry)
  end
  redis.call('HSET', bound, entry, id)
end
local h = job_key(id)
local st = redis.call('HMGET', h, 'state', 'entry', 'lease_until', 'cancel')
local state = st[1]
if (not state) or st[2] ~= entry then
  ack(entry)
  return {'skip'}
end
local now = now_ms()
local deliveries = tonumber(p[1][4])
if state == 'running' then
  local lease_until = tonumber(st[3] or '0')
  if lease_until > now then
    -- Taken over while its lease still runs (the holder's lease started a little
    -- after its delivery, or clocks differ): XAUTOCLAIM counted a delivery that did
    -- not happen. Give the count back and leave the entry idle for as long as the
    -- lease has run, so the takeover comes when the lease ends.
    local idle = math.max(0, tonumber(ARGV[6]) - (lease_until - now))
    local holder = redis.call('HGET', h, 'worker') or ARGV[4]
    redis.call('XCLAIM', KEYS[2], ARGV[2], holder, 0, entry, 'IDLE', idle,
               'RETRYCOUNT', deliveries - 1, 'JUSTID')
    return {'busy'}
  end
elseif state ~= 'queued' then
  ack(entry)
  return {'skip'}
end
if state == 'running' and st[4] == '1' then
  ack(entry)
  settle('running', 'cancelled', 'cancelled', 'cancelled by request', now, h)
  return {'settled'}
end
if deliveries > tonumber(ARGV[7]) then
  redis.call('XADD', KEYS[5], 'MAXLEN', dead_max, '*', 'job', id, 'entry', entry,
             'deliveries', deliveries - 1, 'reason', 'delivery_limit')
  ack(entry)
  settle(state, 'dead', 'delivery_limit', 'handed to a worker ' .. (deliveries - 1) ..
         ' times without an outcome (workers crashed or hung); dead-lettered', now, h)
  return {'dead'}
end
local until_ms = now + tonumber(ARGV[6])
-- The entry's idle time restarts with the lease: XAUTOCLAIM's 'idle past the lease'
-- and lease_until then end together (JUSTID leaves the delivery count alone).
redis.call('XCLAIM', KEYS[2], ARGV[2], ARGV[4], 0, entry, 'JUSTID')
local attempts = redis.call('HINCRBY', h, 'attempts', 1)
redis.call('HSET', h, 'state', 'running', 'lease', ARGV[5], 'worker', ARGV[4],
           'lease_until', until_ms, 'updated_ms', now, 'deliveries', deliveries)
if state == 'queued' then count('queued', 'running', h) end
return {'ok', redis.call('HGET', h, 'spec'), attempts, deliveries, until_ms}
)lua";

// ARGV: id, group, token, worker, lease ms
constexpr const char* kRenew = R"lua(
local st = redis.call('HMGET', KEYS[1], 'state', 'lease', 'entry', 'cancel')
if st[1] ~= 'running' or st[2] ~= ARGV[3] then return {'lost', st[1] or 'missing'} end
local until_ms = now_ms() + tonumber(ARGV[5])
redis.call('XCLAIM', KEYS[2], ARGV[2], ARGV[4], 0, st[3], 'JUSTID')
redis.call('HSET', KEYS[1], 'lease_until', until_ms)
return {'ok', st[4], until_ms}
)lua";

// ARGV: id, group, token, fraction
constexpr const char* kProgress = R"lua(
local st = redis.call('HMGET', KEYS[1], 'state', 'lease')
if st[1] ~= 'running' or st[2] ~= ARGV[3] then return {'lost', st[1] or 'missing'} end
redis.call('HSET', KEYS[1], 'progress', ARGV[4], 'updated_ms', now_ms())
return {'ok'}
)lua";

// ARGV: id, group, token, result uri
constexpr const char* kComplete = R"lua(
local st = redis.call('HMGET', KEYS[1], 'state', 'lease', 'entry')
if st[1] == 'succeeded' then return {'ok'} end
if st[1] ~= 'running' or st[2] ~= ARGV[3] then return {'lost', st[1] or 'missing'} end
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', 'succeeded', 'progress', 1, 'result_uri', ARGV[4],
           'cancel', 0, 'updated_ms', now, 'deliveries', 0)
redis.call('HDEL', KEYS[1], 'lease', 'error_code', 'error_message')
ack(st[3])
count('running', 'succeeded')
return {'ok'}
)lua";

// ARGV: id, group, token, code, message, retryable (1/0), backoff initial ms, max ms
constexpr const char* kFail = R"lua(
local st = redis.call('HMGET', KEYS[1], 'state', 'lease', 'entry', 'cancel', 'attempts',
                      'max_attempts', 'tenant')
if st[1] ~= 'running' or st[2] ~= ARGV[3] then return {'lost', st[1] or 'missing'} end
local now = now_ms()
ack(st[3])
redis.call('HSET', KEYS[1], 'deliveries', 0)
local attempts = tonumber(st[5])
if st[4] == '1' then
  settle('running', 'cancelled', 'cancelled', 'cancelled by request', now)
  return {'cancelled'}
end
if ARGV[6] ~= '1' then
  settle('running', 'failed', ARGV[4], ARGV[5], now)
  return {'failed'}
end
if attempts >= tonumber(st[6]) then
  redis.call('XADD', KEYS[5], 'MAXLEN', dead_max, '*', 'job', ARGV[1], 'entry', st[3], 'attempts', attempts,
             'reason', 'max_attempts')
  settle('running', 'dead', ARGV[4],
         'gave up after ' .. attempts .. ' attempts: ' .. ARGV[5], now)
  return {'dead'}
end
local delay = tonumber(ARGV[7])
local cap = tonumber(ARGV[8])
for i = 2, attempts do
  if delay >= cap then break end
  delay = delay * 2
end
if delay > cap then delay = cap end
redis.call('HSET', KEYS[1], 'state', 'queued', 'error_code', ARGV[4], 'error_message', ARGV[5],
           'progress', 0, 'updated_ms', now)
redis.call('HDEL', KEYS[1], 'lease')
count('running', 'queued')
if delay <= 0 then
  make_ready(ARGV[1], st[7], false)
  redis.call('HSET', KEYS[1], 'ready_ms', now)
else
  redis.call('ZADD', KEYS[4], now + delay, ARGV[1])
  redis.call('HSET', KEYS[1], 'entry', '', 'ready_ms', now + delay)
end
return {'queued'}
)lua";

// ARGV: id, group, token
constexpr const char* kRelease = R"lua(
local st = redis.call('HMGET', KEYS[1], 'state', 'lease', 'entry', 'cancel', 'attempts',
                      'tenant')
if st[1] ~= 'running' or st[2] ~= ARGV[3] then return {'lost', st[1] or 'missing'} end
local now = now_ms()
ack(st[3])
redis.call('HSET', KEYS[1], 'deliveries', 0)
if st[4] == '1' then
  settle('running', 'cancelled', 'cancelled', 'cancelled by request', now)
  return {'cancelled'}
end
local attempts = tonumber(st[5]) - 1
if attempts < 0 then attempts = 0 end
redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', attempts, 'progress', 0,
           'ready_ms', now, 'updated_ms', now)
redis.call('HDEL', KEYS[1], 'lease')
make_ready(ARGV[1], st[6], true)  -- given back without penalty: first of its tenant's
count('running', 'queued')
return {'queued'}
)lua";

// ARGV: id, group, tenant
constexpr const char* kCancel = R"lua(
local st = redis.call('HMGET', KEYS[1], 'tenant', 'state')
if st[1] ~= ARGV[3] then return 'notfound' end
local now = now_ms()
if st[2] == 'queued' then
  settle('queued', 'cancelled', 'cancelled', 'cancelled by request', now)
  if redis.call('ZREM', KEYS[4], ARGV[1]) == 0 and unready(ARGV[1], ARGV[3]) then
    -- Its ticket leaves the backlog with it: any unread one will do.
    local r = redis.call('XREADGROUP', 'GROUP', ARGV[2], 'swapline-cancel', 'COUNT', 1,
                         'STREAMS', KEYS[2], '>')
    if r then
      local e = r[1][2][1]
      if e[2][1] == 'job' then adopt(e[1], e[2][2]) end
      redis.call('XACK', KEYS[2], ARGV[2], e[1])
    end
  end
elseif st[2] == 'running' then
  redis.call('HSET', KEYS[1], 'cancel', 1, 'updated_ms', now)
end
return 'ok'
)lua";

// Makes retries whose backoff is over ready again.
// ARGV: id (unused), group, limit
constexpr const char* kPromote = R"lua(
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[4], id)
  local st = redis.call('HMGET', job_key(id), 'state', 'tenant')
  if st[1] == 'queued' then make_ready(id, st[2], false) end
end
return #due
)lua";

// A token of a per-tenant rate limit (GCRA: the bucket stores the time, in µs, at
// which it will be full again; each token pushes that time one interval on).
// ARGV: id (unused), group, bucket key, max tokens, window ms
constexpr const char* kRateToken = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[5]) * 1000
local interval = window / tonumber(ARGV[4])
local full_at = tonumber(redis.call('GET', ARGV[3]) or '0')
if full_at < now then full_at = now end
local next_full = full_at + interval
local allowed_at = next_full - window
if allowed_at > now then return {0, math.ceil((allowed_at - now) / 1000)} end
redis.call('SET', ARGV[3], string.format('%d', math.ceil(next_full)), 'PX',
           math.ceil((next_full - now) / 1000))
return {1, 0}
)lua";

struct Script {
  explicit Script(const char* body) : text(std::string(kPrelude) + body) {}
  const std::string text;
  std::mutex mu;
  std::string sha;  // GUARDED_BY(mu); from SCRIPT LOAD
};

std::string Namespace(const std::string& stream) {
  const std::size_t colon = stream.rfind(':');
  if (colon == std::string::npos) return stream + ":";
  return stream.substr(0, colon + 1);
}

Status LeaseLost(const std::string& id, std::string_view state) {
  if (state == "missing") return FailedPrecondition("job " + id + ": lease lost (job is gone)");
  if (state == "running") {
    return FailedPrecondition("job " + id + ": lease lost (taken over by another worker)");
  }
  return FailedPrecondition("job " + id + ": lease lost (job is " + std::string(state) + ")");
}

inline Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

// Milliseconds of a stream id "1712345678901-0".
std::int64_t StreamIdMillis(std::string_view id) {
  return std::strtoll(std::string(id.substr(0, id.find('-'))).c_str(), nullptr, 10);
}

class RedisQueue final : public JobQueue {
 public:
  RedisQueue(const RedisEndpoint& endpoint, const JobQueueOptions& options)
      : options_(options),
        pool_(endpoint, options.io_timeout),
        stream_(endpoint.stream),
        group_(endpoint.group),
        ns_(Namespace(endpoint.stream)),
        counts_key_(stream_ + ":counts"),
        delayed_key_(stream_ + ":delayed"),
        dead_key_(stream_ + ":dead"),
        scan_interval_(std::clamp<std::chrono::milliseconds>(options.lease / 4,
                                                             std::chrono::milliseconds(5),
                                                             std::chrono::milliseconds(1000))) {}

  Status Init() {
    return WithConn<Status>([&](RedisConnection& c) { return EnsureGroup(c); });
  }

  std::string Describe() const override { return pool_.endpoint().Describe(); }
  const JobQueueOptions& options() const override { return options_; }

  Result<JobRecord> Submit(const JobSpec& spec, int max_active_jobs) override {
    SWAPLINE_RETURN_IF_ERROR(spec.Validate(/*require_identity=*/true));
    SWAPLINE_ASSIGN_OR_RETURN(
        Reply r, RunScript(submit_, spec.id,
                           {spec.tenant, spec.ToJson().dump(), std::to_string(spec.max_attempts),
                            TenantKey(spec.tenant), std::to_string(std::max(0, max_active_jobs))}));
    const std::string_view outcome = r.view().str();
    if (outcome == "taken") return FailedPrecondition("job id " + spec.id + " is already taken");
    if (outcome == "full") return ActiveJobsLimitError(spec.tenant, max_active_jobs);
    return Get(spec.tenant, spec.id);
  }

  Result<std::optional<Lease>> Claim(const std::string& worker_id,
                                     std::chrono::milliseconds wait) override {
    if (worker_id.empty()) return InvalidArgument("worker id must not be empty");
    const auto deadline = std::chrono::steady_clock::now() + std::max(wait, std::chrono::milliseconds(0));
    while (true) {
      const auto now = std::chrono::steady_clock::now();
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      const auto block = std::clamp(left, std::chrono::milliseconds(0),
                                    std::min(options_.poll_interval, options_.io_timeout / 2));
      SWAPLINE_ASSIGN_OR_RETURN(Step step, WithConn<Result<Step>>([&](RedisConnection& c) {
                                  return ClaimStep(c, worker_id, block);
                                }));
      if (step.lease) return std::move(step.lease);
      if (step.again) continue;
      if (std::chrono::steady_clock::now() >= deadline) return std::optional<Lease>();
    }
  }

  Result<RenewResult> Renew(const Lease& lease) override {
    SWAPLINE_ASSIGN_OR_RETURN(
        Reply r, RunScript(renew_, lease.job_id(),
                           {lease.token, lease.worker_id, std::to_string(options_.lease.count())}));
    const ReplyView v = r.view();
    if (v[0].str() != "ok") return LeaseLost(lease.job_id(), v[1].str());
    RenewResult out;
    out.cancel_requested = v[1].str() == "1";
    out.expires = FromMillis(v[2].integer());
    return out;
  }

  Status Progress(const Lease& lease, double fraction) override {
    if (!(fraction >= 0)) fraction = 0;
    if (fraction > 1) fraction = 1;
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", fraction);
    SWAPLINE_ASSIGN_OR_RETURN(Reply r, RunScript(progress_, lease.job_id(), {lease.token, buf}));
    if (r.view()[0].str() != "ok") return LeaseLost(lease.job_id(), r.view()[1].str());
    return Status::Ok();
  }

  Status Complete(const Lease& lease, const std::string& result_uri) override {
    if (result_uri.empty()) return InvalidArgument("result URI must not be empty");
    SWAPLINE_ASSIGN_OR_RETURN(Reply r,
                              RunScript(complete_, lease.job_id(), {lease.token, result_uri}));
    if (r.view()[0].str() != "ok") return LeaseLost(lease.job_id(), r.view()[1].str());
    return Status::Ok();
  }

  Status Fail(const Lease& lease, const Status& error, bool retryable) override {
    const JobError err = JobError::FromStatus(error.ok() ? Internal("failed without an error") : error);
    SWAPLINE_ASSIGN_OR_RETURN(
        Reply r, RunScript(fail_, lease.job_id(),
                           {lease.token, err.code, err.message, retryable ? "1" : "0",
                            std::to_string(options_.retry_backoff_initial.count()),
                            std::to_string(options_.retry_backoff_max.count())}));
    if (r.view()[0].str() == "lost") return LeaseLost(lease.job_id(), r.view()[1].str());
    return Status::Ok();
  }

  Status Release(const Lease& lease) override {
    SWAPLINE_ASSIGN_OR_RETURN(Reply r, RunScript(release_, lease.job_id(), {lease.token}));
    if (r.view()[0].str() == "lost") return LeaseLost(lease.job_id(), r.view()[1].str());
    return Status::Ok();
  }

  Result<JobRecord> Cancel(const std::string& tenant, const std::string& id) override {
    if (!IsValidJobId(id)) return NotFound("no job " + id);
    SWAPLINE_ASSIGN_OR_RETURN(Reply r, RunScript(cancel_, id, {tenant}));
    if (r.view().str() != "ok") return NotFound("no job " + id);
    return Get(tenant, id);
  }

  Result<JobRecord> Get(const std::string& tenant, const std::string& id) override {
    if (!IsValidJobId(id)) return NotFound("no job " + id);
    SWAPLINE_ASSIGN_OR_RETURN(Reply r, WithConn<Result<Reply>>([&](RedisConnection& c) {
                                return c.Command({"HGETALL", JobKey(id)});
                              }));
    if (r.is_error()) return Internal("HGETALL: " + std::string(r.view().str()));
    Result<std::optional<JobRecord>> rec = ParseRecord(id, r.view());
    if (!rec.ok()) return rec.status();
    if (!rec->has_value() || (*rec)->tenant() != tenant) return NotFound("no job " + id);
    return std::move(**rec);
  }

  Result<ListPage> List(const std::string& tenant, const ListOptions& options) override {
    if (!options.cursor.empty() && !IsValidJobId(options.cursor)) {
      return InvalidArgument("cursor: not a cursor from a previous page");
    }
    const int limit = std::clamp(options.limit, 1, 1000);
    const std::string index = TenantKey(tenant);
    std::string max = options.cursor.empty() ? "+" : "(" + options.cursor;
    ListPage page;
    int scanned = 0;
    const int scan_cap = std::max(limit * 10, 1000);
    const int batch = std::min(limit + 1, 200);
    while (true) {
      SWAPLINE_ASSIGN_OR_RETURN(Reply ids, WithConn<Result<Reply>>([&](RedisConnection& c) {
                                  return c.Command({"ZREVRANGEBYLEX", index, max, "-", "LIMIT",
                                                    "0", std::to_string(batch)});
                                }));
      if (ids.is_error()) return Internal("ZREVRANGEBYLEX: " + std::string(ids.view().str()));
      const ReplyView idv = ids.view();
      if (idv.size() == 0) return page;  // exhausted: no next cursor
      std::vector<std::vector<std::string>> cmds;
      for (std::size_t i = 0; i < idv.size(); ++i) cmds.push_back({"HGETALL", JobKey(std::string(idv[i].str()))});
      SWAPLINE_ASSIGN_OR_RETURN(std::vector<Reply> recs,
                                WithConn<Result<std::vector<Reply>>>([&](RedisConnection& c) {
                                  return c.Pipeline(cmds);
                                }));
      for (std::size_t i = 0; i < idv.size(); ++i) {
        const std::string id(idv[i].str());
        if (static_cast<int>(page.jobs.size()) == limit) {
          // One more exists past a full page.
          page.next_cursor = page.jobs.back().id();
          return page;
        }
        ++scanned;
        max = "(" + id;
        Result<std::optional<JobRecord>> rec = ParseRecord(id, recs[i].view());
        if (!rec.ok()) return rec.status();
        if (!rec->has_value()) {
          // Expired after the retention period: drop it from the index too.
          (void)WithConn<Result<Reply>>([&](RedisConnection& c) { return c.Command({"ZREM", index, id}); });
          continue;
        }
        if ((*rec)->tenant() != tenant) continue;
        if (options.state && (*rec)->state != *options.state) continue;
        page.jobs.push_back(std::move(**rec));
      }
      if (static_cast<int>(idv.size()) < batch) return page;  // exhausted
      if (scanned >= scan_cap) {
        page.next_cursor = max.substr(1);  // resume after the last scanned id
        return page;
      }
    }
  }

  Result<RateDecision> TakeRateToken(const std::string& tenant, const RateLimit& limit) override {
    if (limit.max < 1 || limit.window.count() < 1) return InvalidArgument("rate limit " + limit.name + ": max and window must be positive");
    SWAPLINE_ASSIGN_OR_RETURN(
        Reply r, RunScript(rate_token_, "",
                           {stream_ + ":rate:" + limit.name + ":" + tenant, std::to_string(limit.max),
                            std::to_string(limit.window.count())}));
    RateDecision d;
    d.allowed = r.view()[0].integer() == 1;
    d.retry_after = std::chrono::milliseconds(r.view()[1].integer());
    return d;
  }

  Result<QueueStats> Stats() override {
    SWAPLINE_ASSIGN_OR_RETURN(std::vector<Reply> r,
                              WithConn<Result<std::vector<Reply>>>([&](RedisConnection& c) {
                                return c.Pipeline({{"HGETALL", counts_key_},
                                                   {"ZCARD", delayed_key_},
                                                   {"XINFO", "GROUPS", stream_},
                                                   {"XLEN", dead_key_},
                                                   {"XPENDING", stream_, group_}});
                              }));
    QueueStats st;
    const ReplyView counts = r[0].view();
    for (std::size_t i = 0; i + 1 < counts.size(); i += 2) {
      Result<JobState> s = ParseJobState(counts[i].str());
      if (s.ok()) st.by_state[static_cast<int>(*s)] = std::max<std::int64_t>(0, counts[i + 1].integer());
    }
    st.delayed = r[1].view().integer();
    st.ready = std::max<std::int64_t>(0, st.count(JobState::kQueued) - st.delayed);
    st.dead_letter = r[3].view().integer();
    st.in_flight = r[4].view().is_array() ? r[4].view()[0].integer() : 0;
    st.lag = 0;
    std::string last_delivered;
    const ReplyView groups = r[2].view();
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const ReplyView info = groups[g];
      std::map<std::string, ReplyView> fields;
      for (std::size_t i = 0; i + 1 < info.size(); i += 2) fields.emplace(std::string(info[i].str()), info[i + 1]);
      if (fields.count("name") == 0 || fields.at("name").str() != group_) continue;
      if (fields.count("lag") != 0) st.lag = fields.at("lag").is_nil() ? -1 : fields.at("lag").integer();
      if (fields.count("last-delivered-id") != 0) last_delivered = std::string(fields.at("last-delivered-id").str());
    }
    if (!last_delivered.empty() && st.lag != 0) {
      SWAPLINE_ASSIGN_OR_RETURN(Reply first, WithConn<Result<Reply>>([&](RedisConnection& c) {
                                  return c.Command({"XRANGE", stream_, "(" + last_delivered, "+",
                                                    "COUNT", "1"});
                                }));
      if (first.view().size() == 1) {
        const std::int64_t born = StreamIdMillis(first.view()[0][0].str());
        const std::int64_t now = ToMillis(Clock::now());
        st.oldest_ready_age = std::chrono::milliseconds(std::max<std::int64_t>(0, now - born));
      }
    }
    return st;
  }

 private:
  struct Step {
    std::optional<Lease> lease;
    bool again = false;  // something was settled or skipped: look again at once
  };

  std::string JobKey(const std::string& id) const { return ns_ + "job:" + id; }
  std::string TenantKey(const std::string& tenant) const { return ns_ + "tenant:" + tenant + ":jobs"; }

  // Runs fn(connection). A transport failure on a pooled connection (it may have
  // gone stale: Redis restarted) is retried once on a fresh connection.
  template <typename R, typename Fn>
  R WithConn(Fn&& fn) {
    for (int attempt = 0;; ++attempt) {
      Result<RedisPool::Handle> h = pool_.Acquire();
      if (!h.ok()) return R(h.status());
      R r = fn(**h);
      if (!StatusOf(r).ok() && StatusOf(r).code() == Code::kUnavailable && (*h)->broken() &&
          h->reused() &&
          attempt == 0) {
        continue;
      }
      return r;
    }
  }

  Status EnsureGroup(RedisConnection& c) {
    SWAPLINE_ASSIGN_OR_RETURN(Reply r, c.Command({"XGROUP", "CREATE", stream_, group_, "0", "MKSTREAM"}));
    if (r.is_error() && !r.ErrorStartsWith("BUSYGROUP")) {
      return Internal("cannot create consumer group " + group_ + " on " + stream_ + ": " +
                      std::string(r.view().str()));
    }
    return Status::Ok();
  }

  Result<Reply> Eval(RedisConnection& c, Script& script, const std::string& id,
                     const std::vector<std::string>& args) {
    std::string sha;
    {
      std::lock_guard<std::mutex> lock(script.mu);
      sha = script.sha;
    }
    if (sha.empty()) {
      SWAPLINE_ASSIGN_OR_RETURN(Reply loaded, c.Command({"SCRIPT", "LOAD", script.text}));
      if (loaded.is_error()) return Internal("SCRIPT LOAD: " + std::string(loaded.view().str()));
      sha = std::string(loaded.view().str());
      std::lock_guard<std::mutex> lock(script.mu);
      script.sha = sha;
    }
    std::vector<std::string> cmd = {"EVALSHA", sha, "5", JobKey(id), stream_, counts_key_,
                                    delayed_key_, dead_key_, id, group_};
    cmd.insert(cmd.end(), args.begin(), args.end());
    cmd.push_back(ns_);
    cmd.push_back(std::to_string(std::max<std::int64_t>(0, options_.retention.count())));
    cmd.push_back(std::to_string(std::max<std::int64_t>(1, options_.dead_letter_max)));
    SWAPLINE_ASSIGN_OR_RETURN(Reply r, c.Command(cmd));
    if (r.ErrorStartsWith("NOSCRIPT")) {  // Redis restarted: scripts are gone
      cmd[0] = "EVAL";
      cmd[1] = script.text;
      SWAPLINE_ASSIGN_OR_RETURN(r, c.Command(cmd));
    }
    if (r.is_error()) return Internal("job queue script failed: " + std::string(r.view().str()));
    return r;
  }

  Result<Reply> RunScript(Script& script, const std::string& id, const std::vector<std::string>& args) {
    return WithConn<Result<Reply>>([&](RedisConnection& c) { return Eval(c, script, id, args); });
  }

  // Interprets TAKE's reply for entry `entry` (`id`: as JobOfEntry).
  Result<Step> Take(RedisConnection& c, const std::string& worker_id, const std::string& id,
                    const std::string& entry) {
    const std::string token = RandomText(kHexDigits, 32);
    SWAPLINE_ASSIGN_OR_RETURN(
        Reply r, Eval(c, take_, id,
                      {entry, worker_id, token, std::to_string(options_.lease.count()),
                       std::to_string(options_.max_deliveries)}));
    const ReplyView v = r.view();
    Step step;
    if (v[0].str() != "ok") {
      step.again = true;
      return step;
    }
    auto spec_json = nlohmann::json::parse(v[1].str(), nullptr, false);
    Result<JobSpec> spec = JobSpec::FromJson(spec_json);
    if (!spec.ok()) return Internal("entry " + entry + ": stored spec is invalid: " + spec.status().message());
    Lease lease;
    lease.spec = std::move(spec).value();
    lease.attempt = static_cast<int>(v[2].integer());
    lease.delivery = static_cast<int>(v[3].integer());
    lease.worker_id = worker_id;
    lease.token = token;
    lease.expires = FromMillis(v[4].integer());
    step.lease = std::move(lease);
    return step;
  }

  // One round of claiming: promote due retries, take over one expired entry, read
  // one new entry (blocking up to `block`).
  Result<Step> ClaimStep(RedisConnection& c, const std::string& worker_id,
                         std::chrono::milliseconds block) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_promote_.load()) {
      next_promote_.store(now + options_.poll_interval);
      SWAPLINE_RETURN_IF_ERROR(Eval(c, promote_, "", {"100"}).status());
      MaybeMaintain(c);
    }
    bool scan = false;
    std::string cursor;
    {
      std::lock_guard<std::mutex> lock(scan_mu_);
      if (scan_cursor_ != "0-0" || now >= next_scan_) {
        scan = true;
        cursor = scan_cursor_;
      }
    }
    if (scan) {
      SWAPLINE_ASSIGN_OR_RETURN(
          Reply r, c.Command({"XAUTOCLAIM", stream_, group_, worker_id,
                              std::to_string(options_.lease.count()), cursor, "COUNT", "1"}));
      if (r.ErrorStartsWith("NOGROUP")) {
        SWAPLINE_RETURN_IF_ERROR(EnsureGroup(c));
        return Step{std::nullopt, true};
      }
      if (r.is_error()) return Internal("XAUTOCLAIM: " + std::string(r.view().str()));
      const ReplyView v = r.view();
      {
        std::lock_guard<std::mutex> lock(scan_mu_);
        scan_cursor_ = std::string(v[0].str());
        if (scan_cursor_ == "0-0") next_scan_ = now + scan_interval_;
      }
      const ReplyView entries = v[1];
      for (std::size_t i = 0; i < entries.size(); ++i) {
        const ReplyView e = entries[i];
        const std::string entry(e[0].str());
        const std::optional<std::string> id = JobOfEntry(e[1]);
        if (!id) {  // not one of ours: acknowledge so it stops circulating
          SWAPLINE_RETURN_IF_ERROR(c.Command({"XACK", stream_, group_, entry}).status());
          continue;
        }
        SWAPLINE_ASSIGN_OR_RETURN(Step step, Take(c, worker_id, *id, entry));
        if (step.lease) return step;
      }
    }
    std::vector<std::string> cmd = {"XREADGROUP", "GROUP", group_, worker_id, "COUNT", "1"};
    if (block.count() > 0) {
      cmd.push_back("BLOCK");
      cmd.push_back(std::to_string(block.count()));
    }
    cmd.insert(cmd.end(), {"STREAMS", stream_, ">"});
    SWAPLINE_ASSIGN_OR_RETURN(Reply r, c.Command(cmd));
    if (r.ErrorStartsWith("NOGROUP")) {
      SWAPLINE_RETURN_IF_ERROR(EnsureGroup(c));
      return Step{std::nullopt, true};
    }
    if (r.is_error()) return Internal("XREADGROUP: " + std::string(r.view().str()));
    const ReplyView v = r.view();
    if (v.is_nil() || v.size() == 0) return Step{};
    const ReplyView entries = v[0][1];
    Step out;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const ReplyView e = entries[i];
      const std::string entry(e[0].str());
      const std::optional<std::string> id = JobOfEntry(e[1]);
      if (!id) {
        SWAPLINE_RETURN_IF_ERROR(c.Command({"XACK", stream_, group_, entry}).status());
        out.again = true;
        continue;
      }
      SWAPLINE_ASSIGN_OR_RETURN(Step step, Take(c, worker_id, *id, entry));
      if (step.lease) return step;
      out.again = true;
    }
    return out;
  }

  // Every few seconds: trim acknowledged history (never unread or pending entries)
  // and forget consumers that hold nothing and were idle for an hour.
  void MaybeMaintain(RedisConnection& c) {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(scan_mu_);
      if (now < next_maintain_) return;
      next_maintain_ = now + std::chrono::seconds(10);
    }
    Result<std::vector<Reply>> r = c.Pipeline({{"XPENDING", stream_, group_}, {"XINFO", "GROUPS", stream_}});
    if (!r.ok()) return;
    std::string min_id;
    const ReplyView pending = (*r)[0].view();
    if (pending.is_array() && pending[0].integer() > 0) min_id = std::string(pending[1].str());
    const ReplyView groups = (*r)[1].view();
    if (groups.size() != 1) return;  // another group reads this stream: leave it alone
    std::string last_delivered;
    for (std::size_t i = 0; i + 1 < groups[0].size(); i += 2) {
      if (groups[0][i].str() == "last-delivered-id") last_delivered = std::string(groups[0][i + 1].str());
    }
    if (min_id.empty()) min_id = last_delivered;
    if (!min_id.empty() && min_id != "0-0") {
      (void)c.Command({"XTRIM", stream_, "MINID", min_id});
    }
    Result<Reply> consumers = c.Command({"XINFO", "CONSUMERS", stream_, group_});
    if (!consumers.ok()) return;
    const ReplyView cv = consumers->view();
    for (std::size_t k = 0; k < cv.size(); ++k) {
      std::string name;
      std::int64_t pending_count = -1, idle = 0;
      for (std::size_t i = 0; i + 1 < cv[k].size(); i += 2) {
        const std::string_view key = cv[k][i].str();
        if (key == "name") name = std::string(cv[k][i + 1].str());
        if (key == "pending") pending_count = cv[k][i + 1].integer();
        if (key == "idle") idle = cv[k][i + 1].integer();
      }
      if (!name.empty() && pending_count == 0 && idle > 3'600'000) {
        (void)c.Command({"XGROUP", "DELCONSUMER", stream_, group_, name});
      }
    }
  }

  // nullopt when the hash does not exist.
  static Result<std::optional<JobRecord>> ParseRecord(const std::string& id, const ReplyView& v) {
    if (!v.is_array() || v.size() == 0) return std::optional<JobRecord>();
    std::map<std::string_view, std::string_view> f;
    for (std::size_t i = 0; i + 1 < v.size(); i += 2) f.emplace(v[i].str(), v[i + 1].str());
    auto get = [&](std::string_view k) -> std::string_view {
      auto it = f.find(k);
      return it == f.end() ? std::string_view() : it->second;
    };
    JobRecord rec;
    auto spec_json = nlohmann::json::parse(get("spec"), nullptr, false);
    Result<JobSpec> spec = JobSpec::FromJson(spec_json);
    if (!spec.ok()) return Internal("job " + id + ": stored spec is invalid: " + spec.status().message());
    rec.spec = std::move(spec).value();
    Result<JobState> state = ParseJobState(get("state"));
    if (!state.ok()) return Internal("job " + id + ": stored state is invalid");
    rec.state = *state;
    rec.progress = std::strtod(std::string(get("progress")).c_str(), nullptr);
    rec.attempts = static_cast<int>(std::strtol(std::string(get("attempts")).c_str(), nullptr, 10));
    if (f.count("result_uri") != 0) rec.result_uri = std::string(get("result_uri"));
    if (f.count("error_code") != 0) {
      rec.error = JobError{std::string(get("error_code")), std::string(get("error_message"))};
    }
    rec.cancel_requested = rec.state == JobState::kRunning && get("cancel") == "1";
    rec.created = FromMillis(std::strtoll(std::string(get("created_ms")).c_str(), nullptr, 10));
    rec.updated = FromMillis(std::strtoll(std::string(get("updated_ms")).c_str(), nullptr, 10));
    return std::optional<JobRecord>(std::move(rec));
  }

  const JobQueueOptions options_;
  RedisPool pool_;
  const std::string stream_;
  const std::string group_;
  const std::string ns_;
  const std::string counts_key_;
  const std::string delayed_key_;
  const std::string dead_key_;
  const std::chrono::milliseconds scan_interval_;

  Script submit_{kSubmit}, take_{kTake}, renew_{kRenew}, progress_{kProgress},
      complete_{kComplete}, fail_{kFail}, release_{kRelease}, cancel_{kCancel},
      promote_{kPromote}, rate_token_{kRateToken};

  std::atomic<std::chrono::steady_clock::time_point> next_promote_{};
  std::mutex scan_mu_;
  std::string scan_cursor_ = "0-0";                   // GUARDED_BY(scan_mu_)
  std::chrono::steady_clock::time_point next_scan_{};  // GUARDED_BY(scan_mu_)
  std::chrono::steady_clock::time_point next_maintain_{};  // GUARDED_BY(scan_mu_)
};

}  // namespace

Result<std::unique_ptr<JobQueue>> OpenRedisQueue(const RedisEndpoint& endpoint,
                                                 const JobQueueOptions& options) {
  // hiredis writes with write(2): a server that went away must not kill the
  // process with SIGPIPE. Only replaces the default action.
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
  auto queue = std::make_unique<RedisQueue>(endpoint, options);
  SWAPLINE_RETURN_IF_ERROR(queue->Init().WithContext("opening queue " + endpoint.Describe()));
  return std::unique_ptr<JobQueue>(std::move(queue));
}

}  // namespace swapline::job::internal
