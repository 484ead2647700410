# Mounts a tmpfs on a fresh directory under the working directory. To stay harmless where
# mounting is allowed (the unjailed control), it first moves to a private mount namespace and
# with PARAMS["only_in_private_namespace"] mounts nothing unless that worked.
# Jailed: mount fails with EPERM.
import ctypes
import errno
import os

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2


def result(code):
    return "ok" if code == 0 else errno.errorcode.get(ctypes.get_errno(), "?")


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    unshared = result(libc.unshare(CLONE_NEWNS))
    private = "skipped"
    if unshared == "ok":
        private = result(libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None))
    if PARAMS["only_in_private_namespace"] and private != "ok":
        return {"unshare": unshared, "private": private, "mount": "not attempted"}
    os.mkdir("pyexec-jail-mountpoint")
    mounted = result(libc.mount(b"tmpfs", b"pyexec-jail-mountpoint", b"tmpfs",
                                ctypes.c_ulong(0), b"size=16k"))
    if mounted == "ok":
        libc.umount2(b"pyexec-jail-mountpoint", MNT_DETACH)
    os.rmdir("pyexec-jail-mountpoint")
    return {"unshare": unshared, "private": private, "mount": mounted}
