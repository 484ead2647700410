# Reads address 0 through ctypes: the process dies of SIGSEGV.
import ctypes


def main():
    ctypes.string_at(0)
    return "unreachable"
