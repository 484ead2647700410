# The environment as Python sees it, and as /proc/self/environ shows it (the zygote's
# exec-time environment) when the script may read that file at all.
import errno
import os


def main():
    try:
        with open("/proc/self/environ", "rb") as environ:
            raw = environ.read().decode("utf-8", "replace")
    except OSError as error:
        raw = "unreadable: " + errno.errorcode.get(error.errno, str(error.errno))
    return {"environ": dict(os.environ), "proc_environ": raw}
