#include "zygote/embedded_python.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <unistd.h>

#include "runner_source.h"  // generated: kRunnerSource

namespace pyexec::zygote {
namespace {

constexpr char kRunnerModule[] = "pyexec_runner";
PyObject* g_runner = nullptr;  // the runner module, alive for the zygote's lifetime

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

Status StartInterpreter(const std::vector<std::string>& preload) {
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
  // Everything allocated so far is shared copy-on-write with every child: move it out of the
  // collector's reach so that a child's collections never touch (and copy) those pages.
  if (PyRun_SimpleString("import gc; gc.collect(); gc.freeze()") != 0) {
    return MakeError(ErrorCode::kUnavailable, "gc.freeze() failed");
  }
  return OkStatus();
}

void BeforeFork() { PyOS_BeforeFork(); }
void AfterForkInParent() { PyOS_AfterFork_Parent(); }
void AfterForkInChild() { PyOS_AfterFork_Child(); }

void RunRunnerAndExit(int result_fd, int script_fd, uint64_t result_limit) {
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
  _exit(0);
}

std::string PythonVersion() {
  const char* full = Py_GetVersion();
  std::string version(full);
  return version.substr(0, version.find(' '));
}

}  // namespace pyexec::zygote
