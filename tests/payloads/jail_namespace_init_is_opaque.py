# Pid 1 of the jail's pid namespace is pyexec-init, which the zygote started outside the jail:
# its root, working directory, environment, descriptors and memory map belong to the host.
# Tries to reach the host through each of them for PARAMS["pid"] (and to signal it when
# PARAMS["signal"]). Jailed, with pid 1: every access fails. Unjailed, as host root, with the
# pid of the test itself (another host-root process) the same reads succeed; the control
# never signals.
import os
import signal


def attempt(action):
    try:
        action()
        return "ok"
    except OSError as error:
        return os.strerror(error.errno) if error.errno else type(error).__name__


def main():
    proc = "/proc/%d" % PARAMS["pid"]
    results = {
        "root": attempt(lambda: os.listdir(proc + "/root/")),
        "cwd": attempt(lambda: os.listdir(proc + "/cwd/")),
        "environ": attempt(lambda: open(proc + "/environ", "rb").read()),
        "fd": attempt(lambda: os.listdir(proc + "/fd")),
        "maps": attempt(lambda: open(proc + "/maps").read()),
    }
    if PARAMS.get("signal"):
        results["kill"] = attempt(lambda: os.kill(PARAMS["pid"], signal.SIGKILL))
    return results
