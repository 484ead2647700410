# Resolves each name in PARAMS["names"] with getaddrinfo: {name: "ok" | the error}.
# Jailed: only what the jail's own /etc/hosts lists resolves (localhost, pyexec).
import socket


def main():
    outcome = {}
    for name in PARAMS["names"]:
        try:
            socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
            outcome[name] = "ok"
        except OSError as error:
            outcome[name] = type(error).__name__ + " " + str(error.errno)
    return outcome
