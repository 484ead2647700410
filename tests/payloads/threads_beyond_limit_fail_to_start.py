# Starts threads that all block until released, until starting one more fails. Bounded (512
# threads). Returns how many started and what refused the next one.
import threading

MAX_THREADS = 512


def main():
    release = threading.Event()
    threads = []
    refusal = None
    try:
        while len(threads) < MAX_THREADS:
            thread = threading.Thread(target=release.wait, args=(30,), daemon=True)
            try:
                thread.start()
            except RuntimeError as error:
                refusal = str(error)
                break
            threads.append(thread)
    finally:
        release.set()
    for thread in threads:
        thread.join(30)
    return {"started": len(threads), "refusal": refusal}
