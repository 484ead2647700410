# With PARAMS["create"], creates a SysV shared memory segment with key PARAMS["key"] (left
# behind on purpose: the test removes it). Then looks the key up with shmget and in
# /proc/sysvipc/shm. Jailed: each execution has its own ipc namespace.
import ctypes
import errno

IPC_CREAT = 0o1000


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    key = PARAMS["key"]
    created = None
    if PARAMS["create"]:
        created = "ok" if libc.shmget(key, 4096, IPC_CREAT | 0o600) >= 0 else \
            errno.errorcode.get(ctypes.get_errno(), "?")
    found = "ok" if libc.shmget(key, 0, 0) >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    with open("/proc/sysvipc/shm") as segments:
        keys = [int(line.split()[0]) for line in segments.readlines()[1:]]
    return {"created": created, "shmget": found, "listed": key in keys}
