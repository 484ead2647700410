# A fork bomb: keeps forking, every child holding its process slot, until the kernel refuses.
# Bounded by itself (256 children, 5 s) so that a broken pids limit shows up as a wrong count
# instead of taking the host down. Returns how many forks succeeded and the refusal's errno.
import os
import time

MAX_CHILDREN = 256


def main():
    deadline = time.monotonic() + 5
    forked = 0
    while forked < MAX_CHILDREN and time.monotonic() < deadline:
        try:
            pid = os.fork()
        except OSError as error:
            return {"forked": forked, "errno": error.errno}
        if pid == 0:
            # A child: hold the slot until the engine kills the execution (or the bound ends).
            time.sleep(max(0.0, deadline - time.monotonic()))
            os._exit(0)
        forked += 1
    return {"forked": forked, "errno": None}
