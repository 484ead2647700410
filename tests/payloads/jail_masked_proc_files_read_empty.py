# Reads the /proc files that leak kernel state: how many bytes each gives (None: absent).
# Jailed: the ones that exist are /dev/null and read as empty.
import os

FILES = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
         "/proc/sysrq-trigger", "/proc/kallsyms"]


def size(path):
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as masked:
            return len(masked.read(4096))
    except OSError:
        return 0  # unreadable leaks nothing either


def main():
    return {path: size(path) for path in FILES}
