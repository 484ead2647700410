// The jail's seccomp filter: each refused system call fails with EPERM (clone3 with ENOSYS)
// inside the jail, while the same probe outside the jail gets another answer (the positive
// control: the probe can tell filtered from unfiltered); foreign ABIs kill the process; and
// ordinary workloads keep working under the filter.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <string>

#include "support/engine_fixture.h"

namespace pyexec::testing {
namespace {

nlohmann::json ResultOf(const service::Execution& run) {
  EXPECT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.outcome.traceback
                                  << run.stderr_data;
  return nlohmann::json::parse(run.outcome.result_json, nullptr, /*allow_exceptions=*/false);
}

std::string WithParams(const std::string& params, const std::string& payload) {
  return "PARAMS = " + params + "\n" + ReadPayload(payload);
}

TEST(Seccomp, DeniedCalls_FailWithEpermInTheJailAndNotOutside) {
  JailedEngine();  // both engines exist before any thread
  UnjailedEngine();
  const std::string probe = ReadPayload("seccomp_denied_calls_fail.py");
  const nlohmann::json jailed = ResultOf(JailedEngine().Run(probe, DefaultLimits()).value());
  const nlohmann::json control = ResultOf(RunUnjailed(probe));
  ASSERT_TRUE(jailed.is_object());
  ASSERT_TRUE(control.is_object());
  for (const auto& [name, error] : jailed.items()) {
    const int expected = name == "clone3" ? ENOSYS : EPERM;
    EXPECT_EQ(error.get<int>(), expected) << name << " is not filtered";
    EXPECT_NE(control[name].get<int>(), expected)
        << name
        << ": outside the jail the probe gets the filter's answer too, so it cannot "
           "tell whether the filter is there";
  }
  EXPECT_GE(jailed.size(), 30u);
}

TEST(Seccomp, X32SystemCall_KillsTheProcess) {
  JailedEngine();
  const std::string probe = WithParams(R"({"abi": "x32"})", "seccomp_foreign_abi_is_killed.py");
  const service::Execution jailed = JailedEngine().Run(probe, DefaultLimits()).value();
  EXPECT_EQ(VerdictOf(jailed), "killed") << jailed.outcome.message;
  EXPECT_EQ(jailed.outcome.signal, SIGSYS);
  // Control: without the filter the call simply returns.
  const service::Execution control = RunUnjailed(probe);
  EXPECT_EQ(VerdictOf(control), "ok") << control.outcome.message;
}

TEST(Seccomp, I386SystemCall_KillsTheProcess) {
  JailedEngine();
  const std::string probe = WithParams(R"({"abi": "i386"})", "seccomp_foreign_abi_is_killed.py");
  const service::Execution jailed = JailedEngine().Run(probe, DefaultLimits()).value();
  EXPECT_EQ(VerdictOf(jailed), "killed") << jailed.outcome.message;
  EXPECT_EQ(jailed.outcome.signal, SIGSYS);
  // Control: without the filter int 0x80 runs (or faults without IA32 emulation), not SIGSYS.
  const service::Execution control = RunUnjailed(probe);
  EXPECT_NE(control.outcome.signal, SIGSYS) << control.outcome.message;
}

// What the runner does once its result is written when executions are few
// (sandbox::kStartIdleExit): the one scheduling change the filter allows, and only where each
// execution is a CPU group of its own (Enforcement::idle_exit); elsewhere it is denied too.
TEST(Seccomp, SchedIdleForItself_IsAllowedExactlyWhereExecutionsOwnTheirCpuGroup) {
  service::Engine& engine = JailedEngine();
  const service::Execution run = engine
                                     .Run(R"py(
import os
def main():
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except PermissionError:
        return "denied"
    return "idle"
)py",
                                          DefaultLimits())
                                     .value();
  EXPECT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  EXPECT_EQ(run.outcome.result_json, engine.enforcement().idle_exit ? R"("idle")" : R"("denied")");
}

TEST(Seccomp, OrdinaryWorkloads_KeepWorkingUnderTheFilter) {
  const service::Execution run = JailedEngine()
                                     .Run(R"py(
import datetime, gzip, io, json, multiprocessing, sqlite3, subprocess, threading, zlib
import numpy as np, pandas as pd
def square(x):
    return x * x
def main():
    a = np.random.rand(60, 60)
    out = {
        "inv": bool(np.allclose(a @ np.linalg.inv(a), np.eye(60), atol=1e-6)),
        "svd": len(np.linalg.svd(a)[1]),
        "fft": len(np.fft.fft(np.arange(64))),
    }
    df = pd.DataFrame({"k": [i % 3 for i in range(300)], "v": range(300)})
    out["groupby"] = df.groupby("k").v.sum().tolist()
    out["merge"] = len(df.merge(df.head(10), on="k"))
    df.to_csv("/tmp/d.csv", index=False)
    out["csv"] = len(pd.read_csv("/tmp/d.csv"))
    db = sqlite3.connect("/tmp/d.db")
    db.execute("create table t(x)"); db.execute("insert into t values (1)"); db.commit()
    out["sqlite"] = db.execute("select count(*) from t").fetchone()[0]
    out["zlib"] = len(zlib.decompress(zlib.compress(b"x" * 1000)))
    out["gzip"] = len(gzip.decompress(gzip.compress(b"y" * 1000)))
    out["json"] = json.loads(json.dumps({"a": [1]}))["a"][0]
    out["date"] = datetime.date(2024, 1, 1).isoformat()
    box = []
    t = threading.Thread(target=lambda: box.append(1)); t.start(); t.join()
    out["thread"] = box
    out["true"] = subprocess.run(["/bin/true"]).returncode
    with multiprocessing.Pool(2) as pool:
        out["pool"] = pool.map(square, [1, 2, 3])
    return out
)py",
                                          DefaultLimits())
                                     .value();
  const nlohmann::json result = ResultOf(run);
  ASSERT_TRUE(result.is_object());
  EXPECT_EQ(result["inv"], true);
  EXPECT_EQ(result["svd"], 60);
  EXPECT_EQ(result["fft"], 64);
  EXPECT_EQ(result["groupby"], nlohmann::json::parse("[14850,14950,15050]"));
  EXPECT_EQ(result["csv"], 300);
  EXPECT_EQ(result["sqlite"], 1);
  EXPECT_EQ(result["zlib"], 1000);
  EXPECT_EQ(result["gzip"], 1000);
  EXPECT_EQ(result["thread"], nlohmann::json::parse("[1]"));
  EXPECT_EQ(result["true"], 0);
  EXPECT_EQ(result["pool"], nlohmann::json::parse("[1,4,9]"));
}

}  // namespace
}  // namespace pyexec::testing
