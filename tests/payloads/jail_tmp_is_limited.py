# Jailed only: it writes to /tmp, which outside the jail is the host's.
# Writes PARAMS["bytes"] into /tmp in 1 MiB chunks, spread over files of at most 32 MiB (below
# RLIMIT_FSIZE), stopping at the first error; reports what was written, the error, and the
# size the file system declares.
import errno
import os

CHUNK = 1 << 20
FILE_CHUNKS = 32


def main():
    chunk = b"\0" * CHUNK
    written = 0
    error = None
    index = 0
    while written < PARAMS["bytes"] and error is None:
        with open("/tmp/pyexec-jail-fill-%d" % index, "wb", buffering=0) as fill:
            for _ in range(FILE_CHUNKS):
                if written >= PARAMS["bytes"]:
                    break
                try:
                    written += fill.write(chunk[:PARAMS["bytes"] - written])
                except OSError as failure:
                    error = errno.errorcode.get(failure.errno, str(failure.errno))
                    break
        index += 1
    info = os.statvfs("/tmp")
    return {"written": written, "error": error, "size": info.f_blocks * info.f_frsize}
