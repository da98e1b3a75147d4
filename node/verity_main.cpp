#include "node/cli.h"

int main(int argc, char** argv) {
  verity::node::CliProgram program{"verity", "the Verity client: signs locally, talks JSON-RPC", {}};
  return verity::node::run_cli(program, argc, argv);
}
