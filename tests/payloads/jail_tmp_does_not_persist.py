# Jailed only: it writes to /tmp, which outside the jail is the host's.
# With PARAMS["write"], creates /tmp/PARAMS["name"]; then reports whether that file exists
# and what /tmp holds. Jailed: a later execution finds an empty /tmp.
import os


def main():
    path = os.path.join("/tmp", PARAMS["name"])
    if PARAMS["write"]:
        with open(path, "w") as marker:
            marker.write(PARAMS["name"])
    return {"exists": os.path.exists(path), "entries": sorted(os.listdir("/tmp"))}
