# Tries to become root: setuid(0), setgid(0), setresuid(0, 0, 0).
# Jailed: each fails (no CAP_SETUID, and uid 0 is not mapped).
import errno
import os


def attempt(call):
    try:
        call()
        return "ok"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))


def main():
    return {"setgid": attempt(lambda: os.setgid(0)),
            "setresuid": attempt(lambda: os.setresuid(0, 0, 0)),
            "setuid": attempt(lambda: os.setuid(0)),
            "uid": os.getuid()}
