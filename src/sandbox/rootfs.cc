#include "sandbox/rootfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

#include "sandbox/child_failure.h"
#include "sandbox/policy.h"

namespace pyexec::sandbox {
namespace {

// Flags for everything taken from the host: no writes, no setuid binaries, no device nodes.
constexpr uint64_t kReadOnlyFlags = MS_RDONLY | MS_NOSUID | MS_NODEV;

// Top-level names a Debian root may have as directories or (merged /usr) symlinks into /usr.
constexpr const char* kTopLevel[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};

// Files of the host's /etc the interpreter needs: the loader's cache (extension modules
// imported after fork are dlopen'ed) and the alternatives that point numpy at its BLAS.
constexpr const char* kEtcEntries[] = {"etc/ld.so.cache", "etc/localtime", "etc/alternatives"};

constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom"};

// /proc entries that leak host kernel state or accept dangerous writes; /dev/null is bound
// over the files and the directories are made read-only (as runc and Docker do).
constexpr const char* kProcMaskedFiles[] = {"proc/kcore",         "proc/keys",
                                            "proc/timer_list",    "proc/sched_debug",
                                            "proc/sysrq-trigger", "proc/kallsyms"};
constexpr const char* kProcReadOnlyDirectories[] = {"proc/sys", "proc/irq", "proc/bus"};

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:pyexec sandbox:/tmp:/usr/sbin/nologin\n";
constexpr char kGroup[] = "root:x:0:\nnogroup:x:65534:\n";
constexpr char kHosts[] = "127.0.0.1\tlocalhost pyexec\n::1\tlocalhost ip6-localhost\n";

bool Exists(const char* path) {
  struct stat info {};
  return lstat(path, &info) == 0;
}

void MakeDirectory(const char* path, mode_t mode) {
  CheckStep(mkdir(path, mode) == 0 || errno == EEXIST, Step::kRootTmpfs, path);
}

void WriteNewFile(const char* path, const char* contents) {
  const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  CheckStep(fd >= 0, Step::kRootTmpfs, path);
  const size_t length = strlen(contents);
  CheckStep(write(fd, contents, length) == static_cast<ssize_t>(length), Step::kRootTmpfs, path);
  close(fd);
}

void Touch(const char* path) { WriteNewFile(path, ""); }

// A read-only bind needs a second mount call: MS_RDONLY is ignored on the first (mount(2),
// "Creating a bind mount"), as bubblewrap and nsjail both note.
void BindReadOnly(const char* source, const char* target, uint64_t extra = 0) {
  CheckStep(mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) == 0, Step::kBindMount,
            target);
  CheckStep(
      mount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | kReadOnlyFlags | extra, nullptr) == 0,
      Step::kBindMount, target);
}

// Gives `name` (relative to the new root) what "/name" is on the host: the same symlink (merged
// /usr's /bin -> usr/bin, /etc/localtime -> zoneinfo), or a read-only bind of the directory or
// file. Absent on the host: absent here.
void Mirror(const char* name) {
  char host[128];
  (void)snprintf(host, sizeof(host), "/%s", name);
  struct stat info {};
  if (lstat(host, &info) != 0) {
    return;
  }
  if (S_ISLNK(info.st_mode)) {
    char target[256];
    const ssize_t length = readlink(host, target, sizeof(target) - 1);
    CheckStep(length > 0, Step::kRootTmpfs, host);
    target[length] = '\0';
    CheckStep(symlink(target, name) == 0, Step::kRootTmpfs, name);
    return;
  }
  if (S_ISDIR(info.st_mode)) {
    MakeDirectory(name, 0755);
  } else {
    Touch(name);
  }
  BindReadOnly(host, name);
}

void BuildEtc() {
  MakeDirectory("etc", 0755);
  WriteNewFile("etc/passwd", kPasswd);
  WriteNewFile("etc/group", kGroup);
  WriteNewFile("etc/hosts", kHosts);
  WriteNewFile("etc/hostname", "pyexec\n");
  for (const char* entry : kEtcEntries) {
    Mirror(entry);
  }
}

