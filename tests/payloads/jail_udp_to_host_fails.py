# Sends a UDP datagram carrying PARAMS["token"] to the test's socket on the host's 127.0.0.1.
# Jailed: it never arrives.
import errno
import socket


def main():
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(PARAMS["token"].encode(), ("127.0.0.1", PARAMS["port"]))
        return {"sendto": "ok"}
    except OSError as error:
        return {"sendto": errno.errorcode.get(error.errno, str(error.errno))}
