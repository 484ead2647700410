# Tries to reach a process the test started on the host (PARAMS["pid"]): signal 0, its /proc
# entry, ptrace(PTRACE_SEIZE) (which does not stop it; the tracee is detached when the script
# exits). Jailed: the pid does not exist in the script's pid namespace.
import ctypes
import errno
import os

PTRACE_SEIZE = 0x4206


def main():
    pid = PARAMS["pid"]
    try:
        os.kill(pid, 0)
        signal = "ok"
    except OSError as error:
        signal = errno.errorcode.get(error.errno, str(error.errno))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    seized = libc.ptrace(PTRACE_SEIZE, pid, None, None)
    return {"signal": signal, "proc_entry": os.path.exists("/proc/%d" % pid),
            "ptrace": "ok" if seized == 0 else errno.errorcode.get(ctypes.get_errno(), "?")}
