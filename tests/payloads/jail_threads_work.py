# Eight threads inside the jail, each summing its own range.
import threading


def main():
    totals = [0] * 8

    def work(index):
        totals[index] = sum(range(index * 1000, (index + 1) * 1000))

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return {"total": sum(totals), "alive": sum(thread.is_alive() for thread in threads)}
