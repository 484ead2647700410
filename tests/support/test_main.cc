// main() of the test programs that run executions: the engine execs /proc/self/exe as its
// zygote, so this binary must be able to become one before gtest starts.
#include <gtest/gtest.h>

#include "zygote/zygote_main.h"

int main(int argc, char** argv) {
  if (pyexec::zygote::IsZygoteInvocation(argc, argv)) {
    pyexec::zygote::ZygoteEntry(argc, argv);
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
