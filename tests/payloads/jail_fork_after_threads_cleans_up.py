# threading's at-fork clean-up runs for the script's own fork(): the zygote skips it in the
# children it forks (it has one thread: nothing to clean up there), and each child restores it
# before its script runs. Without it, the forked process would still count the thread it lost.
import os
import threading


def main():
    release = threading.Event()
    started = threading.Event()

    def hold():
        started.set()
        release.wait(30)

    worker = threading.Thread(target=hold)
    worker.start()
    started.wait(30)
    before = threading.active_count()  # the positive control: the worker is counted here
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        seen = "%d %d" % (threading.active_count(), len(threading.enumerate()))
        os.write(write, seen.encode())
        os._exit(0)
    os.close(write)
    seen = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    release.set()
    worker.join(30)
    return {"before_fork": before, "in_forked_process": seen}
