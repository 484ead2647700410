"""pyexec's runner: executes one script in a freshly forked, already contained child.

Imported once by the zygote (so its cost is paid before any execution); `run` is called in
each child after fork. The verdict travels on its own descriptor, never through stdout:
one line of JSON (the envelope, with the size of what follows), then, for "ok", main()'s value
as JSON text.
"""

import builtins
import json
import linecache
import os
import sys
import traceback
import types
import warnings

SCRIPT_NAME = "main.py"
_TEXT_LIMIT = 64 * 1024  # characters kept of a message or traceback
_PATH_LIMIT = 200  # characters of the path to an unserializable value

# Encoders made when the zygote imports the runner, before any script runs: a script that
# replaces json.dumps (say, functools.partial(json.dumps, indent=2)) changes its own output,
# not the envelope's framing or the result's form.
_encode_result = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":")
).encode
_encode_envelope = json.JSONEncoder().encode


def _clip(text, limit=_TEXT_LIMIT):
    if len(text) <= limit:
        return text
    return "...[truncated]...\n" + text[-limit:]


# numpy's legacy global RandomState, if the zygote preloaded numpy. Each child overwrites its
# whole MT19937 key from the kernel's generator. numpy.random.seed() would do the same from a
# SeedSequence, but it runs Python and Cython code that touches (so copies) ~180 shared pages
# per child. The embedder writes the key itself, in C, once it has checked numpy's layout
# (PrepareRunner); these are the fallback: a key array and a legacy state made here, for
# numpy.random.set_state (~100 pages).
_numpy_key_bytes = None
_numpy_legacy_state = None

# threading's at-fork hook, skipped in the zygote's children: (the function, its code).
_threading_hook = None


def _threading_hook_skipped():
    """Stands in for threading._after_fork in the zygote's own forks (see after_preload)."""


def _warm_up_libraries():
    """Runs, once in the zygote, the operations a short data script most often starts with.

    The first call of many numpy and pandas functions in a process fills caches (cached
    properties, dispatch tables, lazily made objects): in a child, each such write to memory
    it shares with the zygote copies a page. Done here, before gc.freeze(), the caches are
    made once and shared: a fresh child's first groupby copies ~960 pages instead of ~1,190,
    a script mixing agg, sort_values, merge and describe ~1,690 instead of ~2,050. The price:
    the pymalloc pools it leaves partly used take a child's first allocations, ~45 more pages
    copied by a child that uses neither library (while executions are few, in the child's own
    warm-up, before its request). Nothing of it depends on anything but this code. Warnings
    are ignored (an ignored warning is not recorded, so a script still sees its own). Returns
    None, or why it stopped (another pandas, say): that only loses the gain, and the zygote
    logs it. (A call that started a thread would stop the zygote from starting at all: it
    checks that it has one thread once preloading is done.)
    """
    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if numpy is not None:
                a = numpy.arange(16, dtype=numpy.float64).reshape(4, 4)
                float((a @ a).sum()), float(numpy.trace(a)), float(a.mean()), a.tolist()
            if pandas is not None and numpy is not None:
                frame = pandas.DataFrame(
                    {
                        "key": ["a", "b", "c", "a"] * 5,
                        "value": numpy.arange(20, dtype=numpy.float64),
                        "count": numpy.arange(20) % 7,
                    }
                )
                sums = frame.groupby("key")["count"].sum()
                int(sums.loc["a"]), int(sums.size), int(sums.sum())
                frame.groupby("count")["value"].mean()
                table = frame.groupby("key").agg({"value": "mean", "count": "sum"})
                table.to_dict("records")
                frame.sort_values("value", ascending=False).head(5).to_dict()
                frame.merge(table.reset_index(), on="key", suffixes=("", "_mean"))
                frame.describe()
    except Exception as exc:  # the warm-up only saves time
        return _clip("%s: %s" % (type(exc).__name__, exc), 500)
    return None


