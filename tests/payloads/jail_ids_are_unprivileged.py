# The script's ids as it sees them and its user namespace's maps.
# Jailed: 65534 everywhere, mapped to the host's sandbox uid (64000) and nothing else.
import os


def main():
    with open("/proc/self/uid_map") as uid_map, open("/proc/self/gid_map") as gid_map:
        maps = [uid_map.read().split(), gid_map.read().split()]
    return {"uids": list(os.getresuid()), "gids": list(os.getresgid()),
            "groups": os.getgroups(), "uid_map": maps[0], "gid_map": maps[1]}
