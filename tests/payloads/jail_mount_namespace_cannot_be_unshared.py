# unshare(CLONE_NEWNS): only the calling process moves (harmless where it works); needs
# CAP_SYS_ADMIN in the user namespace. Jailed: EPERM.
import ctypes
import errno

CLONE_NEWNS = 0x00020000


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) == 0:
        return {"unshare": "ok"}
    return {"unshare": errno.errorcode.get(ctypes.get_errno(), "?")}
