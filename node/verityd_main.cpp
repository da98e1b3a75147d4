#include "node/cli.h"

int main(int argc, char** argv) {
  verity::node::CliProgram program{"verityd", "the Verity validator node", {}};
  return verity::node::run_cli(program, argc, argv);
}
