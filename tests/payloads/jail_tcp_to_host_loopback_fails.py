# Connects over TCP to the test's listener on the host's 127.0.0.1 (PARAMS["port"]).
# Jailed: fails (the execution has a network namespace of its own).
import errno
import socket


def main():
    try:
        with socket.create_connection(("127.0.0.1", PARAMS["port"]), timeout=5) as connection:
            connection.sendall(PARAMS["token"].encode())
        return {"connect": "ok"}
    except OSError as error:
        return {"connect": errno.errorcode.get(error.errno, str(error.errno))}
