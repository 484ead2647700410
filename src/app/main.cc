// pyexec's entry point. The zygote entry is decided first, before anything else runs, so the
// zygote process starts with nothing of the server initialised.
#include <string_view>

#include "app/cli.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "__zygote") {
    pyexec::app::ZygoteEntry(argc, argv);
  }
  return pyexec::app::RunCli(argc, argv);
}
