// rpc-docs: prints docs/rpc.md (or, with --openrpc, the OpenRPC document)
// from the method table, so the reference is never written by hand.
#include <cstring>
#include <iostream>

#include "rpc/methods.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--openrpc") == 0) {
    std::cout << verity::rpc::openrpc_document() << "\n";
    return 0;
  }
  std::cout << verity::rpc::markdown_reference();
  return 0;
}
