# Leaves a trace of itself everywhere a reused process would carry it to the next script: a
# file in /tmp, an environment variable, an attribute on builtins, a module in sys.modules, a
# changed working directory. Returns what it found of an earlier script's traces first
# (PARAMS["token"] names this script's own).
import builtins
import os
import sys
import types


def look():
    return {
        "tmp_files": sorted(name for name in os.listdir("/tmp") if name.startswith("pool-trace-")),
        "environ": sorted(key for key in os.environ if key.startswith("POOL_TRACE_")),
        "builtins": sorted(name for name in dir(builtins) if name.startswith("pool_trace_")),
        "modules": sorted(name for name in sys.modules if name.startswith("pool_trace_")),
        "cwd": os.getcwd(),
    }


def main():
    before = look()
    token = PARAMS["token"]
    with open("/tmp/pool-trace-" + token, "w") as trace:
        trace.write(token)
    os.environ["POOL_TRACE_" + token] = token
    setattr(builtins, "pool_trace_" + token, token)
    sys.modules["pool_trace_" + token] = types.ModuleType("pool_trace_" + token)
    os.makedirs("/tmp/pool-dir", exist_ok=True)
    os.chdir("/tmp/pool-dir")
    # The positive control: the same probe sees this script's own traces.
    return {"before": before, "after": look()}
