# Looks for what the runner's warm-up (run in a pool child before its request) could leave
# behind: another module's names in __main__, a linecache entry, argv, cyclic garbage, output.
# Returns what it found before and after leaving such traces itself (the positive control).
import gc
import linecache
import sys
import types

OWN_NAMES = ["OWN_NAMES", "gc", "leave_traces", "linecache", "look", "main", "sys", "types"]


def look():
    main_module = sys.modules["__main__"]
    return {
        "foreign_main_names": sorted(
            name
            for name in vars(main_module)
            if not name.startswith("__") and name not in OWN_NAMES
        ),
        "linecache": sorted(linecache.cache),
        "argv": sys.argv,
        "garbage": gc.collect(),
    }


def leave_traces():
    # What a warm-up that cleaned nothing up would leave: its own module's source in
    # linecache, a module and function referring to each other, a name in __main__.
    source = "def warm():\n    return 1\n"
    linecache.cache["warm.py"] = (len(source), None, source.splitlines(True), "warm.py")
    module = types.ModuleType("warm")
    exec(compile(source, "warm.py", "exec"), module.__dict__)
    del module
    sys.modules["__main__"].__dict__["warm_up_main"] = main


def main():
    print("only this")
    before = look()
    leave_traces()
    return {"before": before, "after": look()}
