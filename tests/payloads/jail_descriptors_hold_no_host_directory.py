# Classifies every open descriptor: "dir", "pipe", "char" or "other". A directory descriptor
# inherited from the host would let openat(fd, "..") walk out of the private root.
# PARAMS["open_first"] names a directory the script opens itself first (the positive control).
import os
import stat


def kind(mode):
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISFIFO(mode):
        return "pipe"
    if stat.S_ISCHR(mode):
        return "char"
    return "other"


def main():
    held = None
    if PARAMS["open_first"]:
        held = os.open(PARAMS["open_first"], os.O_RDONLY | os.O_DIRECTORY)
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[name] = kind(os.fstat(int(name)).st_mode)
        except OSError:
            continue  # the listing's own descriptor, closed by now
    if held is not None:
        os.close(held)
    return fds
