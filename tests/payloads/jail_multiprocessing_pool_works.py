# multiprocessing.Pool(2) inside the jail: fork, pipes and POSIX semaphores in /dev/shm.
import multiprocessing
import os


def square(number):
    return number * number, os.getpid()


def main():
    with multiprocessing.Pool(2) as pool:
        results = pool.map(square, range(10))
    return {"squares": [square for square, _ in results],
            "workers": len({pid for _, pid in results} - {os.getpid()}) >= 1}
