# Run by `pyexec run` started as an ordinary user (the rootless jail). Reports who the script
# is, what it can see of the host and whether it can reach a host secret of that same user
# (PARAMS["secret"], PARAMS["token"]) or a listener on the host's loopback (PARAMS["port"]).
import os
import socket


def status_fields():
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp"):
                fields[name] = value.strip()
    return fields


def secret_readable():
    try:
        with open(PARAMS["secret"]) as f:
            return PARAMS["token"] in f.read()
    except OSError:
        return False


def loopback_reachable():
    try:
        with socket.create_connection(("127.0.0.1", PARAMS["port"]), timeout=2):
            return True
    except OSError:
        return False


def usr_writable():
    try:
        open("/usr/pyexec-rootless-probe", "w").close()
        os.unlink("/usr/pyexec-rootless-probe")
        return True
    except OSError:
        return False


def dev_writable():
    try:
        open("/dev/pyexec-rootless-probe", "w").close()
        os.unlink("/dev/pyexec-rootless-probe")
        return True
    except OSError:
        return False


def init_stderr():
    # pid 1 (pyexec-init) runs as the same host user here: its descriptors must lead nowhere.
    try:
        return os.readlink("/proc/1/fd/2")
    except OSError as error:
        return os.strerror(error.errno)


def main():
    with open("/proc/sys/user/max_user_namespaces") as f:
        max_user_namespaces = int(f.read())
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "hostname": socket.gethostname(),
        "status": status_fields(),
        "secret_readable": secret_readable(),
        "secret_dir_exists": os.path.exists(os.path.dirname(PARAMS["secret"])),
        "home_or_root_exist": os.path.exists("/root") or os.path.exists("/home"),
        "loopback_reachable": loopback_reachable(),
        "pids": sorted(int(name) for name in os.listdir("/proc") if name.isdigit()),
        "max_user_namespaces": max_user_namespaces,
        "usr_writable": usr_writable(),
        "dev_writable": dev_writable(),
        "init_stderr": init_stderr(),
    }