# Why _warm_up_libraries stopped, or None: read by the embedder after after_preload().
library_warm_up_error = None


def after_preload():
    """Called once in the zygote, after preloading and before gc.freeze().

    Returns numpy's legacy global bit generator, whose key the embedder may write directly in
    each child, or None without numpy.
    """
    global _numpy_key_bytes, _numpy_legacy_state, _threading_hook, library_warm_up_error
    library_warm_up_error = _warm_up_libraries()
    # threading cleans up after a fork the threads the child lost: it runs ~40 lines of Python
    # that touch (so copy) ~140 shared pages in every child. The zygote forks from C, with one
    # thread and no Python lock held (it checks that it has one thread once preloading is
    # done): there is nothing to clean up, and the hook is skipped. Each child restores it in
    # prepare(), so the script's own fork() runs it as usual.
    # What the hook does was read for Python 3.11 (Debian 12's); other versions keep it.
    threading = sys.modules.get("threading")
    hook = getattr(threading, "_after_fork", None)
    if (
        sys.version_info[:2] == (3, 11)
        and isinstance(hook, types.FunctionType)
        and hook.__code__.co_argcount == 0
        and not hook.__code__.co_freevars
    ):
        _threading_hook = (hook, hook.__code__)
        hook.__code__ = _threading_hook_skipped.__code__
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return None
    key = numpy.zeros(624, dtype=numpy.uint32)
    _numpy_key_bytes = memoryview(key).cast("B")
    # Position 624: the first draw regenerates the state from the key. No cached Gaussian.
    _numpy_legacy_state = ("MT19937", key, 624, 0, 0.0)
    _reseed_numpy()  # once here: the embedder checks the generator's layout against this key
    # None (the runner reseeds each child) if numpy keeps it elsewhere.
    return getattr(getattr(numpy.random.mtrand, "_rand", None), "_bit_generator", None)


def _reseed_numpy():
    _numpy_key_bytes[:] = os.urandom(len(_numpy_key_bytes))
    sys.modules["numpy"].random.set_state(_numpy_legacy_state)


def prepare(numpy_reseeded, warm_up):
    """Called once in each child, after its jail is built and before its script arrives.

    Python's random module is reseeded by its own at-fork hook (PyOS_AfterFork_Child runs it);
    numpy's legacy global RandomState never is (numpy issue 9650): `numpy_reseeded` says
    whether the embedder has rewritten its key already. With `warm_up`, runs _warm_up; returns
    whether it ran to its end.
    """
    if _threading_hook is not None:
        hook, code = _threading_hook
        hook.__code__ = code
    if _numpy_legacy_state is not None and not numpy_reseeded:
        _reseed_numpy()
    return _warm_up() if warm_up else False


# The warm-up's script: the shape of a small one (imports, a main() that computes and prints,
# a dict of mixed values to encode). Its print writes nothing (end=""), and its imports are of
# modules the zygote has loaded already (an import would otherwise load a module in every
# child that asks for a warm-up).
_WARM_UP_SOURCE = """
def main():
    a = 2
    b = a + 3
    print(end="")
    return {"status": b, "values": [1, 2.5, "text", None, True], "nested": {"k": [b]}}
"""


def _warm_up():
    """Compiles, runs and encodes the warm-up's script, as run() would a request's.

    A fresh child's first compile, run and encoding write to ~200 pages it shares with the
    zygote (reference counts, the type cache, partly used pymalloc pools), each copied by a
    fault on the request's path. The warm-up copies most of them while the child waits for its
    request. It leaves nothing a script could see of what it ran: its module, argv and the
    linecache entries it made are gone, its print wrote nothing. (A script can tell that a
    warm-up ran, by the collector's counts or its own process's private memory: that says
    executions were few, nothing of anyone's script.)
    """
    saved_main = sys.modules.get("__main__")
    saved_argv = sys.argv
    saved_lines = set(linecache.cache)
    try:
        imports = "".join(
            "import %s\n" % name for name in ("os", "numpy", "pandas") if name in sys.modules
        )
        envelope, payload = _execute((imports + _WARM_UP_SOURCE).encode(), _TEXT_LIMIT)
        _answer(envelope, payload)
        return envelope.get("status") == "ok"
    except BaseException:  # never the request's failure: the warm-up only saves time
        return False
    finally:
        _undo_warm_up(saved_main, saved_argv, saved_lines)


