#include "node/cli.h"

int main(int argc, char** argv) {
  verity::node::CliProgram program{"verity-worker", "runs the WASM tasks assigned to its key", {}};
  return verity::node::run_cli(program, argc, argv);
}
