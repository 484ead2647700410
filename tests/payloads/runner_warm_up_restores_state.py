# Runs the runner's warm-up in this process, as a pool child does before its script arrives,
# and returns what it changed of the state a script can see: modules, builtins, __main__,
# argv, linecache, uncollected garbage. Three runs: as it is; with its last step failing
# (the warm-up must still undo itself); and, the positive control, with its undoing skipped.
import builtins
import gc
import linecache
import sys

import pyexec_runner


def state():
    return {
        "modules": sorted(sys.modules),
        "builtins": sorted(vars(builtins)),
        "main": id(sys.modules.get("__main__")),
        "argv": list(sys.argv),
        "linecache": sorted(linecache.cache),
    }


def changes(warm_up):
    gc.collect()
    before = state()
    gc.disable()
    try:
        returned = warm_up()
        garbage = gc.collect()
    finally:
        gc.enable()
    after = state()
    return {
        "returned": returned,
        "changed": sorted(key for key in before if before[key] != after[key]),
        "garbage": garbage,
    }


def failing_answer(envelope, payload):
    raise RuntimeError("the warm-up's last step failed")


def main():
    # Values the warm-up's own would differ from (a script's run has set argv and main.py's
    # lines as the warm-up sets them), so that the control can see them change.
    sys.argv = ["probe"]
    linecache.cache.pop("main.py", None)
    as_is = changes(pyexec_runner._warm_up)
    answer = pyexec_runner._answer
    pyexec_runner._answer = failing_answer
    try:
        failed = changes(pyexec_runner._warm_up)
    finally:
        pyexec_runner._answer = answer
    undo = pyexec_runner._undo_warm_up
    pyexec_runner._undo_warm_up = lambda *args: None
    try:
        control = changes(pyexec_runner._warm_up)
    finally:
        pyexec_runner._undo_warm_up = undo
    return {"as_is": as_is, "failed": failed, "control": control}
