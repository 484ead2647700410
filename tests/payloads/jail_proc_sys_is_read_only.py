# Opens kernel knobs under /proc/sys for writing (never writes: the file is closed at once)
# and reports whether /proc/sys, /proc/irq and /proc/bus are read-only mounts.
# Jailed: every open fails, every mount is read-only.
import errno
import os

KNOBS = ["/proc/sys/kernel/hostname", "/proc/sys/kernel/core_pattern",
         "/proc/sys/kernel/modprobe", "/proc/sys/vm/drop_caches"]


def open_for_writing(path):
    try:
        os.close(os.open(path, os.O_WRONLY))
        return "ok"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))


def main():
    return {
        "knobs": {knob: open_for_writing(knob) for knob in KNOBS},
        "read_only": {d: bool(os.statvfs(d).f_flag & os.ST_RDONLY)
                      for d in ["/proc/sys", "/proc/irq", "/proc/bus"] if os.path.isdir(d)},
    }
