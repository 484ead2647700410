# Ignores every signal a supervisor might politely send, then sleeps past the deadline in a
# child that also ignores them. The run must still end as a timeout, with nothing left over.
import os
import signal
import time


def main():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGXCPU,
                signal.SIGUSR1, signal.SIGALRM):
        signal.signal(sig, signal.SIG_IGN)
    if os.fork() == 0:
        os.setsid()
        time.sleep(120)
        os._exit(0)
    time.sleep(120)
