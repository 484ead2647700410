# Floods stdout with 50 MiB and stderr with 5 MiB of ASCII, then returns normally.
import sys

CHUNK = "x" * (1024 * 1024)


def main():
    for _ in range(50):
        sys.stdout.write(CHUNK)
    for _ in range(5):
        sys.stderr.write(CHUNK)
    return "flooded"
