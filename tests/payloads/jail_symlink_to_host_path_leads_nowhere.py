# Plants symlinks in its working directory that point at a host secret (PARAMS["path"])
# directly and through /proc/<PARAMS["pid"]>/root (a host process's root), then reads through
# them. Jailed: the links resolve inside the private root and
# the token is never read. Unjailed, as host root, the direct link reads it (the control).
import os


def read_through(link):
    try:
        with open(link) as f:
            return PARAMS["token"] in f.read()
    except OSError:
        return False


def main():
    direct = "link-direct"
    via_init = "link-via-init"
    for link, target in ((direct, PARAMS["path"]), (via_init, "/proc/%d/root%s" % (PARAMS["pid"], PARAMS["path"]))):
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(target, link)
    try:
        return {"direct": read_through(direct), "via_init": read_through(via_init)}
    finally:
        os.unlink(direct)
        os.unlink(via_init)