def _undo_warm_up(saved_main, saved_argv, saved_lines):
    try:
        module = sys.modules.get("__main__")
        if module is not saved_main and isinstance(module, types.ModuleType):
            module.__dict__.clear()  # main() and its module refer to each other
        if saved_main is None:
            sys.modules.pop("__main__", None)
        else:
            sys.modules["__main__"] = saved_main
        sys.argv = saved_argv
        for name in set(linecache.cache) - saved_lines:
            del linecache.cache[name]
    except BaseException:  # prepare() must not fail for it
        pass  # the request's own run replaces __main__, argv and its linecache entry


def _read_script(fd):
    # The server sends a sealed memfd, whose size says how much to read: no 1 MiB buffer
    # allocated (and its pages touched) for every script, however small. Anything else is read
    # in pieces until its end.
    chunks = [os.read(fd, os.fstat(fd).st_size or 65536)]
    while chunks[-1]:
        chunks.append(os.read(fd, 65536))
    os.close(fd)
    return chunks[0] if len(chunks) == 2 else b"".join(chunks)


def _script_traceback(exc):
    tb = exc.__traceback__
    # Drop the runner's own frames: the traceback starts at the script.
    while tb is not None and tb.tb_frame.f_code.co_filename != SCRIPT_NAME:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _type_name(value):
    kind = type(value)
    module = kind.__module__
    if module in ("builtins", "__main__"):
        return kind.__qualname__
    return module.split(".")[0] + "." + kind.__qualname__


def _find_unserializable(value, path, seen, depth):
    """Returns (path, reason) of the first value json.dumps would refuse, or None."""
    if depth > 900:
        return path, "nesting too deep"
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return path, "string contains a lone surrogate"
        return None
    if isinstance(value, int):
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return path, repr(value) + " is not valid JSON"
        return None
    if isinstance(value, (list, tuple, dict)):
        if id(value) in seen:
            return path, "circular reference"
        seen.add(id(value))
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    return path, "dict key of type " + _type_name(key) + " is not allowed"
                found = _find_unserializable(key, path + "[" + repr(key)[:40] + "] (key)", seen, depth + 1)
                if found:
                    return found
                items.append((path + "[" + repr(key)[:40] + "]", item))
        else:
            items = [(path + "[" + str(index) + "]", item) for index, item in enumerate(value)]
        for item_path, item in items:
            found = _find_unserializable(item, item_path, seen, depth + 1)
            if found:
                return found
        seen.discard(id(value))
        return None
    hint = ""
    if type(value).__module__.startswith(("numpy", "pandas")):
        hint = " (convert it with .item(), .tolist() or .to_dict())"
    return path, "value of type " + _type_name(value) + " is not JSON serializable" + hint


def _serialize(value, result_limit):
    try:
        text = _encode_result(value)
        payload = text.encode("utf-8")
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as error:
        try:
            found = _find_unserializable(value, "result", set(), 0)
        except RecursionError:
            found = ("result", "nesting too deep")
        where, why = found if found else ("result", str(error))
        return {
            "status": "not_serializable",
            "message": _clip(where, _PATH_LIMIT) + ": " + why,
            "path": _clip(where, _PATH_LIMIT),
        }, b""
    if len(payload) > result_limit:
        return {
            "status": "result_too_large",
            "message": "main() returned %d bytes of JSON; the limit is %d" % (len(payload), result_limit),
            "size": len(payload),
        }, b""
    return {"status": "ok"}, payload


