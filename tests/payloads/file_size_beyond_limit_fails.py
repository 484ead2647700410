# Writes 512 KiB to one file (under a 1 MiB RLIMIT_FSIZE), then 2 MiB to another (a buffered
# file writes until the kernel refuses). Returns the sizes on disk and the refusal's errno.
import os

KIB = 1024


def main():
    with open("small", "wb") as small:
        small.write(b"s" * (512 * KIB))
    refused = None
    try:
        with open("big", "wb") as big:
            big.write(b"b" * (2048 * KIB))
    except OSError as error:
        refused = error.errno
    return {
        "small": os.path.getsize("small"),
        "big": os.path.getsize("big"),
        "errno": refused,
    }
