# Opens for writing (never writes: no O_TRUNC, closed at once) PARAMS["library"] and every
# file the process has mapped (inherited from the zygote: libpython, numpy, pandas...), and
# reports what happened. Jailed: every open fails and the mounts are read-only.
import errno
import os


def open_for_writing(path):
    try:
        os.close(os.open(path, os.O_WRONLY))
        return "ok"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))


def main():
    library = PARAMS["library"]
    with open(library, "rb") as readable:
        magic = readable.read(4).hex()
    mapped = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/usr/"):
                mapped.add(fields[5].strip())
    return {
        "library_magic": magic,
        "library": open_for_writing(library),
        "library_read_only_mount": bool(os.statvfs(library).f_flag & os.ST_RDONLY),
        "mapped": {path: open_for_writing(path) for path in sorted(mapped)},
        "exe": open_for_writing("/proc/self/exe"),
    }
