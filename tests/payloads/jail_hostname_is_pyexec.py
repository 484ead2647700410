# The host name as every interface tells it. Jailed: "pyexec" (its own uts namespace).
import os
import socket


def main():
    with open("/proc/sys/kernel/hostname") as proc_hostname:
        from_proc = proc_hostname.read().strip()
    return {"gethostname": socket.gethostname(), "uname": os.uname().nodename,
            "proc": from_proc}
