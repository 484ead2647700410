# Starts a double-forked daemon (its own session, reparented away from the script) running
# /bin/sleep under the name PARAMS["name"], so the test can find it in the host's /proc.
# Then stays PARAMS["linger_seconds"] (the test cancels it) and returns.
# Jailed: the daemon dies with the execution.
import os
import time


def main():
    reader, writer = os.pipe()
    first = os.fork()
    if first == 0:
        os.setsid()
        if os.fork() == 0:
            os.close(reader)
            os.write(writer, b"%d" % os.getpid())
            os.close(writer)
            os.execv("/bin/sleep", [PARAMS["name"], "1000"])
        os._exit(0)
    os.close(writer)
    os.waitpid(first, 0)
    daemon = int(os.read(reader, 32) or b"0")
    os.close(reader)
    time.sleep(PARAMS["linger_seconds"])
    return {"daemon": daemon}
