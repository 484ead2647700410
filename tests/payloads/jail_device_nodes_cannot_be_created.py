# Creates a character device node with /dev/null's numbers in the working directory (and
# removes it). Jailed: mknod fails (no CAP_MKNOD).
import errno
import os
import stat


def main():
    path = "pyexec-jail-probe-node"
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except OSError as error:
        return {"mknod": errno.errorcode.get(error.errno, str(error.errno))}
    created = stat.S_ISCHR(os.lstat(path).st_mode)
    os.unlink(path)
    return {"mknod": "ok", "is_char_device": created}
