# Starts a child, then lists the process ids /proc shows and looks for the test's own
# process (PARAMS["host_pid"]). Jailed: /proc shows pyexec-init (pid 1), the script (pid 2)
# and its child only.
import os
import subprocess


def name_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0].decode("utf-8", "replace")
    except OSError:
        return None


def main():
    child = subprocess.Popen(["/bin/sleep", "100"])
    try:
        visible = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
        names = {str(pid): name_of(pid) for pid in visible[:3]}
    finally:
        child.kill()
        child.wait()
    return {
        "self": os.getpid(),
        "child": child.pid,
        "visible": visible,
        "names": names,
        "host_pid_visible": os.path.exists("/proc/%d" % PARAMS["host_pid"]),
    }
