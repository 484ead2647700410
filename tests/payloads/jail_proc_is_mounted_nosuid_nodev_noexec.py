# The per-mount options of /proc, /proc/sys and /tmp, from /proc/self/mountinfo.
# Jailed: /proc is a fresh procfs mounted nosuid, nodev, noexec; /proc/sys is also read-only.
def main():
    options = {}
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            separator = fields.index("-")
            if fields[4] in ("/proc", "/proc/sys", "/tmp"):
                options[fields[4]] = {"options": sorted(fields[5].split(",")),
                                      "fstype": fields[separator + 1]}
    return options