def _exit_envelope(exc):
    code = exc.code
    if code is None:
        number = 0
    elif isinstance(code, int):
        number = code
    else:
        # sys.exit("message"): Python prints the message and exits with 1.
        print(code, file=sys.stderr)
        number = 1
    return {
        "status": "exit",
        "message": "the script called sys.exit(%s) before main() returned" % _clip(repr(code), 200),
        "exit_code": number,
    }


def _execute(source, result_limit):
    try:
        code = compile(source, SCRIPT_NAME, "exec", dont_inherit=True)
    except SyntaxError as error:
        envelope = {
            "status": "syntax_error",
            "type": type(error).__name__,
            "message": _clip(str(error.msg)),
            "line": error.lineno,
            "column": error.offset,
        }
        if error.text:
            envelope["text"] = _clip(error.text.rstrip("\n"), 1000)
        return envelope, b""
    except ValueError as error:  # e.g. "source code string cannot contain null bytes"
        return {"status": "syntax_error", "type": "ValueError", "message": str(error)}, b""

    text = source.decode("utf-8", "replace")
    linecache.cache[SCRIPT_NAME] = (len(text), None, text.splitlines(True), SCRIPT_NAME)
    module = types.ModuleType("__main__")
    module.__file__ = SCRIPT_NAME
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    sys.argv = [SCRIPT_NAME]
    try:
        exec(code, module.__dict__)
        main = module.__dict__.get("main")
        if main is None or not callable(main):
            found = "nothing" if main is None else "a " + _type_name(main)
            return {
                "status": "missing_main",
                "message": "the script must define a callable main(); it defines %s named main" % found,
            }, b""
        value = main()
    except SystemExit as exc:
        return _exit_envelope(exc), b""
    except MemoryError:
        return {"status": "memory_limit", "message": "MemoryError: the script ran out of memory"}, b""
    except BaseException as exc:  # the script's failure is a verdict, whatever it raised
        return {
            "status": "exception",
            "type": _type_name(exc),
            "message": _clip(str(exc)),
            "traceback": _clip(_script_traceback(exc)),
        }, b""
    return _serialize(value, result_limit)


def _printable(value):
    # Lone surrogates (from surrogateescape decoding, say) are not Unicode: a strict JSON
    # reader rejects "\udcff". Exception messages and tracebacks keep them as visible escapes.
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _park_channel(result_fd):
    """Moves the result channel off its well-known descriptor before the script runs.

    Bytes a script (or a library) writes to descriptor 3 would otherwise land in front of the
    envelope, and the server would not believe it: the script would lose its real verdict.
    Descriptor 3 becomes /dev/null. A script that looks for the channel can still find it, but
    it can only forge its own verdict, which it could produce honestly by returning a value.
    The server believes an envelope when it is complete (its "bytes" match what follows) or
    when the process exits 0.
    """
    channel = os.dup(result_fd)  # not inheritable (PEP 446): programs the script runs lack it
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, result_fd, inheritable=False)
    os.close(null)
    return channel


def run(result_fd, script_fd, result_limit):
    pid = os.getpid()
    source = _read_script(script_fd)
    channel = _park_channel(result_fd)
    try:
        envelope, payload = _execute(source, result_limit)
    finally:
        # A process the script forked returns through here too: only the original reports.
        if os.getpid() != pid:
            os._exit(0)
    _write_all(channel, _answer(envelope, payload))


def _answer(envelope, payload):
    """What goes on the result channel: the envelope's line, then main()'s value as JSON."""
    envelope = {key: _printable(value) for key, value in envelope.items()}
    # The size makes the message self-delimiting: the server knows it has all of it without
    # waiting for this process to exit, and answers at once (tearing the process down after).
    envelope["bytes"] = len(payload)
    return _encode_envelope(envelope).encode("ascii") + b"\n" + payload
