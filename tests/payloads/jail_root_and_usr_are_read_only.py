# Tries to create a file and a directory in each of PARAMS["create_in"] (removing what it
# made) and reports whether the mount under each of PARAMS["statvfs"] is read-only.
# Jailed: /, /usr, /etc... fail with EROFS; /tmp works.
import errno
import os


def attempt(call):
    try:
        call()
        return "ok"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))


def create_file(directory):
    path = os.path.join(directory, "pyexec-jail-probe-file")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.unlink(path)


def create_directory(directory):
    path = os.path.join(directory, "pyexec-jail-probe-dir")
    os.mkdir(path)
    os.rmdir(path)


def main():
    created = {d: [attempt(lambda: create_file(d)), attempt(lambda: create_directory(d))]
               for d in PARAMS["create_in"]}
    read_only = {d: bool(os.statvfs(d).f_flag & os.ST_RDONLY) for d in PARAMS["statvfs"]}
    return {"created": created, "read_only": read_only}
