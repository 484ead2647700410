# Calls each system call the seccomp policy must refuse, with arguments that make an *allowed*
# call fail harmlessly (a bad descriptor, a NULL pointer, invalid flags: bubblewrap's method),
# and returns the errno of each. Filtered: EPERM (ENOSYS for clone3). Unfiltered: anything else.
# Safe outside the jail: none of these arguments changes anything on the host.
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

NR = {
    "io_uring_setup": 425, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "keyctl": 250, "add_key": 248, "ptrace": 101, "process_vm_readv": 310, "mount": 165,
    "umount2": 166, "chroot": 161, "pivot_root": 155, "unshare": 272, "setns": 308,
    "clone": 56, "clone3": 435, "socket": 41, "ioctl": 16, "flock": 73, "memfd_create": 319,
    "pidfd_open": 434, "prlimit64": 302, "personality": 135, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "swapon": 167, "syslog": 103, "fanotify_init": 300,
    "sched_setscheduler": 144,
}
CLONE_NEWUSER, CLONE_THREAD = 0x10000000, 0x00010000
SCHED_FIFO, SCHED_IDLE = 1, 5
AF_INET, AF_NETLINK, AF_VSOCK, SOCK_STREAM, SOCK_RAW = 2, 16, 40, 1, 3
TIOCSTI = 0x5412

PROBES = {
    "io_uring_setup": (0, None),
    "bpf": (5, None, 0),
    "perf_event_open": (None, 0, -1, -1, 0),
    "userfaultfd": (0xFFFF,),
    "keyctl": (0xFFFF, 0, 0, 0),
    "add_key": (None, None, None, 0, 0),
    "ptrace": (16, -1, 0, 0),
    "process_vm_readv": (-1, None, 0, None, 0, 0),
    "mount": (None, None, None, 0, None),
    "umount2": (None, 0),
    "chroot": (None,),
    "pivot_root": (None, None),
    "unshare": (CLONE_NEWUSER | 0x80000000,),
    "setns": (-1, 0),
    "clone": (CLONE_NEWUSER | CLONE_THREAD, 0, 0, 0, 0),
    "clone3": (None, 0),
    "socket_inet": ("socket", AF_INET, SOCK_STREAM, 0),
    "socket_netlink": ("socket", AF_NETLINK, SOCK_RAW, 0),
    "socket_vsock": ("socket", AF_VSOCK, SOCK_STREAM, 0),
    "ioctl_tiocsti": ("ioctl", -1, TIOCSTI, 0),
    "ioctl_tiocsti_high_bits": ("ioctl", -1, (1 << 32) | TIOCSTI, 0),
    "flock": (-1, 2),
    "memfd_create": (b"probe", 0),
    "pidfd_open": (os.getpid(), 0),
    "prlimit64_other_pid": ("prlimit64", 1 if os.getpid() != 1 else 2, 7, None,
                            ctypes.create_string_buffer(16)),
    "personality": (8,),
    "name_to_handle_at": (-1, None, None, None, 0),
    "open_by_handle_at": (-1, None, 0),
    "swapon": (None, 0),
    "syslog": (10, None, 0),
    "fanotify_init": (0xFFFFFFFF, 0),
    # Only SCHED_IDLE for the calling thread is allowed (a NULL parameter makes either fail).
    "sched_setscheduler_fifo": ("sched_setscheduler", 0, SCHED_FIFO, None),
    "sched_setscheduler_idle_other_pid": ("sched_setscheduler", os.getpid(), SCHED_IDLE, None),
}


def main():
    results = {}
    for name, probe in PROBES.items():
        call = name
        args = probe
        if probe and isinstance(probe[0], str):
            call, args = probe[0], probe[1:]
        ctypes.set_errno(0)
        value = libc.syscall(ctypes.c_long(NR[call]), *[
            ctypes.c_long(a) if isinstance(a, int) else a for a in args])
        error = ctypes.get_errno() if value == -1 else 0
        if value >= 0 and call in ("socket", "memfd_create", "pidfd_open"):
            os.close(value)
        if value >= 0 and call == "personality":
            libc.syscall(ctypes.c_long(NR["personality"]), ctypes.c_long(0))
        results[name] = error
    return results
