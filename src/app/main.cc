// pyexec's entry point. The zygote entry is decided first, before anything else runs, so the
// zygote process starts with nothing of the server initialised.
#include "app/cli.h"
#include "zygote/zygote_main.h"

int main(int argc, char** argv) {
  if (pyexec::zygote::IsZygoteInvocation(argc, argv)) {
    pyexec::zygote::ZygoteEntry(argc, argv);
  }
  return pyexec::app::RunCli(argc, argv);
}
