# Leaves processes behind: `sleep 1000` in a new session, and a double-forked daemon (its own
# session, reparented away from the script). Returns their pids for the test to check.
import os
import subprocess
import time


def start_daemon():
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.close(read_end)
        os.setsid()
        if os.fork() == 0:
            os.write(write_end, str(os.getpid()).encode())
            os.close(write_end)
            time.sleep(1000)
        os._exit(0)
    os.close(write_end)
    pid = int(os.read(read_end, 32))
    os.close(read_end)
    return pid


def main():
    sleeper = subprocess.Popen(
        ["sleep", "1000"],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return {"sleep": sleeper.pid, "daemon": start_daemon()}
