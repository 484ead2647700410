# DESTRUCTIVE outside a pid namespace: never run it unjailed.
# Starts three children, then kill(-1, SIGKILL): every process the caller may signal. Reports
# how each child ended. Jailed: that is the script's own children, nothing on the host.
import os
import signal
import subprocess


def main():
    children = [subprocess.Popen(["/bin/sleep", "100"]) for _ in range(3)]
    os.kill(-1, signal.SIGKILL)
    return {"children": [child.wait(timeout=10) for child in children]}
