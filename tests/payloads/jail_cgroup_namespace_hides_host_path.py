# The script's view of its cgroups. Jailed: every hierarchy shows "/" (a cgroup namespace
# rooted at the execution's cgroup), nothing of the host's tree.
def main():
    with open("/proc/self/cgroup") as cgroups:
        return [line.rstrip("\n").split(":", 2)[2] for line in cgroups]
