# Orphans a process that exits at once (a double fork: the middle process exits first), then
# looks for zombies in /proc. Jailed, the orphan is reparented to the namespace's init, which
# reaps it, so none stays. PARAMS["own_zombie"]: the positive control, a zombie of the script's
# own (a child it does not wait for), which the same scan must find.
import os
import time


def zombies():
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2] == "Z":
            found.append(int(name))
    return found


def main():
    if PARAMS["own_zombie"]:
        if os.fork() == 0:
            os._exit(0)
    else:
        middle = os.fork()
        if middle == 0:
            if os.fork() == 0:
                os._exit(0)
            os._exit(0)
        os.waitpid(middle, 0)
    # The orphan's exit and its reaping are asynchronous: look again for up to 5 s, and stop as
    # soon as the expected state is seen (no zombie, or the control's zombie).
    deadline = time.monotonic() + 5
    seen = zombies()
    while time.monotonic() < deadline and bool(seen) != PARAMS["own_zombie"]:
        time.sleep(0.01)
        seen = zombies()
    return {"zombies": seen, "self": os.getpid()}
