// Test support: one Engine per test process (started on first use, default configuration),
// helpers to run a script or a payload file through it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "service/engine.h"

namespace pyexec::testing {

// The engine shared by the tests of this process: default configuration (jailed), default
// limits, cgroups where available.
service::Engine& SharedEngine();

// The jailed engine: SharedEngine(), named for tests whose point is the jail.
service::Engine& JailedEngine();

// A jailed engine without a warm pool: every execution's child is made for it, so that nothing
// but running executions has processes or cgroups (tests that check what is left after a run).
service::Engine& EngineWithoutPool();

// The default limits, for tests that lower one of them.
service::Limits DefaultLimits();

// Runs `script` on the shared engine; fails the test (and returns an empty Execution) on an
// infrastructure error. Returns once the execution is torn down completely (its cgroup removed),
// as do the other Run* helpers: what a test finds afterwards is what the execution left.
service::Execution RunScript(std::string_view script,
                             const service::Limits& limits = DefaultLimits());

// An engine with the jail explicitly off, whatever the default: the positive control of jail
// and seccomp tests (the same probe must detect the breach without the jail).
service::Engine& UnjailedEngine();

// A jailed engine with exactly the test-only relaxations `relaxations` (sandbox::kPolicyTestNo*
// bits), created on first use per value and kept: the positive control of a control that
// another control would otherwise hide (seccomp refuses unshare before the user namespace limit
// could).
service::Engine& RelaxedEngine(uint32_t relaxations);

// Runs `script` on UnjailedEngine(); fails the test on an infrastructure error.
service::Execution RunUnjailed(std::string_view script,
                               const service::Limits& limits = DefaultLimits());

// examples/reference.py: the reference service's README example, which must return
// {"status": 5} and print "Hello\n".
std::string ReferenceExample();

// The text of tests/payloads/<name> (e.g. "fork_bomb.py").
std::string ReadPayload(const std::string& name);

// tests/payloads/<name>, preceded by `PARAMS = <params>` (the payloads read their arguments
// from it).
std::string Payload(const std::string& name,
                    const nlohmann::json& params = nlohmann::json::object());

// Waits (bounded) until `path` exists: how a test learns that a script in flight is running
// (the script creates the file). False when `limit` passed first.
bool AwaitFile(const std::string& path, std::chrono::seconds limit);

// Waits (bounded) until `count` processes descended from `ancestor` (a zygote, or a pyexec that
// runs one) have `/tmp/<name>` in their own root: how a test learns that jailed scripts in
// flight are running, since a script's /tmp is a private tmpfs (the test, as root, reads it
// through /proc/<pid>/root). Returns their host pids, fewer when `limit` passed first. `name`
// should be unique: pyexec-init's root is the host's.
std::vector<pid_t> AwaitJailMarker(pid_t ancestor, const std::string& name, size_t count,
                                   std::chrono::seconds limit);

// True while `pid` exists and is not a zombie.
bool ProcessRunning(pid_t pid);

// The verdict's name, for readable assertions: EXPECT_EQ(Verdict(run), "ok").
std::string VerdictOf(const service::Execution& execution);

}  // namespace pyexec::testing
