# Makes one system call through another ABI: "x32" (the x32 bit on a native call number) or
# "i386" (int 0x80 from a small executable page). The jail's filter kills the process (SIGSYS);
# unfiltered, the call returns (or the kernel refuses it with ENOSYS).
import ctypes
import mmap

ABI = PARAMS["abi"]  # noqa: F821 (set by the test)

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def main():
    if ABI == "x32":
        value = libc.syscall(ctypes.c_long(0x40000000 | 39))  # getpid, x32 numbering
        return {"returned": value, "errno": ctypes.get_errno()}
    # mov eax, 20 (getpid on i386); int 0x80; ret
    code = bytes([0xB8, 0x14, 0x00, 0x00, 0x00, 0xCD, 0x80, 0xC3])
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    function = ctypes.CFUNCTYPE(ctypes.c_int)(address)
    return {"returned": function()}
