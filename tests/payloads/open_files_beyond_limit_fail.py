# Opens /dev/null until open() refuses (bounded at 100000). Returns the count and the errno.
import os

MAX_FILES = 100000


def main():
    opened = []
    refused = None
    try:
        while len(opened) < MAX_FILES:
            try:
                opened.append(os.open("/dev/null", os.O_RDONLY))
            except OSError as error:
                refused = error.errno
                break
    finally:
        for fd in opened:
            os.close(fd)
    return {"opened": len(opened), "errno": refused}
