# Reports the resource limits the script runs under, then tries to raise each hard limit, and
# to lower and restore one soft limit (which any process may: the probe's own check that its
# setrlimit calls work). Jailed: the limits are set and no hard limit can be raised (raising
# needs CAP_SYS_RESOURCE in the initial user namespace). Unjailed, as host root, raising works
# where the host grants root CAP_SYS_RESOURCE.
import resource

LIMITS = {
    "core": resource.RLIMIT_CORE,
    "memlock": resource.RLIMIT_MEMLOCK,
    "rtprio": resource.RLIMIT_RTPRIO,
    "msgqueue": resource.RLIMIT_MSGQUEUE,
    "nofile": resource.RLIMIT_NOFILE,
    "fsize": resource.RLIMIT_FSIZE,
}


def main():
    current = {name: list(resource.getrlimit(which)) for name, which in LIMITS.items()}
    raised = {}
    for name, which in LIMITS.items():
        soft, hard = resource.getrlimit(which)
        higher = hard + 1 if hard != resource.RLIM_INFINITY else hard
        if hard == resource.RLIM_INFINITY:
            raised[name] = "unlimited"
            continue
        try:
            resource.setrlimit(which, (soft, higher))
            raised[name] = True
        except (ValueError, OSError):
            raised[name] = False
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft - 1, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    restored = resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)
    return {"limits": current, "raised": raised, "soft_restored": restored}
