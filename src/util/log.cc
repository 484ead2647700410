#include "util/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <string>

namespace pyexec {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kWarning)};
char g_tag[16] = "pyexec";

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      break;
  }
  return "off";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  for (LogLevel candidate :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError, LogLevel::kOff}) {
    if (text == LevelName(candidate)) {
      *level = candidate;
      return true;
    }
  }
  return false;
}

void SetLogTag(std::string_view tag) {
  const size_t n = std::min(tag.size(), sizeof(g_tag) - 1);
  tag.copy(g_tag, n);
  g_tag[n] = '\0';
}

void Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < g_level.load() || level == LogLevel::kOff) {
    return;
  }
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char stamp[32];
  (void)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line;
  line.reserve(message.size() + 64);
  line += stamp;
  char millis[24];
  (void)snprintf(millis, sizeof(millis), ".%03ldZ", now.tv_nsec / 1000000);
  line += millis;
  line += ' ';
  line += g_tag;
  line += '[';
  line += std::to_string(getpid());
  line += "] ";
  line += LevelName(level);
  line += ": ";
  line += message;
  line += '\n';
  // One write per line so that concurrent writers do not interleave within a line.
  [[maybe_unused]] ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace pyexec
