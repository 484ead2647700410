# Which of the host's directories and files (PARAMS["paths"]) exist at all. Jailed: none of
# /home, /root, /var, /run, /srv, /sys, /etc/shadow...
import os


def main():
    return {path: os.path.lexists(path) for path in PARAMS["paths"]}
