#include "zygote/embedded_python.h"

#include <sched.h>

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <malloc.h>
#include <unistd.h>

#include <cstring>

#include "runner_source.h"  // generated: kRunnerSource
#include "sys/entropy.h"
#include "sys/memory.h"
#include "util/log.h"

namespace pyexec::zygote {
namespace {

constexpr char kRunnerModule[] = "pyexec_runner";

// Python's object arenas, from one huge-page-backed reservation (see sys/memory.h): the
// zygote's objects then sit in a few dozen 2 MiB pages, and every fork copies, and every exit
// tears down, a few dozen page-table entries for them instead of thousands.
constexpr uint64_t kArenaReserveBytes = uint64_t{8} << 30;  // address space only
constexpr size_t kArenaBlockBytes = size_t{1} << 20;        // CPython 3.11's ARENA_SIZE (64-bit)
sys::HugePageArenas g_arenas;
PyObjectArenaAllocator g_fallback_arenas{};

void* AllocateArena(void* /*context*/, size_t size) {
  if (size == kArenaBlockBytes) {
    if (void* block = g_arenas.Allocate()) {
      return block;
    }
  }
  return g_fallback_arenas.alloc(g_fallback_arenas.ctx, size);
}

void FreeArena(void* /*context*/, void* pointer, size_t size) {
  if (g_arenas.Owns(pointer)) {
    g_arenas.Free(pointer);
    return;
  }
  g_fallback_arenas.free(g_fallback_arenas.ctx, pointer, size);
}

void InstallArenaAllocator() {
  PyObject_GetArenaAllocator(&g_fallback_arenas);
  if (!g_arenas.Init(kArenaReserveBytes, kArenaBlockBytes)) {
    return;  // the default arenas, then
  }
  PyObjectArenaAllocator arenas{nullptr, AllocateArena, FreeArena};
  PyObject_SetArenaAllocator(&arenas);
}
PyObject* g_runner = nullptr;  // the runner module, alive for the zygote's lifetime

// numpy's legacy global generator, as numpy lays it out: a bit generator's capsule points to
// its `bitgen_t` (numpy/random/bitgen.h, numpy's C API), whose first member points to the
// MT19937 state (numpy's src/mt19937/mt19937.h). The layout is checked in the zygote, against
// a key the runner has just set, before any child relies on it.
struct NumpyBitGenerator {
  void* state;  // numpy's function pointers follow
};
constexpr size_t kMt19937KeyWords = 624;
struct Mt19937State {
  uint32_t key[kMt19937KeyWords];
  int pos;  // kMt19937KeyWords: the next draw regenerates the state from the key
};
PyObject* g_numpy_generator = nullptr;  // kept alive: the state below is inside it
bool g_numpy_preloaded = false;
Mt19937State* g_numpy_state = nullptr;  // null: the runner reseeds numpy in Python

// The state of `generator` (numpy.random.mtrand._rand._bit_generator, from the runner's
// after_preload()) when it is laid out as expected and holds the key in the runner's
// `_numpy_key_bytes`; nullptr otherwise (any Python error is cleared).
Mt19937State* FindNumpyState(PyObject* generator) {
  Mt19937State* found = nullptr;
  PyObject* capsule = PyObject_GetAttrString(generator, "capsule");
  PyObject* key = PyObject_GetAttrString(g_runner, "_numpy_key_bytes");
  if (capsule != nullptr && key != nullptr && PyCapsule_CheckExact(capsule) != 0) {
    auto* bit_generator =
        static_cast<NumpyBitGenerator*>(PyCapsule_GetPointer(capsule, "BitGenerator"));
    Py_buffer view{};
    if (bit_generator != nullptr && bit_generator->state != nullptr &&
        PyObject_GetBuffer(key, &view, PyBUF_SIMPLE) == 0) {
      auto* state = static_cast<Mt19937State*>(bit_generator->state);
      if (view.len == static_cast<Py_ssize_t>(sizeof(state->key)) &&
          std::memcmp(view.buf, state->key, sizeof(state->key)) == 0 &&
          state->pos == static_cast<int>(kMt19937KeyWords)) {
        found = state;
      }
      PyBuffer_Release(&view);
    }
  }
  Py_XDECREF(capsule);
  Py_XDECREF(key);
  PyErr_Clear();
  return found;
}

std::string FetchPythonError() {
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* trace = nullptr;
  PyErr_Fetch(&type, &value, &trace);
  PyErr_NormalizeException(&type, &value, &trace);
  std::string text = "unknown Python error";
  if (value != nullptr) {
    PyObject* str = PyObject_Str(value);
    if (str != nullptr) {
      const char* utf8 = PyUnicode_AsUTF8(str);
      if (utf8 != nullptr) {
        text = std::string(Py_TYPE(value)->tp_name) + ": " + utf8;
      }
      Py_DECREF(str);
    }
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(trace);
  PyErr_Clear();
  return text;
}

Status CheckStatus(PyStatus status, const char* what) {
  if (PyStatus_Exception(status)) {
    return MakeError(ErrorCode::kUnavailable,
                     std::string(what) + ": " + (status.err_msg ? status.err_msg : "failed"));
  }
  return OkStatus();
}

Status LoadRunner() {
  PyObject* code = Py_CompileString(kRunnerSource, "pyexec_runner.py", Py_file_input);
  if (code == nullptr) {
    return MakeError(ErrorCode::kUnavailable, "compiling the runner: " + FetchPythonError());
  }
  g_runner = PyImport_ExecCodeModule(kRunnerModule, code);
  Py_DECREF(code);
  if (g_runner == nullptr) {
    return MakeError(ErrorCode::kUnavailable, "loading the runner: " + FetchPythonError());
  }
  return OkStatus();
}

}  // namespace

Status StartInterpreter(const std::vector<std::string>& preload, bool huge_page_arenas) {
  // No fastbins: freed small chunks are coalesced at once instead of waiting in bins that a
  // child's first large allocation would consolidate, writing to (so copying) pages across the
  // whole shared heap. Python's small objects come from its own allocator anyway.
  mallopt(M_MXFAST, 0);
  if (huge_page_arenas) {
    InstallArenaAllocator();  // before any arena exists
  }
  PyPreConfig preconfig;
  PyPreConfig_InitIsolatedConfig(&preconfig);
  preconfig.utf8_mode = 1;
  if (Status s = CheckStatus(Py_PreInitialize(&preconfig), "Py_PreInitialize"); !s.ok()) {
    return s;
  }
  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  // Behave like Debian's /usr/bin/python3 -I: its prefix, its site-packages (dist-packages),
  // nothing from the environment, no user site, no bytecode written.
  config.install_signal_handlers = 1;
  config.buffered_stdio = 0;  // a print followed by os._exit() is still captured
  config.write_bytecode = 0;
  config.parse_argv = 0;
  config.site_import = 1;
  Status status = CheckStatus(
      PyConfig_SetString(&config, &config.program_name, L"/usr/bin/python3"), "program_name");
  if (status.ok()) {
    status = CheckStatus(PyConfig_SetString(&config, &config.executable, L"/usr/bin/python3"),
                         "executable");
  }
  if (status.ok()) {
    status = CheckStatus(Py_InitializeFromConfig(&config), "Py_InitializeFromConfig");
  }
  PyConfig_Clear(&config);
  if (!status.ok()) {
    return status;
  }
  if (Status s = LoadRunner(); !s.ok()) {
    return s;
  }
  for (const std::string& name : preload) {
    PyObject* module = PyImport_ImportModule(name.c_str());
    if (module == nullptr) {
      return MakeError(ErrorCode::kUnavailable,
                       "preloading module '" + name + "': " + FetchPythonError());
    }
    Py_DECREF(module);
  }
  PyObject* generator = PyObject_CallMethod(g_runner, "after_preload", nullptr);
  if (generator == nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     "the runner's after_preload(): " + FetchPythonError());
  }
  if (PyObject* stopped = PyObject_GetAttrString(g_runner, "library_warm_up_error")) {
    if (PyUnicode_Check(stopped)) {
      const char* why = PyUnicode_AsUTF8(stopped);
      LogWarning(std::string("the numpy/pandas warm-up stopped (the first calls of executions copy "
                             "more pages; nothing else changes): ") +
                 (why != nullptr ? why : "?"));
    }
    Py_DECREF(stopped);
  }
  PyErr_Clear();
  if (generator != Py_None) {
    g_numpy_preloaded = true;
    g_numpy_state = FindNumpyState(generator);
  }
  if (g_numpy_state != nullptr) {
    g_numpy_generator = generator;
  } else {
    Py_DECREF(generator);
  }
  // Everything allocated so far is shared copy-on-write with every child: move it out of the
  // collector's reach so that a child's collections never touch (and copy) those pages.
  if (PyRun_SimpleString("import gc; gc.collect(); gc.freeze()") != 0) {
    return MakeError(ErrorCode::kUnavailable, "gc.freeze() failed");
  }
  // Coalesce malloc's free chunks now, once: otherwise a child's first large allocation does
  // it (malloc_consolidate), writing to, and so copying, pages all over the shared heap. Freed
  // pages go back to the kernel, leaving fewer page-table entries to copy on every fork.
  malloc_trim(0);
  return OkStatus();
}

sys::HugePageReport CollapseArenas(const sys::KeepGoing& keep_going) {
  return g_arenas.Collapse(keep_going);
}

NumpyReseed HowNumpyIsReseeded() {
  if (!g_numpy_preloaded) {
    return NumpyReseed::kNoNumpy;
  }
  return g_numpy_state != nullptr ? NumpyReseed::kInC : NumpyReseed::kThroughRunner;
}

void BeforeFork() { PyOS_BeforeFork(); }
void AfterForkInParent() { PyOS_AfterFork_Parent(); }
void AfterForkInChild() {
  g_arenas.Seal();
  PyOS_AfterFork_Child();
}

bool PrepareRunner(bool warm_up) {
  // numpy's key straight from the kernel into its generator: one or two pages written, where
  // numpy.random.set_state runs code that copies ~100 shared pages in every child.
  bool numpy_reseeded = false;
  if (g_numpy_state != nullptr && sys::FillRandom(g_numpy_state->key, sizeof(g_numpy_state->key))) {
    g_numpy_state->pos = static_cast<int>(kMt19937KeyWords);
    numpy_reseeded = true;
  }
  PyObject* result = PyObject_CallMethod(
      g_runner, "prepare", "OO", numpy_reseeded ? Py_True : Py_False, warm_up ? Py_True : Py_False);
  if (result == nullptr) {
    PyErr_Print();
    _exit(70);
  }
  const bool warmed_up = result == Py_True;
  Py_DECREF(result);
  return warmed_up;
}

void RunRunnerAndExit(int result_fd, int script_fd, uint64_t result_limit, bool idle_exit) {
  PyObject* result =
      PyObject_CallMethod(g_runner, "run", "iiK", result_fd, script_fd,
                          // NOLINTNEXTLINE(google-runtime-int): "K" is unsigned long long
                          static_cast<unsigned long long>(result_limit));
  if (result == nullptr) {
    // The runner itself failed (not the script: the runner catches everything the script
    // raises). Say so on stderr and exit with a code the server will not mistake for success.
    PyErr_Print();
    _exit(70);
  }
  Py_DECREF(result);
  if (idle_exit) {
    // The result is written: the server's threads answering it are woken, and on a busy core
    // they would wait behind this process's exit (unmapping what it shares with the zygote,
    // ~1.5 ms). SCHED_IDLE yields to them at once and is preempted by every wake-up after;
    // its exit runs when they are done. Best effort: without it the exit is the old one.
    sched_param param{};
    if (sched_setscheduler(0, SCHED_IDLE, &param) == 0) {
      (void)sched_yield();
    }
  }
  _exit(0);
}

std::string PythonVersion() {
  const char* full = Py_GetVersion();
  std::string version(full);
  return version.substr(0, version.find(' '));
}

}  // namespace pyexec::zygote
