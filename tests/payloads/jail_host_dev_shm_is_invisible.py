# Looks for a file the test planted in the host's /dev/shm (PARAMS["name"]). Jailed: /dev/shm
# is the execution's own /tmp (isolate once shared /dev/shm between boxes).
import errno
import os


def main():
    try:
        with open(os.path.join("/dev/shm", PARAMS["name"]), "rb") as bait:
            return {"leaked": PARAMS["token"].encode() in bait.read(1 << 16), "error": None}
    except OSError as error:
        return {"leaked": False, "error": errno.errorcode.get(error.errno, str(error.errno))}
