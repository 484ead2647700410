# Lists /dev: {name: "char M:m" | "block M:m" | "-> target" | "dir" | "file"}.
# Jailed: char devices null, zero, full, random, urandom only.
import os
import stat


def describe(path):
    info = os.lstat(path)
    if stat.S_ISCHR(info.st_mode):
        return "char %d:%d" % (os.major(info.st_rdev), os.minor(info.st_rdev))
    if stat.S_ISBLK(info.st_mode):
        return "block %d:%d" % (os.major(info.st_rdev), os.minor(info.st_rdev))
    if stat.S_ISLNK(info.st_mode):
        return "-> " + os.readlink(path)
    if stat.S_ISDIR(info.st_mode):
        return "dir"
    return "file"


def main():
    return {name: describe(os.path.join("/dev", name)) for name in os.listdir("/dev")}
