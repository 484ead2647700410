# Reports the rlimits the script runs under (soft, hard), for the limits a pooled child must
# have been lowered to at the hand-over.
import resource


def main():
    names = {"cpu": resource.RLIMIT_CPU, "fsize": resource.RLIMIT_FSIZE,
             "nofile": resource.RLIMIT_NOFILE}
    return {name: list(resource.getrlimit(which)) for name, which in names.items()}
