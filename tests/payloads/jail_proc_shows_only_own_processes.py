# Starts a child, then lists the process ids /proc shows and looks for the test's own
# process (PARAMS["host_pid"]). Jailed: /proc shows the script (pid 1) and its child only.
import os
import subprocess


def main():
    child = subprocess.Popen(["/bin/sleep", "100"])
    try:
        visible = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    finally:
        child.kill()
        child.wait()
    return {
        "self": os.getpid(),
        "child": child.pid,
        "visible": visible,
        "host_pid_visible": os.path.exists("/proc/%d" % PARAMS["host_pid"]),
    }
