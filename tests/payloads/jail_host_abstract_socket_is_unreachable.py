# Connects to the test's abstract unix socket (PARAMS["name"], without the leading NUL).
# Abstract names belong to the network namespace and ignore file permissions.
# Jailed: ECONNREFUSED, the name does not exist there.
import errno
import socket


def main():
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect("\0" + PARAMS["name"])
            client.sendall(PARAMS["token"].encode())
        return {"connect": "ok"}
    except OSError as error:
        return {"connect": errno.errorcode.get(error.errno, str(error.errno))}
