# Standard streams inside the jail: stdout and stderr reach the caller, stdin is at EOF.
import os
import sys


def main():
    print("to stdout from the jail")
    print("to stderr from the jail", file=sys.stderr)
    return {"stdin": sys.stdin.read(), "stdin_target": os.readlink("/proc/self/fd/0")}
