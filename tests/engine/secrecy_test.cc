// The zygote never sees an execution's data: a later execution (or anyone reading the zygote's
// memory) must not find an earlier execution's script or result.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <sstream>
#include <string>

#include "support/engine_fixture.h"
#include "sys/files.h"

namespace pyexec::testing {
namespace {

std::string RandomHex(size_t length) {
  std::random_device device;
  std::string text;
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < length; ++i) {
    text.push_back(kHex[device() % 16]);
  }
  return text;
}

// Mappings larger than this are address-space reservations (AddressSanitizer's shadow, say),
// not data an execution could have left behind; both probes skip them.
constexpr uint64_t kMaxRegionBytes = uint64_t{1} << 30;

// Counts occurrences of `needle` in the readable mappings of `pid`, read in 1 MiB chunks that
// overlap by the needle's length.
size_t CountInMemory(pid_t pid, const std::string& needle) {
  // Through sys::ReadFile: a filebuf throws when the process exits mid-read (ESRCH).
  Result<std::string> maps_text = sys::ReadFile("/proc/" + std::to_string(pid) + "/maps", 16 << 20);
  std::istringstream maps(maps_text.ok() ? *maps_text : std::string());
  const int mem = open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0 || !maps_text.ok()) {
    ADD_FAILURE() << "cannot read the memory of " << pid;
    return 0;
  }
  size_t found = 0;
  std::string line;
  std::string chunk(size_t{1} << 20, '\0');
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range;
    std::string perms;
    fields >> range >> perms;
    if (perms.size() < 2 || perms[0] != 'r' || line.find("[vvar]") != std::string::npos ||
        line.find("[vsyscall]") != std::string::npos) {
      continue;
    }
    const size_t dash = range.find('-');
    const uint64_t begin = std::stoull(range.substr(0, dash), nullptr, 16);
    const uint64_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (end - begin > kMaxRegionBytes) {
      continue;
    }
    // Each chunk overlaps the next by needle.size(); a hit is counted by the chunk it starts
    // in, so one spanning a boundary is counted once.
    const uint64_t step = chunk.size() - needle.size();
    for (uint64_t at = begin; at < end; at += step) {
      const ssize_t got = pread(mem, chunk.data(), std::min<uint64_t>(chunk.size(), end - at),
                                static_cast<off_t>(at));
      if (got <= 0) {
        break;
      }
      const std::string_view view(chunk.data(), static_cast<size_t>(got));
      for (size_t hit = view.find(needle); hit != std::string_view::npos && hit < step;
           hit = view.find(needle, hit + 1)) {
        ++found;
      }
    }
  }
  close(mem);
  return found;
}

// A script that scans its own memory for "PYEXEC-SECRET-<32 hex>" and reports how many
// occurrences hash to `digest` (so the scanning script never holds the secret itself).
std::string ScannerScript(const std::string& digest) {
  return R"(import hashlib, re
DIGEST = ")" +
         digest + R"("
def main():
    marker = ("PYEXEC-" + "SECRET-").encode()
    hits = 0
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("r") or "[vvar]" in line or "[vsyscall]" in line:
                continue
            begin, end = (int(x, 16) for x in fields[0].split("-"))
            if end - begin > (1 << 30):  # reservations, not data
                continue
            step, overlap = 1 << 20, 64
            for at in range(begin, end, step):
                try:
                    mem.seek(at)
                    data = mem.read(min(step + overlap, end - at))
                except OSError:
                    break
                for m in re.finditer(re.escape(marker) + rb"[0-9a-f]{32}", data):
                    if m.start() < step and hashlib.sha256(m.group(0)).hexdigest() == DIGEST:
                        hits += 1
    return hits
)";
}

std::string Sha256Hex(const std::string& text) {
  const service::Execution run =
      RunScript("import hashlib\ndef main():\n    return hashlib.sha256(bytes.fromhex('" + [&] {
        std::string hex;
        static constexpr char kHex[] = "0123456789abcdef";
        for (unsigned char c : text) {
          hex.push_back(kHex[c >> 4]);
          hex.push_back(kHex[c & 15]);
        }
        return hex;
      }() + "')).hexdigest()\n");
  EXPECT_EQ(VerdictOf(run), "ok");
  return run.outcome.result_json.substr(1, 64);
}

TEST(Secrecy, LaterExecutionCannotFindEarlierScriptOrResultInItsMemory) {
  const std::string secret = "PYEXEC-SECRET-" + RandomHex(32);
  const std::string digest = Sha256Hex(secret);
  ASSERT_EQ(digest.size(), 64u);

  // The earlier execution holds the secret in its script and its result.
  const service::Execution earlier =
      RunScript("SECRET = '" + secret + "'\ndef main():\n    return SECRET\n");
  ASSERT_EQ(VerdictOf(earlier), "ok");

  // Positive control: the same scanner does find the secret where it is.
  const service::Execution control =
      RunScript("SECRET = '" + secret + "'\n" + ScannerScript(digest));
  ASSERT_EQ(VerdictOf(control), "ok") << control.outcome.message;
  EXPECT_NE(control.outcome.result_json, "0") << "the scanner cannot see a secret in its memory";

  const service::Execution later = RunScript(ScannerScript(digest));
  ASSERT_EQ(VerdictOf(later), "ok") << later.outcome.message;
  EXPECT_EQ(later.outcome.result_json, "0");
}

TEST(Secrecy, ZygoteMemoryNeverHoldsAScript) {
  const std::string secret = "PYEXEC-SECRET-" + RandomHex(32);
  const service::Execution run =
      RunScript("SECRET = '" + secret + "'\ndef main():\n    return SECRET\n");
  ASSERT_EQ(VerdictOf(run), "ok");
  const pid_t zygote = SharedEngine().zygote_pid();
  // Positive control: the probe finds what the zygote does hold (the runner's source).
  EXPECT_GT(CountInMemory(zygote, "def _find_unserializable("), 0u);
  EXPECT_EQ(CountInMemory(zygote, secret), 0u);
}

}  // namespace
}  // namespace pyexec::testing
