# Reads the user namespace limit the script sees and tries to create a nested user namespace
# (the gateway to most user-namespace kernel exploits). Jailed: the limit reads 0 and unshare
# fails: EPERM from seccomp, or ENOSPC from the limit alone when seccomp is switched off for the
# test. With both switched off (the control), unshare succeeds.
import ctypes
import os

CLONE_NEWUSER = 0x10000000


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/sys/user/max_user_namespaces") as f:
        limit = int(f.read())
    result = libc.unshare(CLONE_NEWUSER)
    error = ctypes.get_errno() if result != 0 else 0
    return {
        "max_user_namespaces": limit,
        "unshare": result,
        "errno": error,
        "errno_name": os.strerror(error) if error else "",
    }
