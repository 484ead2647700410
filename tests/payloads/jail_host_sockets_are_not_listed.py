# Looks in /proc/net for the test's sockets on the host: the TCP listener on
# 127.0.0.1:PARAMS["port"] and the abstract unix socket PARAMS["name"]. Reads files only.
# Jailed: the network namespace's tables hold neither.
def main():
    listening = False
    local = "0100007F:%04X" % PARAMS["port"]
    with open("/proc/net/tcp") as tcp:
        for line in tcp.readlines()[1:]:
            fields = line.split()
            listening = listening or (fields[1] == local and fields[3] == "0A")
    with open("/proc/net/unix") as unix:
        abstract = any(line.rstrip("\n").endswith(" @" + PARAMS["name"]) for line in unix)
    return {"tcp_listener": listening, "abstract_socket": abstract}