void BuildDev(bool bind_devices) {
  MakeDirectory("dev", 0755);
  CheckStep(
      mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755") == 0,
      Step::kMountTmp, "dev");
  for (const char* device : kDevices) {
    char host[32];
    char target[32];
    (void)snprintf(host, sizeof(host), "/dev/%s", device);
    (void)snprintf(target, sizeof(target), "dev/%s", device);
    struct stat info {};
    CheckStep(stat(host, &info) == 0 && S_ISCHR(info.st_mode), Step::kCreateNode, host);
    if (bind_devices) {
      // A user namespace may not create device nodes, but may bind the host's (as bubblewrap's
      // --dev does): the bind keeps the host node's device number and nothing else of /dev.
      Touch(target);
      CheckStep(mount(host, target, nullptr, MS_BIND, nullptr) == 0, Step::kCreateNode, target);
      continue;
    }
    // The same character device as the host's (still host root here, so mknod is allowed; two
    // bind mounts per node would cost ten times as much). The dev tmpfs is the only mount
    // without MS_NODEV, and these five nodes are all it holds.
    CheckStep(mknod(target, S_IFCHR | 0666, info.st_rdev) == 0, Step::kCreateNode, target);
    CheckStep(chmod(target, 0666) == 0, Step::kCreateNode, target);  // whatever the umask
  }
  for (const auto& [name, target] :
       {std::pair{"dev/fd", "/proc/self/fd"}, std::pair{"dev/stdin", "/proc/self/fd/0"},
        std::pair{"dev/stdout", "/proc/self/fd/1"}, std::pair{"dev/stderr", "/proc/self/fd/2"}}) {
    CheckStep(symlink(target, name) == 0, Step::kCreateNode, name);
  }
  MakeDirectory("dev/shm", 01777);
  // Nothing more may be created in /dev. In a rootless jail the tmpfs belongs to the user the
  // script maps onto, who could otherwise add files; writing to the device nodes still works.
  CheckStep(mount(nullptr, "dev", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
                  nullptr) == 0,
            Step::kMountTmp, "dev");
}

void MountTmp(uint64_t size_bytes) {
  char options[96];
  (void)snprintf(options, sizeof(options), "size=%llu,nr_inodes=16384,mode=1777",
                 static_cast<unsigned long long>(size_bytes));  // NOLINT(google-runtime-int)
  MakeDirectory("tmp", 01777);
  // tmpfs pages are charged to the memory cgroup of the process that writes them, so /tmp
  // counts against the execution's memory limit as well as its own size (nsjail issue #71).
  CheckStep(mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, options) == 0, Step::kMountTmp,
            "tmp");
  // POSIX semaphores (multiprocessing) live in /dev/shm: the same bounded tmpfs.
  CheckStep(mount("tmp", "dev/shm", nullptr, MS_BIND, nullptr) == 0, Step::kMountTmp, "dev/shm");
}

// Returns the sys directory's O_PATH descriptor (see EnterPrivateRoot).
int MountProc() {
  MakeDirectory("proc", 0555);
  // A fresh procfs of the execution's own pid namespace (we are its pid 1): the script sees
  // its own processes only (nsjail #283: nosuid, nodev, noexec).
  CheckStep(mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0,
            Step::kMountProc, "proc");
  for (const char* file : kProcMaskedFiles) {
    if (Exists(file)) {
      CheckStep(mount("dev/null", file, nullptr, MS_BIND, nullptr) == 0, Step::kMaskPath, file);
    }
  }
  // Opened before the read-only bind covers it: a descriptor keeps the mount it was opened on.
  const int proc_sys_fd = open("proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  CheckStep(proc_sys_fd >= 0, Step::kMountProc, "proc/sys");
  for (const char* directory : kProcReadOnlyDirectories) {
    if (Exists(directory)) {
      BindReadOnly(directory, directory, MS_NOEXEC);
    }
  }
  return proc_sys_fd;
}

}  // namespace

int EnterPrivateRoot(const RootOptions& options) {
  // No mount event may propagate back to the host (or from it).
  CheckStep(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0, Step::kMountPrivate);
  // The new root is built on a tmpfs mounted over /tmp of this (private) copy of the host's
  // tree; the host's /tmp is untouched. A descriptor of a host directory would not do: it
  // belongs to the host's mount namespace, where this process may not mount (EINVAL).
  const char* root = "/tmp";
  CheckStep(
      mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=256,mode=0755") == 0,
      Step::kRootTmpfs, "/");
  CheckStep(chdir(root) == 0, Step::kRootTmpfs, "/");  // the walk enters the new tmpfs

  MakeDirectory("usr", 0755);
  BindReadOnly("/usr", "usr");
  for (const char* name : kTopLevel) {
    Mirror(name);
  }
  BuildEtc();
  BuildDev(options.bind_devices);
  MountTmp(options.tmp_size_bytes);
  const int proc_sys_fd = MountProc();
  // The root itself becomes read-only: the script may write only to /tmp.
  CheckStep(mount(nullptr, ".", nullptr, MS_REMOUNT | MS_BIND | kReadOnlyFlags, nullptr) == 0,
            Step::kRootTmpfs, "/");

  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only
  // the new root (runc's pivotRoot, pivot_root(2) NOTES).
  CheckStep(syscall(SYS_pivot_root, ".", ".") == 0, Step::kPivotRoot);
  CheckStep(umount2(".", MNT_DETACH) == 0, Step::kPivotRoot);
  CheckStep(chdir("/tmp") == 0, Step::kPivotRoot, "/tmp");
  return proc_sys_fd;
}

}  // namespace pyexec::sandbox
