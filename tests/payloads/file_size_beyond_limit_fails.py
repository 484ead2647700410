# Writes 512 KiB to one file (under a 1 MiB RLIMIT_FSIZE), then 2 MiB in one write to another.
# Returns the sizes on disk and the errno of the refused write.
import os

KIB = 1024


def main():
    with open("small", "wb") as small:
        small.write(b"s" * (512 * KIB))
    refused = None
    try:
        with open("big", "wb", buffering=0) as big:
            big.write(b"b" * (2048 * KIB))
    except OSError as error:
        refused = error.errno
    return {
        "small": os.path.getsize("small"),
        "big": os.path.getsize("big"),
        "errno": refused,
    }
