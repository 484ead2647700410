# Reads a host file the test planted (PARAMS["path"], mode 0600, owned by root) and reports
# whether its token came through. Jailed: the file is not even there. Never returns the
# file's contents, so it may also probe real secrets such as /etc/shadow.
import errno


def main():
    try:
        with open(PARAMS["path"], "rb") as secret:
            data = secret.read(1 << 16)
    except OSError as error:
        return {"error": errno.errorcode.get(error.errno, str(error.errno)), "leaked": False}
    return {"error": None, "leaked": PARAMS["token"].encode() in data}
