#include "service/outcome.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <array>
#include <nlohmann/json.hpp>
#include <utility>

#include "util/json_text.h"

namespace pyexec::service {
namespace {

constexpr std::array<std::pair<Verdict, std::string_view>, 10> kNames = {{
    {Verdict::kOk, "ok"},
    {Verdict::kSyntaxError, "syntax_error"},
    {Verdict::kMissingMain, "missing_main"},
    {Verdict::kException, "exception"},
    {Verdict::kNotSerializable, "not_serializable"},
    {Verdict::kTimeout, "timeout"},
    {Verdict::kMemoryLimit, "memory_limit"},
    {Verdict::kKilled, "killed"},
    {Verdict::kExit, "exit"},
    {Verdict::kResultTooLarge, "result_too_large"},
}};

std::string Mebibytes(uint64_t bytes) {
  return std::to_string(bytes / (uint64_t{1024} * 1024)) + " MiB";
}

std::string SignalText(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  const char* description = strsignal(sig);
  std::string text = "signal " + std::to_string(sig);
  if (abbrev != nullptr) {
    text +=
        " (SIG" + std::string(abbrev) + (description ? std::string(": ") + description : "") + ")";
  }
  return text;
}

std::string StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<int64_t> IntField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it != object.end() && it->is_number_integer()) {
    return it->get<int64_t>();
  }
  return std::nullopt;
}

// The runner's envelope, if the channel holds a believable one: a one-line flat JSON object
// with a known status. Anything else (a script scribbling on the descriptor) is ignored.
std::optional<nlohmann::json> ParseEnvelope(std::string_view channel, std::string_view* payload) {
  const size_t newline = channel.find('\n');
  if (newline == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view line = channel.substr(0, newline);
  if (!ValidateJson(line, 2).ok()) {
    return std::nullopt;
  }
  nlohmann::json envelope = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!envelope.is_object() || !ParseVerdict(StringField(envelope, "status"))) {
    return std::nullopt;
  }
  *payload = channel.substr(newline + 1);
  return envelope;
}

Outcome FromEnvelope(const nlohmann::json& envelope, std::string_view payload,
                     const Observation& observation) {
  Outcome outcome;
  outcome.verdict = *ParseVerdict(StringField(envelope, "status"));
  outcome.message = StringField(envelope, "message");
  if (outcome.verdict == Verdict::kOk) {
    if (payload.size() > observation.result_limit_bytes) {
      outcome.verdict = Verdict::kResultTooLarge;
      outcome.message = "main() returned " + std::to_string(payload.size()) +
                        " bytes of JSON; the limit is " +
                        std::to_string(observation.result_limit_bytes);
    } else if (Status valid = ValidateJson(payload, kMaxResultDepth); !valid.ok()) {
      outcome.verdict = Verdict::kNotSerializable;
      outcome.message = "the result is not strict JSON: " + valid.error().message;
    } else {
      outcome.result_json = std::string(payload);
    }
    return outcome;
  }
  outcome.exception_type = StringField(envelope, "type");
  outcome.traceback = StringField(envelope, "traceback");
  outcome.path = StringField(envelope, "path");
  outcome.line = IntField(envelope, "line");
  outcome.column = IntField(envelope, "column");
  outcome.exit_code = IntField(envelope, "exit_code");
  if (outcome.verdict == Verdict::kException && !outcome.exception_type.empty()) {
    outcome.message = outcome.exception_type + ": " + outcome.message;
  }
  if (outcome.verdict == Verdict::kMemoryLimit && observation.memory_limit_bytes > 0) {
    outcome.message += " (limit " + Mebibytes(observation.memory_limit_bytes) + ")";
  }
  return outcome;
}

}  // namespace

bool EnvelopeComplete(std::string_view channel) {
  std::string_view payload;
  const std::optional<nlohmann::json> envelope = ParseEnvelope(channel, &payload);
  if (!envelope) {
    return false;
  }
  const std::optional<int64_t> bytes = IntField(*envelope, "bytes");
  return bytes && *bytes >= 0 && static_cast<uint64_t>(*bytes) == payload.size();
}

std::string_view VerdictName(Verdict verdict) {
  for (const auto& [candidate, name] : kNames) {
    if (candidate == verdict) {
      return name;
    }
  }
  return "unknown";
}

std::optional<Verdict> ParseVerdict(std::string_view name) {
  for (const auto& [verdict, candidate] : kNames) {
    if (candidate == name) {
      return verdict;
    }
  }
  return std::nullopt;
}

Outcome Classify(const Observation& observation) {
  Outcome outcome;
  if (observation.timed_out) {
    outcome.verdict = Verdict::kTimeout;
    outcome.message = "the script ran longer than the " +
                      std::to_string(observation.timeout.count()) + " ms timeout";
    return outcome;
  }
  if (observation.result_overflow) {
    outcome.verdict = Verdict::kResultTooLarge;
    outcome.message = "the script wrote more than " +
                      std::to_string(observation.result_limit_bytes) +
                      " bytes on its result channel";
    return outcome;
  }
  if (observation.oom_kills > 0) {
    outcome.verdict = Verdict::kMemoryLimit;
    outcome.message = "the script exceeded its memory limit of " +
                      Mebibytes(observation.memory_limit_bytes) + " and was killed";
    return outcome;
  }
  const int ws = observation.wait_status;
  const bool clean_exit =
      observation.answered_early || (observation.exited && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  std::string_view payload;
  if (clean_exit) {
    if (std::optional<nlohmann::json> envelope =
            ParseEnvelope(observation.result_channel, &payload)) {
      return FromEnvelope(*envelope, payload, observation);
    }
  }
  if (observation.exited && WIFSIGNALED(ws)) {
    const int sig = WTERMSIG(ws);
    const bool cpu_exhausted =
        observation.cpu_seconds_limit > 0 &&
        observation.cpu_used_ns >= observation.cpu_seconds_limit * 1000000000ULL;
    if (sig == SIGXCPU || (sig == SIGKILL && cpu_exhausted)) {
      outcome.verdict = Verdict::kTimeout;
      outcome.message = "the script used more than its " +
                        std::to_string(observation.cpu_seconds_limit) + " s of CPU time";
      return outcome;
    }
    outcome.verdict = Verdict::kKilled;
    outcome.signal = sig;
    outcome.message = "the script was killed by " + SignalText(sig);
    return outcome;
  }
  outcome.verdict = Verdict::kExit;
  outcome.exit_code = observation.exited && WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
  outcome.message = "the script exited with code " + std::to_string(*outcome.exit_code) +
                    " before main() returned";
  return outcome;
}

}  // namespace pyexec::service
