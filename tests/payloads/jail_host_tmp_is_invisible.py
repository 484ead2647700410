# Looks for a file the test planted in the host's /tmp (PARAMS["name"]) and lists /tmp.
# Jailed: /tmp is the execution's own empty tmpfs.
import errno
import os


def main():
    path = os.path.join("/tmp", PARAMS["name"])
    try:
        with open(path, "rb") as bait:
            leaked = PARAMS["token"].encode() in bait.read(1 << 16)
        error = None
    except OSError as failure:
        leaked = False
        error = errno.errorcode.get(failure.errno, str(failure.errno))
    return {"leaked": leaked, "error": error, "tmp_entries": len(os.listdir("/tmp"))}
